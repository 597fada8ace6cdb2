/**
 * Versioned lake tables: each snapshot of a table is ONE Delta commit that removes the previous
 * snapshot's files and adds the new one's under `version=vN/`, so a reader sees version N−1 or N,
 * never a mix; only the last K snapshots' files stay on disk. Two writers racing for snapshot N
 * are told apart by a `txn` (`snapshots`, version N): the loser drops its file.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { createReadStream } from "node:fs"
import * as fs from "node:fs/promises"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Clock, Effect } from "effect"
import type { Add, Remove } from "./DeltaAction.ts"
import { type DeltaLogError, type Fenced, openDeltaTable } from "./DeltaLog.ts"
import { crashPoint } from "../CrashPoint.ts"
import { feedMetadata } from "./Metadata.ts"
import { folderPrefix, joinKey, LakeIOError, type Store } from "./store/Store.ts"

/** The Delta type of a snapshot column. */
export type SnapshotColumnType = "string" | "date" | "long" | "integer" | "boolean" | "decimal(38,2)" | "decimal(18,2)" | "timestamp"

/** A table of the lake written as versions. */
export interface SnapshotTable {
  readonly name: string
  readonly description: string
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: SnapshotColumnType; readonly nullable?: boolean }>
}

/** The app id whose txn version is the number of the table's last snapshot. */
export const SNAPSHOTS_APP_ID = "snapshots"

/** The partition column of a versioned table, and its value for snapshot `n`. */
export const VERSION_COLUMN = "version"
export const versionValue = (n: number): string => `v${n}`

export interface SnapshotRequest {
  /** Writes the snapshot's rows as one Parquet file at the given local path; returns how many rows. */
  readonly write: (file: string) => Effect.Effect<number, LakeIOError>
  /** What the snapshot reflects, recorded as txns of the commit: app id → last offset. */
  readonly reflects: ReadonlyMap<string, number>
  /** Snapshots whose files stay on disk (older ones are deleted after the commit). */
  readonly keep: number
}

export interface SnapshotWritten {
  readonly table: string
  readonly snapshot: number
  readonly rows: number
  readonly bytes: number
  readonly deletedFiles: number
}

const schemaString = (table: SnapshotTable): string =>
  JSON.stringify({
    type: "struct",
    fields: [
      ...table.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable ?? true, metadata: {} })),
      { name: VERSION_COLUMN, type: "string", nullable: false, metadata: {} }
    ]
  })

/** The snapshot number of a file of a versioned table, from its `version=vN/` folder. */
export const snapshotOfPath = (file: string): number | undefined => {
  const m = /(?:^|\/)version=v(\d+)\//.exec(file)
  return m === null ? undefined : Number(m[1])
}

/** A local folder for the file of one snapshot, removed with the scope once the store holds it. */
const scratchFolder = Effect.acquireRelease(
  Effect.tryPromise({
    try: () => fs.mkdtemp(path.join(tmpdir(), "sluice-snapshot-")),
    catch: (cause) => new LakeIOError({ op: "mkdtemp", path: tmpdir(), cause, transient: false })
  }),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

/** Writes snapshot N+1 of `table` at `root` (the table's key in the store), fenced against another writer of it. */
export const writeSnapshot = (
  store: Store,
  root: string,
  table: SnapshotTable,
  request: SnapshotRequest
): Effect.Effect<SnapshotWritten, Fenced | LakeIOError | DeltaLogError> =>
  Effect.scoped(Effect.gen(function*() {
    const log = yield* openDeltaTable({
      store,
      root,
      // A checkpoint every 10 snapshots keeps recovery reading a bounded number of files.
      checkpointInterval: 10,
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      metaData: {
        id: randomUUID(),
        name: table.name,
        description: table.description,
        format: { provider: "parquet", options: {} },
        schemaString: schemaString(table),
        partitionColumns: [VERSION_COLUMN],
        configuration: {},
        createdTime: yield* Clock.currentTimeMillis
      }
    })
    const before = yield* log.snapshot
    const previous = before.txns.get(SNAPSHOTS_APP_ID)
    const n = (previous ?? 0) + 1
    const relative = `${VERSION_COLUMN}=${versionValue(n)}/snapshot-${n}-${randomBytes(4).toString("hex")}.parquet`
    const target = joinKey(root, relative)
    // Written locally by the engine that computes it, then sent to the store in parts.
    const local = path.join(yield* scratchFolder, "snapshot.parquet")
    const rows = yield* request.write(local)
    const bytes = yield* store.upload(target, createReadStream(local))
    yield* crashPoint("snapshot:after-write")
    const now = yield* Clock.currentTimeMillis
    const removes: Array<Remove> = [...before.files.values()].map((f) => ({
      path: f.path,
      deletionTimestamp: now,
      dataChange: true,
      extendedFileMetadata: true,
      partitionValues: f.partitionValues,
      size: f.size
    }))
    const add: Add = {
      path: relative,
      partitionValues: { [VERSION_COLUMN]: versionValue(n) },
      size: bytes,
      modificationTime: now,
      dataChange: true,
      stats: JSON.stringify({ numRecords: rows })
    }
    yield* Effect.uninterruptible(
      log.commit({
        txns: [{ appId: SNAPSHOTS_APP_ID, expected: previous, version: n }],
        markers: [...request.reflects].map(([appId, version]) => ({ appId, version })),
        adds: [add],
        removes,
        operation: "WRITE",
        operationParameters: { mode: "Overwrite", snapshot: String(n) }
      })
    ).pipe(Effect.tapError(() => store.delete(target)))
    yield* crashPoint("snapshot:after-commit")
    const after = yield* log.snapshot
    yield* store.put(
      joinKey(root, "_metadata.json"),
      JSON.stringify({ ...feedMetadata({ ...table, kind: "tables" }, store.locate(root), after), snapshot: n }, null, 2),
      { durable: false }
    )
    // Only the last `keep` snapshots' files stay: older versions' files are deleted.
    let deletedFiles = 0
    const prefix = folderPrefix(root)
    for (const object of yield* store.list(prefix)) {
      const file = object.key.slice(prefix.length)
      const version = snapshotOfPath(file)
      if (version === undefined || !file.endsWith(".parquet") || version > n - request.keep || after.files.has(file)) continue
      yield* store.delete(object.key)
      deletedFiles++
    }
    return { table: table.name, snapshot: n, rows, bytes, deletedFiles }
  }))
