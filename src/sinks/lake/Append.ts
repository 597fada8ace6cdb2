/**
 * Appending computed rows to a Delta table as one commit fenced by a txn: for streams emitted from
 * other tables (windows that close), where the txn's version says how far the emission has gone,
 * so that two emitters never append the same rows and a crash before the commit appends nothing.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { Clock, Effect } from "effect"
import type { Table } from "apache-arrow"
import { type Column, deltaSchemaString, type FileStats } from "./Columns.ts"
import type { Add } from "./DeltaAction.ts"
import { type DeltaLogError, type DeltaSnapshot, type Fenced, openDeltaTable } from "./DeltaLog.ts"
import { type DatePartition, dateFolders, type DateFolders } from "./HivePartition.ts"
import { feedMetadata } from "./Metadata.ts"
import type { ParquetEncodeError, ParquetEncoder } from "./ParquetEncoder.ts"
import type { Compression } from "./ParquetFile.ts"
import { baseName, joinKey, type LakeIOError, type Store } from "./store/Store.ts"

/** A table of emitted rows. */
export interface AppendTable<R> {
  readonly name: string
  readonly description: string
  readonly columns: ReadonlyArray<Column<R>>
  readonly folders: DateFolders
}

export interface AppendRequest {
  /** The rows of each date folder. */
  readonly parts: ReadonlyArray<{ readonly date: DatePartition; readonly table: Table; readonly stats: FileStats }>
  /** The txn that says how far the emission has gone: expected before, and after this commit. */
  readonly progress: { readonly appId: string; readonly expected: number | undefined; readonly version: number }
  readonly encoder: ParquetEncoder
  readonly compression: Compression
}

const openAppendLog = (store: Store, root: string, table: AppendTable<any> | undefined) =>
  Effect.gen(function*() {
    const log = yield* openDeltaTable({
      store,
      root,
      checkpointInterval: 10,
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      metaData: {
        id: randomUUID(),
        name: table?.name ?? baseName(root),
        description: table?.description ?? "",
        format: { provider: "parquet", options: {} },
        schemaString: table === undefined ? "{}" : deltaSchemaString(table.columns, dateFolders[table.folders].columns),
        partitionColumns: table === undefined ? [] : dateFolders[table.folders].columns.map((c) => c.name),
        configuration: {},
        createdTime: yield* Clock.currentTimeMillis
      }
    })
    return log
  })

/** The table's log as it is now. */
export const readAppendTable = (store: Store, root: string, table: AppendTable<any>): Effect.Effect<DeltaSnapshot, LakeIOError | DeltaLogError> =>
  Effect.flatMap(openAppendLog(store, root, table), (log) => log.snapshot)

/** Appends the rows as one commit, provided the progress txn still holds what the request expects. */
export const appendRows = <R>(
  store: Store,
  root: string,
  table: AppendTable<R>,
  request: AppendRequest
): Effect.Effect<number, Fenced | LakeIOError | DeltaLogError | ParquetEncodeError> =>
  Effect.gen(function*() {
    const log = yield* openAppendLog(store, root, table)
    const layout = dateFolders[table.folders]
    const writer = randomBytes(4).toString("hex")
    const adds: Array<Add> = []
    const written: Array<string> = []
    for (let n = 0; n < request.parts.length; n++) {
      const part = request.parts[n]!
      const bytes = yield* request.encoder.encode(part.table, request.compression)
      const relative = `${layout.path(part.date)}/emitted-${request.progress.version}-${n}-${writer}.parquet`
      // Durable and whole once written; no other writer uses this name.
      written.push(relative)
      yield* store.put(joinKey(root, relative), bytes)
      adds.push({
        path: relative,
        partitionValues: layout.values(part.date),
        size: bytes.length,
        modificationTime: yield* Clock.currentTimeMillis,
        dataChange: true,
        stats: JSON.stringify(part.stats)
      })
    }
    const version = yield* Effect.uninterruptible(
      log.commit({ txns: [request.progress], adds, operation: "WRITE", operationParameters: { mode: "Append" } })
    ).pipe(Effect.tapError(() => Effect.forEach(written, (f) => store.delete(joinKey(root, f)).pipe(Effect.ignore), { discard: true })))
    yield* store.put(joinKey(root, "_metadata.json"), JSON.stringify(feedMetadata({ ...table, kind: "streams" }, store.locate(root), yield* log.snapshot), null, 2), { durable: false })
    return version
  })
