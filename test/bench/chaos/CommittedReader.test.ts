import { IS_CONTROL, IS_TRANSACTIONAL, type RecordsBatch } from "@platformatic/kafka"
import { describe, expect, it } from "vitest"
import { committedRecords } from "../../../bench/chaos/CommittedReader.ts"

const batch = (firstOffset: number, count: number, options: { producerId?: number; transactional?: boolean } = {}): RecordsBatch => ({
  firstOffset: BigInt(firstOffset),
  length: 0,
  partitionLeaderEpoch: 0,
  magic: 2,
  crc: 0,
  attributes: options.transactional === true ? IS_TRANSACTIONAL : 0,
  lastOffsetDelta: count - 1,
  firstTimestamp: 0n,
  maxTimestamp: 0n,
  producerId: BigInt(options.producerId ?? -1),
  producerEpoch: 0,
  firstSequence: 0,
  records: Array.from({ length: count }, (_, i) => ({
    length: 0,
    attributes: 0,
    timestampDelta: 0n,
    offsetDelta: i,
    key: Buffer.from(`k${firstOffset + i}`),
    value: Buffer.from("{}"),
    headers: []
  }))
})

/** A transaction marker: a control batch of one record whose key is (version 0, type). */
const marker = (offset: number, producerId: number, type: "abort" | "commit"): RecordsBatch => {
  const key = Buffer.alloc(4)
  key.writeInt16BE(0, 0)
  key.writeInt16BE(type === "abort" ? 0 : 1, 2)
  const b = batch(offset, 1, { producerId, transactional: true })
  return { ...b, attributes: IS_CONTROL | IS_TRANSACTIONAL, records: [{ ...b.records[0]!, key, value: Buffer.alloc(6) }] }
}

// 0..2 plain; producer 7 aborts 3..4 (marker 5), commits 6..7 (marker 8); producer 9 aborts 9..10 while
// producer 7 commits 11..12 in between (markers 13 and 14).
const log = [
  batch(0, 3, { producerId: 4 }),
  batch(3, 2, { producerId: 7, transactional: true }),
  marker(5, 7, "abort"),
  batch(6, 2, { producerId: 7, transactional: true }),
  marker(8, 7, "commit"),
  batch(9, 2, { producerId: 9, transactional: true }),
  batch(11, 2, { producerId: 7, transactional: true }),
  marker(13, 9, "abort"),
  marker(14, 7, "commit")
]
const aborted = [{ producerId: 9n, firstOffset: 9n }, { producerId: 7n, firstOffset: 3n }]

describe("committedRecords", () => {
  it("keeps plain and committed records, drops aborted ones and every marker, as a read_committed consumer", () => {
    const { records, next } = committedRecords(2, log, aborted, 0)
    expect(records.map((r) => r.offset)).toEqual([0, 1, 2, 6, 7, 11, 12])
    expect(records[3]).toEqual({ partition: 2, offset: 6, key: "k6" })
    expect(next).toBe(15)
  })

  it("drops the records before the offset asked for", () => {
    expect(committedRecords(0, log, aborted, 7).records.map((r) => r.offset)).toEqual([7, 11, 12])
  })

  it("keeps a transaction whose abort the broker did not list: only the list says a transaction was aborted", () => {
    expect(committedRecords(0, log, null, 0).records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 6, 7, 9, 10, 11, 12])
  })
})
