import { randomBytes } from "node:crypto"
import { describe, expect, it } from "vitest"
import { newClusterId } from "../../../src/ops/stack/KafkaBroker.ts"

/** A byte source that hands out `draws` in turn, and counts how many it handed out. */
const scripted = (draws: ReadonlyArray<ReadonlyArray<number>>) => {
  let used = 0
  const random = (size: number): Uint8Array => {
    const draw = draws[used++]
    if (draw === undefined || draw.length !== size) throw new Error(`no scripted draw of ${size} bytes left`)
    return Uint8Array.from(draw)
  }
  return { random, used: () => used }
}

// 0xf8 as the first byte puts 0b111110 (62, "-" in base64url) in the first character.
const dashFirst = [0xf8, ...Array.from({ length: 15 }, () => 0x11)]
const plain = Array.from({ length: 16 }, (_, i) => i * 16 + 1)

describe("newClusterId", () => {
  it("draws again when the id would start with '-', which kafka-storage reads as an option", () => {
    const source = scripted([dashFirst, dashFirst, plain])
    const id = newClusterId(source.random)
    expect(source.used()).toBe(3)
    expect(id).toBe(Buffer.from([0x01, 0x11, 0x21, 0x31, 0x41, 0x51, 0x41, 0x71, 0x81, 0x91, 0xa1, 0xb1, 0xc1, 0xd1, 0xe1, 0xf1]).toString("base64url"))
  })

  it("is a version-4, variant-2 UUID of 16 bytes in 22 unpadded base64url characters, as Kafka's Uuid", () => {
    const id = newClusterId(scripted([Array.from({ length: 16 }, () => 0xff)]).random)
    const bytes = Buffer.from(id, "base64url")
    expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/)
    expect(bytes.length).toBe(16)
    expect(bytes[6]! >> 4).toBe(4)
    expect(bytes[8]! >> 6).toBe(0b10)
  })

  it("never starts with '-' over 20,000 ids from the real random source", () => {
    // With the first character uniform over 64 symbols, 20,000 unchecked ids all avoid '-' with
    // probability (63/64)^20000 ≈ 1e-137.
    const ids = Array.from({ length: 20_000 }, () => newClusterId(randomBytes))
    expect(ids.filter((id) => id.startsWith("-"))).toEqual([])
    expect(new Set(ids).size).toBe(20_000)
  })
})
