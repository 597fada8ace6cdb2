/**
 * Retention: a stream's day partitions older than D days leave the table through ONE Delta commit
 * of `remove` actions (vacuum deletes their files once the vacuum retention has passed, so the
 * versions that still name them stay readable until then); a versioned table keeps the files of its
 * last K snapshots and loses those of older ones, never a file a kept snapshot names. Safe while
 * the service writes: a file removed meanwhile (a compaction rewrote it) makes the commit fail with
 * `FileGone`, and the partitions are planned again.
 */
import { Clock, Effect } from "effect"
import { DAY_MS, daysFromCivil, isoDay } from "../../domain/CivilDate.ts"
import { snapshotNumberOf } from "./Compaction.ts"
import type { Add, Remove } from "./DeltaAction.ts"
import { type DeltaLogError, type DeltaSnapshot, type Fenced, FileGone, openDeltaTable, readSnapshot, recordsOf, stillLive } from "./DeltaLog.ts"
import { writeTableMetadata } from "./Metadata.ts"
import { SNAPSHOTS_APP_ID, snapshotOfPath } from "./Snapshot.ts"
import { folderPrefix, type LakeIOError, parentKey, type Store } from "./store/Store.ts"

/** Days since the epoch of a file's date partition (`year`/`month`/`day`, or `jour`); undefined when it has none. */
export const partitionDay = (values: Readonly<Record<string, string | null>>): number | undefined => {
  const { year, month, day, jour } = values
  if (year != null && month != null && day != null) return daysFromCivil(Number(year), Number(month), Number(day))
  const m = jour == null ? null : /^(\d{4})-(\d\d)-(\d\d)$/.exec(jour)
  return m === null ? undefined : daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]))
}

export interface DroppedPartition {
  /** The partition folder, relative to the table. */
  readonly partition: string
  readonly date: string
  readonly files: number
  readonly rows: number
  readonly bytes: number
}

export interface StreamRetentionReport {
  readonly table: string
  readonly location: string
  /** Partitions dated before this day (UTC) go. */
  readonly before: string
  readonly partitions: ReadonlyArray<DroppedPartition>
  readonly files: number
  readonly rows: number
  readonly bytes: number
  /** The version of the commit that removed them; null in a dry run or when nothing went. */
  readonly version: number | null
}

/** The live files dated before day `cutoff`, by partition folder. */
const expired = (snapshot: DeltaSnapshot, cutoff: number): Map<string, { day: number; adds: Array<Add> }> => {
  const byFolder = new Map<string, { day: number; adds: Array<Add> }>()
  for (const add of snapshot.files.values()) {
    const day = partitionDay(add.partitionValues)
    if (day === undefined || day >= cutoff) continue
    const folder = parentKey(add.path)
    const entry = byFolder.get(folder) ?? { day, adds: [] }
    entry.adds.push(add)
    byFolder.set(folder, entry)
  }
  return new Map([...byFolder].sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** Removes (or with `dryRun` lists) the day partitions of the stream at `root` older than `days` days. */
export const expireStream = (
  store: Store,
  root: string,
  options: { readonly days: number; readonly dryRun: boolean; readonly checkpointInterval: number; readonly attempts?: number }
): Effect.Effect<StreamRetentionReport, LakeIOError | DeltaLogError | Fenced | FileGone> =>
  Effect.gen(function*() {
    const table = store.locate(root)
    const log = yield* openDeltaTable({
      store,
      root,
      checkpointInterval: options.checkpointInterval,
      // Never used: retention only commits to a table that exists.
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      metaData: { id: "", format: { provider: "parquet", options: {} }, schemaString: "{}", partitionColumns: [], configuration: {} }
    })
    const cutoff = Math.floor((yield* Clock.currentTimeMillis) / DAY_MS) - options.days
    const attempts = options.attempts ?? 3
    for (let attempt = 1;; attempt++) {
      const planned = expired(yield* log.snapshot, cutoff)
      const partitions: Array<DroppedPartition> = [...planned].map(([partition, { day, adds }]) => ({
        partition,
        date: isoDay(day),
        files: adds.length,
        rows: adds.reduce((n, a) => n + recordsOf(a), 0),
        bytes: adds.reduce((n, a) => n + a.size, 0)
      }))
      const report = {
        table: root,
        location: table,
        before: isoDay(cutoff),
        partitions,
        files: partitions.reduce((n, p) => n + p.files, 0),
        rows: partitions.reduce((n, p) => n + p.rows, 0),
        bytes: partitions.reduce((n, p) => n + p.bytes, 0)
      }
      if (options.dryRun || partitions.length === 0) return { ...report, version: null }
      const now = yield* Clock.currentTimeMillis
      const removes: Array<Remove> = [...planned.values()].flatMap(({ adds }) =>
        adds.map((a) => ({ path: a.path, deletionTimestamp: now, dataChange: true, extendedFileMetadata: true, partitionValues: a.partitionValues, size: a.size }))
      )
      const version = yield* Effect.uninterruptible(log.commit({
        txns: [],
        adds: [],
        removes,
        operation: "DELETE",
        operationParameters: { predicate: JSON.stringify([`date < ${isoDay(cutoff)}`]) },
        precondition: stillLive(table, removes.map((r) => r.path))
      })).pipe(
        Effect.catchTag("FileGone", (e) =>
          attempt >= attempts
            ? Effect.fail(e)
            : Effect.logInfo(`retention ${table}: ${e.message}; planning again`).pipe(Effect.as(undefined)))
      )
      if (version === undefined) continue
      const after = yield* log.snapshot
      yield* writeTableMetadata(store, root, after, snapshotNumberOf(root, after))
      return { ...report, version }
    }
  })

export interface TableRetentionReport {
  readonly table: string
  readonly location: string
  /** The table's last snapshot; the kept ones are the last `keepVersions` up to it. */
  readonly snapshot: number | null
  readonly keepVersions: number
  /** Files of older snapshots, deleted (or that would be). */
  readonly deleted: ReadonlyArray<{ readonly path: string; readonly snapshot: number; readonly bytes: number }>
  readonly bytes: number
}

/**
 * Deletes (or with `dryRun` lists) the files of a versioned table's snapshots older than its last
 * `keep`: a snapshot's commit removes the previous snapshot's files, so they are no live file, and
 * only versions of the table's past still name them.
 */
export const expireSnapshots = (
  store: Store,
  root: string,
  options: { readonly keep: number; readonly dryRun: boolean }
): Effect.Effect<TableRetentionReport, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const snapshot = yield* readSnapshot(store, root)
    const last = snapshot.txns.get(SNAPSHOTS_APP_ID)
    const deleted: Array<{ path: string; snapshot: number; bytes: number }> = []
    if (last !== undefined) {
      const prefix = folderPrefix(root)
      for (const object of yield* store.list(prefix)) {
        const file = object.key.slice(prefix.length)
        const n = snapshotOfPath(file)
        if (n === undefined || !file.endsWith(".parquet") || n > last - options.keep || snapshot.files.has(file)) continue
        if (!options.dryRun) yield* store.delete(object.key)
        deleted.push({ path: file, snapshot: n, bytes: object.size })
      }
      if (!options.dryRun) yield* writeTableMetadata(store, root, snapshot, snapshotNumberOf(root, snapshot))
    }
    return { table: root, location: store.locate(root), snapshot: last ?? null, keepVersions: options.keep, deleted, bytes: deleted.reduce((n, f) => n + f.bytes, 0) }
  })
