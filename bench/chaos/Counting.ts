/**
 * The figures of a chaos scenario, counted from the data: what Kafka delivered (read_committed)
 * against the rows of the lake's live files and the warehouse's facts, never from the service's logs.
 */
import * as path from "node:path"
import { Effect } from "effect"
import { createConnection } from "mysql2/promise"
import { parquetRelation, withDuckDb } from "../../src/ops/DuckDb.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import type { RecordId } from "./CommittedReader.ts"

/** A row of the lake: a transaction of `streams/transaction_stream` or a dead letter. */
export interface LakeRow extends RecordId {
  readonly deadLetter: boolean
  /** A transaction the warehouse's facts count (a stream row whose status is not `failed`). */
  readonly counted: boolean
}

/** What a scenario's data says. */
export interface Counts {
  /** Data records a read_committed reader gets from the topic (every generation of it). */
  readonly produced: number
  /** Rows of the stream and the dead letters, copies included. */
  readonly inLake: number
  readonly deadLettered: number
  /** Rows beyond the first of each record (stream and dead letters together). */
  readonly duplicated: number
  /** Produced records in neither the stream nor the dead letters. */
  readonly lost: number
  /** Distinct records in the lake that no read_committed reader got (aborted, or of nowhere). */
  readonly extra: number
  /** `SUM(transaction_count)` of `fact_user_transaction_summary` (0 without the table). */
  readonly inWarehouse: number
  /** Produced records whose stream row says the facts count them: what `inWarehouse` should be. */
  readonly warehouseExpected: number
  /** A few of each, as `partition:offset`, to start looking from. */
  readonly examples: { readonly lost: ReadonlyArray<string>; readonly duplicated: ReadonlyArray<string>; readonly extra: ReadonlyArray<string> }
}

/**
 * A record's identity: partition, offset and key. The key tells a recreated topic's records from
 * the old ones at the same offsets (the load's keys are transaction ids, as `sluice produce` sends).
 */
const identity = (r: RecordId): string => `${r.partition}:${r.offset}:${r.key}`
const shortName = (id: string): string => id.split(":").slice(0, 2).join(":")

const EXAMPLES = 5

/** The figures from the produced records, the lake's rows and the warehouse's count. */
export const countRecords = (produced: ReadonlyArray<RecordId>, lake: ReadonlyArray<LakeRow>, inWarehouse: number): Counts => {
  const truth = new Set<string>()
  for (const r of produced) {
    const id = identity(r)
    if (truth.has(id)) throw new Error(`the topic delivered ${shortName(id)} twice: the reader is wrong`)
    truth.add(id)
  }
  const copies = new Map<string, number>()
  const counted = new Set<string>()
  let deadLettered = 0
  for (const row of lake) {
    const id = identity(row)
    copies.set(id, (copies.get(id) ?? 0) + 1)
    if (row.deadLetter) deadLettered++
    else if (row.counted && truth.has(id)) counted.add(id)
  }
  const lost = [...truth].filter((id) => !copies.has(id))
  const duplicated = [...copies].filter(([, n]) => n > 1)
  const extra = [...copies.keys()].filter((id) => !truth.has(id))
  return {
    produced: truth.size,
    inLake: lake.length,
    deadLettered,
    duplicated: duplicated.reduce((n, [, c]) => n + c - 1, 0),
    lost: lost.length,
    extra: extra.length,
    inWarehouse,
    warehouseExpected: counted.size,
    examples: {
      lost: lost.slice(0, EXAMPLES).map(shortName),
      duplicated: duplicated.slice(0, EXAMPLES).map(([id, n]) => `${shortName(id)} ×${n}`),
      extra: extra.slice(0, EXAMPLES).map(shortName)
    }
  }
}

/** The live data files of a Delta table, by the log (none when the table does not exist). */
const liveFiles = async (root: string): Promise<Array<string>> => {
  const snapshot = await Effect.runPromise(readSnapshot(makeLocalStore(root), ""))
  return [...snapshot.files.keys()].map((file) => path.join(root, file))
}

/** Every row of `streams/transaction_stream` and `_deadletter/<topic>`, read through their logs. */
export const readLakeRows = async (lakeDir: string, topic: string): Promise<Array<LakeRow>> => {
  const stream = await liveFiles(path.join(lakeDir, "streams", "transaction_stream"))
  const dead = await liveFiles(path.join(lakeDir, "_deadletter", topic))
  const rows = await Effect.runPromise(
    withDuckDb((db) =>
      db.query(`
        SELECT _kafka_partition AS p, _kafka_offset AS o, transaction_id AS k, false AS dead, status <> 'failed' AS counted
        FROM ${parquetRelation(stream, "0::INTEGER AS _kafka_partition, 0::BIGINT AS _kafka_offset, ''::VARCHAR AS transaction_id, ''::VARCHAR AS status")}
        UNION ALL
        SELECT _kafka_partition, _kafka_offset, coalesce(decode(key), ''), true, false
        FROM ${parquetRelation(dead, "0::INTEGER AS _kafka_partition, 0::BIGINT AS _kafka_offset, ''::BLOB AS key")}`)
    )
  )
  return rows.map((r) => ({
    partition: Number(r["p"]),
    offset: Number(r["o"]),
    key: String(r["k"]),
    deadLetter: r["dead"] === true,
    counted: r["counted"] === true
  }))
}

/** `SUM(transaction_count)` of the warehouse's `fact_user_transaction_summary`; 0 when it has no such table. */
export const warehouseCount = async (mysqlUrl: string): Promise<number> => {
  const connection = await createConnection({ uri: mysqlUrl, connectTimeout: 10_000 })
  try {
    const [tables] = await connection.query(
      "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'fact_user_transaction_summary'"
    )
    if (Number((tables as Array<{ n: number }>)[0]?.n ?? 0) === 0) return 0
    const [rows] = await connection.query("SELECT COALESCE(SUM(transaction_count), 0) AS n FROM fact_user_transaction_summary")
    return Number((rows as Array<{ n: string | number }>)[0]?.n ?? 0)
  } finally {
    await connection.end()
  }
}
