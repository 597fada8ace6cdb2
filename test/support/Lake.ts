/**
 * Reading a test's lake as a Delta reader does: the live files of a table, from its log, never a
 * glob over its folders (which also sees files that no commit names).
 */
import * as path from "node:path"
import { Effect } from "effect"
import { parquetRelation } from "../../src/ops/DuckDb.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"

/** The absolute paths of a table's live files; `table` is relative to the lake, e.g. `streams/transaction_stream`. */
export const liveFiles = async (lake: string, table: string): Promise<Array<string>> => {
  const root = path.join(lake, table)
  const snapshot = await Effect.runPromise(readSnapshot(makeLocalStore(root), ""))
  return [...snapshot.files.keys()].map((f) => path.join(root, f))
}

/** A DuckDB relation over a table's live files (empty, with the lineage columns, when it has none). */
export const liveRelation = async (lake: string, table: string): Promise<string> =>
  parquetRelation(await liveFiles(lake, table), "0::INTEGER AS _kafka_partition, 0::BIGINT AS _kafka_offset")
