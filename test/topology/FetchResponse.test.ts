import { createRecordsBatch, readRecordsBatches, Reader } from "@platformatic/kafka"
import { describe, expect, it } from "vitest"
import { makeRandom } from "../../src/domain/Generator.ts"
import { readBatches } from "../../src/topology/FetchResponse.ts"

type Compression = "none" | "gzip" | "snappy" | "lz4" | "zstd"

/** A batch of `count` messages as a producer writes it, its first offset set to `firstOffset`. */
const batch = (random: () => number, firstOffset: number, count: number, compression: Compression, transactional = false): Buffer => {
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)))
  const messages = Array.from({ length: count }, (_, i) => {
    const headers = new Map<Buffer, Buffer>()
    if (random() < 0.2) headers.set(bytes(3), bytes(Math.floor(random() * 20)))
    return {
      topic: "t",
      partition: 0,
      // Deltas of either sign, small and beyond 32 bits.
      timestamp: 1_700_000_000_000n + BigInt(i * (random() < 0.1 ? -3_000_000_000 : 7)),
      ...(random() < 0.3 ? {} : { key: bytes(Math.floor(random() * 40)) }),
      value: bytes(random() < 0.05 ? 0 : Math.floor(random() * (random() < 0.1 ? 20_000 : 600))),
      headers
    }
  })
  const buffer = Buffer.from(
    createRecordsBatch(messages, {
      compression,
      producerId: transactional ? 7n : -1n,
      producerEpoch: 1,
      sequences: undefined as never,
      partitionLeaderEpoch: 3,
      ...(transactional ? { transactionalId: "tx" } : {})
    }).buffer
  )
  buffer.writeBigInt64BE(BigInt(firstOffset), 0)
  return buffer
}

/** The client's reading, its timestamp deltas as numbers. */
const reference = (buffer: Buffer) =>
  readRecordsBatches(Reader.from(buffer)).map((b) => ({
    ...b,
    records: b.records.map((r) => ({ ...r, timestampDelta: Number(r.timestampDelta), key: r.key === null ? null : Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value) }))
  }))

/** The bytes cut in chunks of random sizes, some empty, as a socket may deliver them. */
const chunked = (random: () => number, buffer: Buffer): Array<Buffer> => {
  const chunks: Array<Buffer> = []
  for (let at = 0; at < buffer.length;) {
    const size = random() < 0.1 ? 0 : 1 + Math.floor(random() * (random() < 0.5 ? 70 : 5000))
    chunks.push(buffer.subarray(at, at + size))
    at += size
  }
  return chunks
}

const ours = (buffer: Buffer | Array<Buffer>) =>
  readBatches(buffer).map((b) => ({
    ...b,
    records: b.records.map((r) => ({ ...r, key: r.key === null ? null : Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value) }))
  }))

describe("readBatches", () => {
  for (const compression of ["none", "gzip", "snappy", "lz4", "zstd"] as const) {
    it(`reads what the client reads, ${compression}`, () => {
      const random = makeRandom(compression.length)
      for (let round = 0; round < 20; round++) {
        const parts: Array<Buffer> = []
        let offset = Math.floor(random() * 1e6)
        for (let b = 0; b < 1 + Math.floor(random() * 4); b++) {
          const count = 1 + Math.floor(random() * 50)
          parts.push(batch(random, offset, count, compression, random() < 0.3))
          offset += count
        }
        const whole = Buffer.concat(parts)
        expect(ours(whole)).toEqual(reference(whole))
        expect(ours(chunked(random, whole))).toEqual(reference(whole))
        // A fetch may end inside a batch: only whole batches are read.
        const cut = whole.subarray(0, whole.length - 1 - Math.floor(random() * 20))
        expect(ours(cut)).toEqual(reference(cut))
        expect(ours(cut)).toHaveLength(parts.length - 1)
        expect(ours(chunked(random, cut))).toEqual(reference(cut))
      }
    })
  }

  it("reads nothing of fewer bytes than a batch head", () => {
    expect(readBatches(Buffer.alloc(0))).toEqual([])
    expect(readBatches(Buffer.alloc(11))).toEqual([])
  })
})
