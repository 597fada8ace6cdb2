import { IS_CONTROL, IS_TRANSACTIONAL, type RecordsBatch } from "@platformatic/kafka"
import { describe, expect, it } from "vitest"
import { readCommitted } from "../../src/topology/ReadCommitted.ts"

/** A data batch of `count` records from `first`, by producer `pid` (transactional when pid >= 0). */
const data = (first: number, count: number, pid = -1): RecordsBatch => ({
  firstOffset: BigInt(first),
  length: 0,
  partitionLeaderEpoch: 0,
  magic: 2,
  crc: 0,
  attributes: pid >= 0 ? IS_TRANSACTIONAL : 0,
  lastOffsetDelta: count - 1,
  firstTimestamp: 1_000n,
  maxTimestamp: 1_000n + BigInt(count - 1),
  producerId: BigInt(pid),
  producerEpoch: 0,
  firstSequence: 0,
  records: Array.from({ length: count }, (_, i) => ({
    length: 0,
    attributes: 0,
    timestampDelta: BigInt(i),
    offsetDelta: i,
    key: null,
    value: Buffer.from(`v${first + i}`),
    headers: []
  }))
})

/** A transaction marker at `offset`: abort (type 0) or commit (type 1). */
const marker = (offset: number, pid: number, commit: boolean): RecordsBatch => {
  const key = Buffer.alloc(4)
  key.writeInt16BE(0, 0)
  key.writeInt16BE(commit ? 1 : 0, 2)
  return {
    ...data(offset, 1, pid),
    attributes: IS_TRANSACTIONAL | IS_CONTROL,
    records: [{ length: 0, attributes: 0, timestampDelta: 0n, offsetDelta: 0, key, value: Buffer.alloc(6), headers: [] }]
  }
}

const aborted = (pid: number, first: number) => ({ producerId: BigInt(pid), firstOffset: BigInt(first) })
const offsets = (r: ReturnType<typeof readCommitted>) => r.records.map((x) => x.offset)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe("readCommitted", () => {
  it("skips every aborted transaction of a producer, not only its last one", () => {
    // Producer 7: aborted 0..2 (marker 3), committed 4..6 (marker 7), aborted 8..10 (marker 11).
    const batches = [data(0, 3, 7), marker(3, 7, false), data(4, 3, 7), marker(7, 7, true), data(8, 3, 7), marker(11, 7, false)]
    const read = readCommitted(batches, [aborted(7, 0), aborted(7, 8)], 0, 12)
    expect(offsets(read)).toEqual([4, 5, 6])
    expect(read.nextOffset).toBe(12)
  })

  it("skips an aborted transaction whose marker lies past the response", () => {
    // The response ends before producer 3's abort marker: its batches are still aborted.
    const batches = [data(0, 2), data(2, 4, 3), data(6, 2)]
    const read = readCommitted(batches, [aborted(3, 2)], 0, 20)
    expect(offsets(read)).toEqual([0, 1, 6, 7])
    expect(read.nextOffset).toBe(8)
  })

  it("tells interleaved producers apart: one's abort never drops the other's committed records", () => {
    const batches = [data(0, 2, 1), data(2, 2, 2), data(4, 2, 1), marker(6, 1, false), data(7, 2, 2), marker(9, 2, true)]
    const read = readCommitted(batches, [aborted(1, 0)], 0, 10)
    expect(offsets(read)).toEqual([2, 3, 7, 8])
  })

  it("does not treat a producer's later transaction as aborted once its abort marker is crossed", () => {
    const batches = [data(0, 2, 5), marker(2, 5, false), data(3, 2, 5), marker(5, 5, true)]
    expect(offsets(readCommitted(batches, [aborted(5, 0)], 0, 6))).toEqual([3, 4])
  })

  it("reads nothing at or past the last stable offset, and resumes there", () => {
    const batches = [data(0, 5), data(5, 5, 9)]
    const read = readCommitted(batches, [], 0, 5)
    expect(offsets(read)).toEqual(range(0, 4))
    expect(read.nextOffset).toBe(5)
    // A batch straddling the bound is cut at it.
    const straddling = readCommitted([data(0, 10)], [], 0, 7)
    expect(offsets(straddling)).toEqual(range(0, 6))
    expect(straddling.nextOffset).toBe(7)
  })

  it("crosses control batches and skips records before the offset asked for", () => {
    const batches = [data(0, 4, 2), marker(4, 2, true), data(5, 3)]
    const read = readCommitted(batches, [], 2, 100)
    expect(offsets(read)).toEqual([2, 3, 5, 6, 7])
    expect(read.nextOffset).toBe(8)
  })

  it("takes a record's timestamp from the broker when the batch says LogAppendTime", () => {
    const batch = { ...data(0, 3), attributes: 1 << 3, maxTimestamp: 99_000n }
    expect(readCommitted([batch], [], 0, -1).records.map((r) => r.timestamp)).toEqual([99_000, 99_000, 99_000])
    expect(readCommitted([data(0, 3)], [], 0, -1).records.map((r) => r.timestamp)).toEqual([1_000, 1_001, 1_002])
  })
})
