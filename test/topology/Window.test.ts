import { describe, expect, it } from "vitest"
import { WindowBuffer } from "../../src/topology/Window.ts"

const limits = { maxRecords: 3, maxBytes: 100, maxAgeMs: 1_000 }

describe("WindowBuffer", () => {
  it("is empty until an offset enters, and has no deadline then", () => {
    const w = new WindowBuffer<number>("t", 0, 10)
    expect(w.isEmpty).toBe(true)
    expect(w.deadline(limits)).toBe(Number.POSITIVE_INFINITY)
    w.cover(12, 5_000)
    expect(w.isEmpty).toBe(false)
    expect(w.deadline(limits)).toBe(6_000)
    w.cover(15, 5_500)
    expect(w.deadline(limits)).toBe(6_000)
    expect(w.close()).toMatchObject({ from: 10, to: 15, openedAt: 5_000 })
  })

  it("is full on records or on bytes, whichever comes first", () => {
    const w = new WindowBuffer<number>("t", 0, 0)
    w.records.push({ value: 1, partition: 0, offset: 0, timestamp: 0 }, { value: 2, partition: 0, offset: 1, timestamp: 0 })
    expect(w.isFull(limits)).toBe(false)
    w.deadLetters.push({ topic: "t", partition: 0, offset: 2, timestamp: 0, key: null, raw: null, kind: "empty", error: "empty" })
    expect(w.isFull(limits)).toBe(true)
    const b = new WindowBuffer<number>("t", 0, 0)
    b.bytes = 100
    expect(b.isFull(limits)).toBe(true)
  })
})
