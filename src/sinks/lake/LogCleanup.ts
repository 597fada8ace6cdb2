/**
 * Delta log cleanup, as Delta's `delta.logRetentionDuration` does it: which commit and checkpoint
 * files of `_delta_log/` may go once a later checkpoint lets every reader start after them; and how
 * long a checkpoint carries the tombstones of removed files (`delta.deletedFileRetentionDuration`).
 */
import type { MetaData } from "./DeltaAction.ts"

/** A file of `_delta_log/` that belongs to one version: its commit, its classic checkpoint, or another engine's file of it (a `.crc`, a multi-part checkpoint). */
export interface LogFile {
  readonly key: string
  readonly version: number
  readonly kind: "commit" | "checkpoint" | "other"
  /** Epoch millis of its last write. */
  readonly lastModified: number
  readonly size: number
}

/** The table property naming how long log files are kept; Delta's default is 30 days. */
export const LOG_RETENTION_PROPERTY = "delta.logRetentionDuration"
/** The table property that turns the cleanup after each checkpoint off (`"false"`), as in Delta. */
export const LOG_CLEANUP_PROPERTY = "delta.enableExpiredLogCleanup"
export const DEFAULT_LOG_RETENTION_MS = 30 * 24 * 3_600_000

const UNIT_MS: Readonly<Record<string, number>> = {
  millisecond: 1,
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 24 * 3_600_000,
  week: 7 * 24 * 3_600_000
}

/**
 * Parses a Delta interval (`interval 30 days`, `7 days`, `interval 1 day 12 hours`) into millis;
 * undefined when it is not one. Months and years are refused, as Delta refuses them for
 * retentions: their length varies.
 */
export const parseInterval = (text: string): number | undefined => {
  const parts = text.trim().toLowerCase().replace(/^interval\s+/, "").split(/\s+/)
  if (parts.length === 0 || parts.length % 2 !== 0) return undefined
  let ms = 0
  for (let i = 0; i < parts.length; i += 2) {
    const count = Number(parts[i])
    const unit = UNIT_MS[parts[i + 1]!.replace(/s$/, "")]
    if (!Number.isFinite(count) || count < 0 || unit === undefined) return undefined
    ms += count * unit
  }
  return ms
}

/** How long a table keeps its log files: its `delta.logRetentionDuration`, else 30 days; an error names a value that is not an interval. */
export const logRetentionOf = (metaData: MetaData | undefined): number | Error => {
  const value = metaData?.configuration[LOG_RETENTION_PROPERTY]
  if (value === undefined) return DEFAULT_LOG_RETENTION_MS
  return parseInterval(value) ?? new Error(`${LOG_RETENTION_PROPERTY} = ${JSON.stringify(value)} is not an interval such as "interval 30 days"`)
}

/** The table property naming how long checkpoints keep a removed file's tombstone; Delta's default is one week. */
export const TOMBSTONE_RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"
export const DEFAULT_TOMBSTONE_RETENTION_MS = 7 * 24 * 3_600_000

/**
 * How long a checkpoint keeps tombstones: the table's `delta.deletedFileRetentionDuration`, else a
 * week (vacuum's default retention too). A value that is not an interval keeps them all: dropping
 * tombstones early is the unsafe direction.
 */
export const tombstoneRetentionOf = (metaData: MetaData | undefined): number => {
  const value = metaData?.configuration[TOMBSTONE_RETENTION_PROPERTY]
  if (value === undefined) return DEFAULT_TOMBSTONE_RETENTION_MS
  return parseInterval(value) ?? Number.POSITIVE_INFINITY
}

/**
 * How often at most a writer cleans the log after its checkpoints: hourly, or at each checkpoint
 * when the retention is shorter. Files expire by the hour at the finest, and the cleanup lists the
 * whole log.
 */
export const CLEANUP_EVERY_MS = 3_600_000

/** Whether the writer cleans the log after each checkpoint (Delta's `delta.enableExpiredLogCleanup`, default true). */
export const cleansAfterCheckpoint = (metaData: MetaData | undefined): boolean =>
  metaData?.configuration[LOG_CLEANUP_PROPERTY]?.trim().toLowerCase() !== "false"

/**
 * The files to delete, oldest version first, so that what remains is always a suffix of the log.
 *
 * Cut at the newest checkpoint `c` (at most `latestCheckpoint`, the one `_last_checkpoint` names)
 * such that every log file of a version below `c` was last written before `cutoff`; delete exactly
 * those files. Every version from `c` on stays readable (checkpoint `c` and the commits after it),
 * the latest checkpoint and everything after it always stay, and a file not yet expired keeps all
 * that a reader needs to reach it. Delta Spark's cleanup deletes the same expired prefix (its
 * `BufferingLogDeletionIterator`) but may stop between two checkpoints, leaving versions that
 * no checkpoint reaches; stopping at a checkpoint keeps every remaining version readable.
 */
export const expiredLogFiles = (files: ReadonlyArray<LogFile>, latestCheckpoint: number, cutoff: number): Array<LogFile> => {
  const firstKept = files.reduce((v, f) => (f.lastModified > cutoff ? Math.min(v, f.version) : v), Number.POSITIVE_INFINITY)
  let cut = -1
  for (const f of files) {
    if (f.kind === "checkpoint" && f.version <= latestCheckpoint && f.version <= firstKept) cut = Math.max(cut, f.version)
  }
  return files.filter((f) => f.version < cut)
}
