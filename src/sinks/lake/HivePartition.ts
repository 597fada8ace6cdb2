/**
 * Hive-style date partitions of the lake (`year=2026/month=11/day=05`), computed in UTC from
 * epoch millis, and the matching Delta partition columns and values.
 */
import type { PartitionColumn } from "./Columns.ts"

export interface DatePartition {
  readonly year: number
  readonly month: number
  readonly day: number
}

const DAY_MS = 86_400_000

/** The UTC calendar date of an instant (civil-from-days, without allocating a Date). */
export const datePartition = (epochMs: number): DatePartition => {
  const z = Math.floor(epochMs / DAY_MS) + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  return { year, month, day }
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

/** The folder of a date partition, zero-padded so that folders sort by date. */
export const partitionPath = (p: DatePartition): string => `year=${p.year}/month=${pad2(p.month)}/day=${pad2(p.day)}`

/** A sortable key of a date partition (yyyymmdd). */
export const partitionKey = (p: DatePartition): number => p.year * 10_000 + p.month * 100 + p.day

/** Delta partition columns of a date-partitioned table. */
export const datePartitionColumns: ReadonlyArray<PartitionColumn> = [
  { name: "year", type: "integer" },
  { name: "month", type: "integer" },
  { name: "day", type: "integer" }
]

/** The Delta `partitionValues` of a date partition: integers serialized as the protocol does. */
export const partitionValues = (p: DatePartition): Record<string, string> => ({
  year: String(p.year),
  month: String(p.month),
  day: String(p.day)
})
