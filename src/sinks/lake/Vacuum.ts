/**
 * Vacuum, as Delta's VACUUM does it: deletes the files of a table that no live version names and
 * that are older than the retention (removed by a commit, or written by a writer that never
 * committed them). The retention is what keeps a paused writer's files safe until it is fenced.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { type DeltaLogError, readSnapshot } from "./DeltaLog.ts"
import { isTemporaryName, LakeIOError, listRecursive, removeFile } from "./LocalStore.ts"

export interface VacuumedFile {
  /** Relative to the table root. */
  readonly path: string
  readonly bytes: number
  readonly reason: "removed" | "uncommitted" | "temporary"
}

export interface VacuumReport {
  readonly table: string
  readonly deleted: ReadonlyArray<VacuumedFile>
  readonly bytes: number
}

/** Deletes (or with `dryRun` lists) what vacuum may delete in the table at `root`. */
export const vacuumTable = (
  root: string,
  options: { readonly retainMs: number; readonly now: number; readonly dryRun: boolean }
): Effect.Effect<VacuumReport, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const snapshot = yield* readSnapshot(root)
    const horizon = options.now - options.retainMs
    const deleted: Array<VacuumedFile> = []
    for (const file of yield* listRecursive(root)) {
      const name = path.basename(file)
      if (snapshot.files.has(file) || name === "_metadata.json" || name === "_last_checkpoint") continue
      const inLog = file.startsWith("_delta_log")
      // The log's own files stay; only its writers' temporary leftovers go.
      if (inLog && !isTemporaryName(name)) continue
      const absolute = path.join(root, file)
      const stat = yield* Effect.tryPromise({
        try: () => fs.stat(absolute),
        catch: (cause) => new LakeIOError({ op: "stat", path: absolute, cause })
      }).pipe(Effect.catch(() => Effect.succeed(undefined)))
      if (stat === undefined) continue
      const tombstone = snapshot.tombstones.get(file)
      const since = tombstone?.deletionTimestamp ?? stat.mtimeMs
      if (since > horizon) continue
      const reason = tombstone !== undefined ? "removed" : isTemporaryName(name) ? "temporary" : "uncommitted"
      if (!options.dryRun) yield* removeFile(absolute)
      deleted.push({ path: file, bytes: stat.size, reason })
    }
    return { table: root, deleted, bytes: deleted.reduce((n, f) => n + f.bytes, 0) }
  })
