import { describe, expect, it } from "vitest"
import type { RecordId } from "../../../bench/chaos/CommittedReader.ts"
import { countRecords, type LakeRow } from "../../../bench/chaos/Counting.ts"

const record = (partition: number, offset: number, key = `tx-${partition}-${offset}`): RecordId => ({ partition, offset, key })
const row = (r: RecordId, options: { deadLetter?: boolean; counted?: boolean } = {}): LakeRow => ({
  ...r,
  deadLetter: options.deadLetter ?? false,
  counted: options.counted ?? !(options.deadLetter ?? false)
})

// Partition 0 offsets 0..4 and partition 1 offsets 0..2.
const produced = [...[0, 1, 2, 3, 4].map((o) => record(0, o)), ...[0, 1, 2].map((o) => record(1, o))]

describe("countRecords", () => {
  it("finds nothing wrong when every record is in the lake once, as a row or a dead letter", () => {
    const lake = produced.map((r, i) => row(r, { deadLetter: i === 3, counted: i !== 5 }))
    const { examples, ...counts } = countRecords(produced, lake, 6)
    expect(counts).toEqual({
      produced: 8,
      inLake: 8,
      deadLettered: 1,
      duplicated: 0,
      lost: 0,
      extra: 0,
      inWarehouse: 6,
      warehouseExpected: 6
    })
    expect(examples).toEqual({ lost: [], duplicated: [], extra: [] })
  })

  it("counts a copy in the stream, a record both in the stream and the dead letters, and a lost one", () => {
    const lake = [
      ...produced.filter((r) => !(r.partition === 1 && r.offset === 2)).map((r) => row(r)),
      row(record(0, 1)),
      row(record(0, 4), { deadLetter: true })
    ]
    const counts = countRecords(produced, lake, 8)
    expect([counts.inLake, counts.duplicated, counts.lost, counts.extra]).toEqual([9, 2, 1, 0])
    expect(counts.examples).toEqual({ lost: ["1:2"], duplicated: ["0:1 ×2", "0:4 ×2"], extra: [] })
    // The warehouse should count the 7 distinct produced stream rows; it counted one more.
    expect(counts.warehouseExpected).toBe(7)
  })

  it("tells a recreated topic's records from the old ones at the same offsets by their keys", () => {
    const old = [record(0, 0, "a"), record(0, 1, "b")]
    const recreated = [record(0, 0, "c"), record(0, 1, "d")]
    const onlyOld = countRecords([...old, ...recreated], old.map((r) => row(r)), 2)
    expect([onlyOld.duplicated, onlyOld.lost, onlyOld.examples.lost]).toEqual([0, 2, ["0:0", "0:1"]])
    const both = countRecords([...old, ...recreated], [...old, ...recreated].map((r) => row(r)), 4)
    expect([both.duplicated, both.lost, both.extra, both.warehouseExpected]).toEqual([0, 0, 0, 4])
  })

  it("counts as extra a lake record no read_committed reader got, and leaves it out of the warehouse's expectation", () => {
    const aborted = record(1, 3)
    const counts = countRecords(produced, [...produced.map((r) => row(r)), row(aborted)], 9)
    expect([counts.inLake, counts.extra, counts.lost, counts.duplicated, counts.warehouseExpected]).toEqual([9, 1, 0, 0, 8])
    expect(counts.examples.extra).toEqual(["1:3"])
  })

  it("refuses a reader that delivered one record twice", () => {
    expect(() => countRecords([record(0, 0), record(0, 0)], [], 0)).toThrow(/delivered 0:0 twice/)
  })
})
