import { describe, expect, it } from "vitest"
import { makeRandom } from "../../../src/domain/Generator.ts"
import { clampPartitionTime, datePartition, partitionPath, partitionValues } from "../../../src/sinks/lake/HivePartition.ts"

describe("datePartition", () => {
  it("agrees with Date's UTC calendar over 400 years of random instants", () => {
    const random = makeRandom(7)
    for (let i = 0; i < 100_000; i++) {
      const ms = Math.floor((random() - 0.3) * 1e13)
      const d = new Date(ms)
      expect(datePartition(ms)).toEqual({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() })
    }
  })

  it("puts the last millisecond of a day in that day (UTC)", () => {
    expect(datePartition(Date.UTC(2026, 10, 22, 23, 59, 59, 999))).toEqual({ year: 2026, month: 11, day: 22 })
    expect(datePartition(Date.UTC(2026, 10, 23))).toEqual({ year: 2026, month: 11, day: 23 })
    expect(datePartition(Date.UTC(2024, 1, 29, 12))).toEqual({ year: 2024, month: 2, day: 29 })
  })
})

describe("partition paths", () => {
  it("zero-pads month and day in the folder and keeps integers in the Delta values", () => {
    const p = { year: 2026, month: 3, day: 5 }
    expect(partitionPath(p)).toBe("year=2026/month=03/day=05")
    expect(partitionValues(p)).toEqual({ year: "2026", month: "3", day: "5" })
    expect(partitionPath({ year: 2026, month: 11, day: 22 })).toBe("year=2026/month=11/day=22")
  })
})

describe("clampPartitionTime", () => {
  it.each([
    [-9e15, "year=1000/month=01/day=01"],
    [Date.UTC(999, 11, 31, 23, 59, 59, 999), "year=1000/month=01/day=01"],
    [Number.MIN_SAFE_INTEGER, "year=1000/month=01/day=01"],
    [-1, "year=1969/month=12/day=31"],
    [Date.UTC(1000, 0, 1), "year=1000/month=01/day=01"],
    [Date.UTC(9999, 11, 31, 23, 59, 59, 999), "year=9999/month=12/day=31"],
    [Date.UTC(10000, 0, 1), "year=9999/month=12/day=31"],
    [9e18, "year=9999/month=12/day=31"]
  ])("files instant %d under %s, the nearest date of the years 1000 to 9999", (ms, folder) => {
    expect(partitionPath(datePartition(clampPartitionTime(ms)))).toBe(folder)
  })

  it("leaves instants of the years 1000 to 9999 as they are", () => {
    for (const ms of [Date.UTC(1000, 0, 1), -1, 0, Date.UTC(2026, 10, 22, 10), Date.UTC(9999, 11, 31, 23, 59, 59, 999)]) expect(clampPartitionTime(ms)).toBe(ms)
  })
})
