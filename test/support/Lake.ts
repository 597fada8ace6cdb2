/**
 * Reading a test's lake as a Delta reader does: the live files of a table, from its log, never a
 * glob over its folders (which also sees files that no commit names). A lake in a bucket is read
 * through its store, its objects copied to a local folder for DuckDB.
 */
import { mkdir, writeFile } from "node:fs/promises"
import * as path from "node:path"
import { Effect, Option } from "effect"
import { parquetRelation } from "../../src/ops/DuckDb.ts"
import { scalar, source } from "../../src/sinks/lake/Columns.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { folderPrefix, joinKey, type Store } from "../../src/sinks/lake/store/Store.ts"
import type { LakeFeed } from "../../src/sinks/lake/Feeds.ts"
import { records } from "../../src/topology/Processor.ts"

/** A lake as a test reads it: its store, and the folder where an object store's files are copied. */
export interface TestLake {
  readonly store: Store
  readonly copies: string
}

const asLake = (lake: string | TestLake): TestLake => (typeof lake === "string" ? { store: makeLocalStore(lake), copies: lake } : lake)

/** Local files of these keys: in place for a folder, else copied (once) below `copies`. */
export const localFiles = async (lake: TestLake, keys: ReadonlyArray<string>): Promise<Array<string>> =>
  Promise.all(keys.map(async (key) => {
    const local = lake.store.localPath(key)
    if (local !== undefined) return local
    const file = path.join(lake.copies, ...key.split("/"))
    const bytes = await Effect.runPromise(lake.store.get(key))
    if (Option.isNone(bytes)) throw new Error(`${lake.store.locate(key)} does not exist`)
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, bytes.value)
    return file
  }))

/** The local paths of a table's live files; `table` is relative to the lake, e.g. `streams/transaction_stream`. */
export const liveFiles = async (lake: string | TestLake, table: string): Promise<Array<string>> => {
  const l = asLake(lake)
  const snapshot = await Effect.runPromise(readSnapshot(l.store, table))
  return localFiles(l, [...snapshot.files.keys()].map((f) => joinKey(table, f)))
}

/** Every Parquet file of a table's folders, named by its log or not: what a glob over them sees. */
export const dataFiles = async (lake: string | TestLake, table: string): Promise<Array<string>> => {
  const l = asLake(lake)
  const objects = await Effect.runPromise(l.store.list(folderPrefix(table)))
  return localFiles(l, objects.map((o) => o.key).filter((key) => key.endsWith(".parquet") && !key.includes("/_delta_log/")))
}

/** A DuckDB relation over a table's live files (empty, with the lineage columns, when it has none). */
export const liveRelation = async (lake: string | TestLake, table: string): Promise<string> =>
  parquetRelation(await liveFiles(lake, table), "0::INTEGER AS _kafka_partition, 0::BIGINT AS _kafka_offset")

/** A row of the small feed the lake's unit tests write: an offset, an event time and a label. */
export interface Thing {
  readonly offset: number
  readonly time: number
  readonly label: string
}

/** `streams/things`: one row per record, partitioned by the row's event time. */
export const thingsFeed: LakeFeed<Thing> = {
  name: "things",
  kind: "streams",
  description: "test rows",
  input: records<Thing>("things"),
  columns: [
    scalar("_kafka_offset", source.int64<Thing>("_kafka_offset", (r) => r.offset)),
    scalar("time", source.timestamp<Thing>("time", (r) => r.time)),
    scalar("label", source.string<Thing>("label", (r) => r.label))
  ],
  offsetOf: (r) => r.offset,
  partitionTime: (r) => r.time
}
