/**
 * One feed's Delta table and its commit protocol: a window's rows become one Parquet file per
 * date partition (temporary name → fsync → atomic rename), then one log commit fenced by `txn`.
 */
import { randomUUID } from "node:crypto"
import * as path from "node:path"
import { Effect } from "effect"
import { crashPoint } from "../CrashPoint.ts"
import type { Table } from "apache-arrow"
import { deltaSchemaString, type FileStats } from "./Columns.ts"
import type { Add } from "./DeltaAction.ts"
import { type DeltaLogError, type DeltaSnapshot, type DeltaTable, type Fenced, openDeltaTable } from "./DeltaLog.ts"
import type { LakeFeed } from "./Feeds.ts"
import { datePartitionColumns, partitionPath, partitionValues, type DatePartition } from "./HivePartition.ts"
import {
  isTemporaryName,
  type LakeIOError,
  listRecursive,
  mkdirs,
  publish,
  removeFile,
  replaceFileQuick,
  syncDirectory,
  writeTemporary
} from "./LocalStore.ts"
import { feedMetadata } from "./Metadata.ts"
import type { ParquetEncodeError, ParquetEncoder } from "./ParquetEncoder.ts"
import type { Compression } from "./ParquetFile.ts"

export interface LakeTableOptions {
  readonly lakeRoot: string
  readonly compression: Compression
  readonly checkpointInterval: number
  readonly encoder: ParquetEncoder
}

/** The rows of one date partition of a window, ready to be written as one file. */
export interface FilePart {
  readonly date: DatePartition
  readonly table: Table
  readonly stats: FileStats
}

export interface LakeTable<R> {
  readonly feed: LakeFeed<R>
  readonly root: string
  /** The txn application id of a partition: `<feed>@<topic>/<partition>`. */
  readonly appId: (topic: string, partition: number) => string
  /**
   * The last offset committed for a partition (undefined when none), after removing the files of
   * that partition that no commit names: the leftovers of a writer that died before committing.
   */
  readonly recover: (topic: string, partition: number) => Effect.Effect<number | undefined, LakeIOError | DeltaLogError>
  /**
   * Writes one file per part (offsets `from..to` of a partition) and commits them with txn
   * version `to`, provided the log still holds `expected` for this partition.
   */
  readonly write: (args: {
    readonly topic: string
    readonly partition: number
    readonly from: number
    readonly to: number
    readonly expected: number | undefined
    readonly parts: ReadonlyArray<FilePart>
  }) => Effect.Effect<number, Fenced | LakeIOError | DeltaLogError | ParquetEncodeError>
  readonly snapshot: Effect.Effect<DeltaSnapshot, LakeIOError | DeltaLogError>
}

/** `part-<partition>-<from>-<to>-<n>.parquet`: deterministic, so a retried window overwrites itself. */
export const dataFileName = (partition: number, from: number, to: number, n: number): string =>
  `part-${partition}-${from}-${to}-${n}.parquet`

const partitionOfFile = (name: string): number | undefined => {
  const m = /^\.?part-(\d+)-\d+-\d+-\d+\.parquet/.exec(name)
  return m ? Number(m[1]) : undefined
}

/** The folder of a feed's table under the lake root. */
export const tableRoot = (lakeRoot: string, feed: Pick<LakeFeed<any>, "kind" | "name">): string =>
  path.join(lakeRoot, feed.kind, feed.name)

export const openLakeTable = <R>(
  feed: LakeFeed<R>,
  options: LakeTableOptions
): Effect.Effect<LakeTable<R>, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const root = tableRoot(options.lakeRoot, feed)
    const table: DeltaTable = yield* openDeltaTable({
      root,
      checkpointInterval: options.checkpointInterval,
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      metaData: {
        id: randomUUID(),
        name: feed.name,
        description: feed.description,
        format: { provider: "parquet", options: {} },
        schemaString: deltaSchemaString(feed.columns, datePartitionColumns),
        partitionColumns: datePartitionColumns.map((c) => c.name),
        configuration: { "delta.appendOnly": "false" },
        createdTime: Date.now()
      }
    })
    const appId = (topic: string, partition: number) => `${feed.name}@${topic}/${partition}`

    const recover = (topic: string, partition: number) =>
      Effect.gen(function*() {
        const snapshot = yield* table.snapshot
        const files = yield* listRecursive(root)
        for (const file of files) {
          if (file.startsWith("_delta_log")) continue
          const name = path.basename(file)
          if (partitionOfFile(name) !== partition) continue
          const named = snapshot.files.has(file) || snapshot.tombstones.has(file)
          if (isTemporaryName(name) || !named) {
            yield* Effect.logInfo(`removing orphan ${path.join(root, file)}`)
            yield* removeFile(path.join(root, file))
          }
        }
        return snapshot.txns.get(appId(topic, partition))
      })

    const write: LakeTable<R>["write"] = ({ topic, partition, from, to, expected, parts }) =>
      Effect.gen(function*() {
        const adds: Array<Add> = []
        const folders = new Set<string>()
        const written: Array<string> = []
        // Encoding runs in a worker: every part is sent off before the first is awaited.
        const encoded = yield* Effect.forEach(parts, (part) => options.encoder.encode(part.table, options.compression), {
          concurrency: "unbounded"
        })
        for (let n = 0; n < parts.length; n++) {
          const part = parts[n]!
          const bytes = encoded[n]!
          const relative = `${partitionPath(part.date)}/${dataFileName(partition, from, to, n)}`
          const target = path.join(root, relative)
          const folder = path.dirname(target)
          if (!folders.has(folder)) {
            yield* mkdirs(folder)
            folders.add(folder)
          }
          const tmp = yield* writeTemporary(target, bytes)
          yield* crashPoint("lake:after-temp-write")
          yield* publish(tmp, target)
          written.push(target)
          yield* crashPoint("lake:after-rename")
          adds.push({
            path: relative,
            partitionValues: partitionValues(part.date),
            size: bytes.length,
            modificationTime: Date.now(),
            dataChange: true,
            stats: JSON.stringify(part.stats)
          })
        }
        for (const folder of folders) yield* syncDirectory(folder)
        const version = yield* table.commit({
          txns: [{ appId: appId(topic, partition), expected, version: to }],
          adds,
          operation: "STREAMING UPDATE",
          operationParameters: { outputMode: "Append", queryId: appId(topic, partition), epochId: String(to) }
        }).pipe(
          Effect.tapError((e) =>
            e._tag === "Fenced"
              // Our files are not in the log; a file of the same name that the log does name came
              // from the winner writing the same window, and stays.
              ? Effect.flatMap(table.snapshot, (s) =>
                Effect.forEach(written, (f) => s.files.has(path.relative(root, f)) ? Effect.void : removeFile(f)))
              : Effect.void
          )
        )
        yield* crashPoint("lake:after-log-commit")
        const snapshot = yield* table.snapshot
        yield* replaceFileQuick(path.join(root, "_metadata.json"), JSON.stringify(feedMetadata(feed, root, snapshot), null, 2))
        return version
      })

    return { feed, root, appId, recover, write, snapshot: table.snapshot }
  })
