/**
 * Hive-style date partitions of the lake (`year=2026/month=11/day=05`), computed in UTC from
 * epoch millis, and the matching Delta partition columns and values.
 */
import { type CivilDate, FIRST_STORABLE_MS, LAST_STORABLE_MS, utcDate } from "../../domain/CivilDate.ts"
import type { PartitionColumn } from "./Columns.ts"

export type DatePartition = CivilDate

/** The UTC calendar date of an instant. */
export const datePartition: (epochMs: number) => DatePartition = utcDate

/**
 * An instant moved into the years 1000 to 9999 (UTC), to the nearest bound: the partitioning
 * instant of a row whose own instant may be anything, as a Kafka timestamp (-1, -9e15…) may be.
 * Dates of those years make four-digit `year=` folders that sort, and that every engine reads.
 */
export const clampPartitionTime = (epochMs: number): number =>
  epochMs >= FIRST_STORABLE_MS ? (epochMs <= LAST_STORABLE_MS ? epochMs : LAST_STORABLE_MS) : FIRST_STORABLE_MS

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

/**
 * How a feed's date folders are spelled: `year=/month=/day=` integers (the transaction feeds), or
 * one `jour=YYYY-MM-DD` date column (the sales feeds, as the lakehouse seed partitions them).
 */
export type DateFolders = "ymd" | "jour"

const dayText = (p: DatePartition): string => `${p.year}-${pad2(p.month)}-${pad2(p.day)}`

/** The partition columns, folder and Delta partition values of a date, in a style. */
export const dateFolders = {
  ymd: { columns: datePartitionColumns, path: partitionPath, values: partitionValues },
  jour: {
    columns: [{ name: "jour", type: "date" }] as ReadonlyArray<PartitionColumn>,
    path: (p: DatePartition) => `jour=${dayText(p)}`,
    values: (p: DatePartition): Record<string, string> => ({ jour: dayText(p) })
  }
} as const
