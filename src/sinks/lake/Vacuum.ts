/**
 * Vacuum, as Delta's VACUUM does it: deletes the files of a table that no live version names and
 * that are older than the retention (removed by a commit, or written by a writer that never
 * committed them). The retention is what keeps a paused writer's files safe until it is fenced.
 * It also cleans the table's log (`cleanupLog`), as a writer does after each checkpoint.
 */
import { Effect } from "effect"
import { cleanupLog, type DeltaLogError, readSnapshot } from "./DeltaLog.ts"
import { baseName, folderPrefix, isTemporaryName, type LakeIOError, type Store } from "./store/Store.ts"

export interface VacuumedFile {
  /** Relative to the table root. */
  readonly path: string
  readonly bytes: number
  /** `log`: a commit or checkpoint past the log retention that a later checkpoint makes unneeded. */
  readonly reason: "removed" | "uncommitted" | "temporary" | "log"
}

export interface VacuumReport {
  /** The table's key in the lake (`streams/transaction_stream`). */
  readonly table: string
  /** Where it lives: its folder, or its URL in an object store. */
  readonly location: string
  readonly deleted: ReadonlyArray<VacuumedFile>
  readonly bytes: number
}

/** Deletes (or with `dryRun` lists) what vacuum may delete in the table at `root` of the store. */
export const vacuumTable = (
  store: Store,
  root: string,
  options: {
    readonly retainMs: number
    readonly now: number
    readonly dryRun: boolean
    /** The log retention; by default the table's `delta.logRetentionDuration` (30 days without it). */
    readonly logRetentionMs?: number
  }
): Effect.Effect<VacuumReport, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const snapshot = yield* readSnapshot(store, root)
    const horizon = options.now - options.retainMs
    const deleted: Array<VacuumedFile> = []
    const prefix = folderPrefix(root)
    for (const object of yield* store.list(prefix)) {
      const file = object.key.slice(prefix.length)
      const name = baseName(file)
      if (snapshot.files.has(file)) continue
      const temporary = isTemporaryName(name)
      // Data files and the temporary files of interrupted writes only: the log's own files, the
      // metadata, and whatever else a store lists (an object store's entry of an upload in flight)
      // are not vacuum's to delete.
      if (!temporary && (file.startsWith("_delta_log/") || !name.endsWith(".parquet"))) continue
      const tombstone = snapshot.tombstones.get(file)
      const since = tombstone?.deletionTimestamp ?? object.lastModified
      if (since > horizon) continue
      const reason = tombstone !== undefined ? "removed" : temporary ? "temporary" : "uncommitted"
      if (!options.dryRun) yield* store.delete(object.key)
      deleted.push({ path: file, bytes: object.size, reason })
    }
    const log = yield* cleanupLog(store, root, { retentionMs: options.logRetentionMs, dryRun: options.dryRun })
    for (const f of log.deleted) deleted.push({ path: f.key.slice(prefix.length), bytes: f.size, reason: "log" })
    return { table: root, location: store.locate(root), deleted, bytes: deleted.reduce((n, f) => n + f.bytes, 0) }
  })
