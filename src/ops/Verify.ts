/**
 * `sluice verify`: reconciles, per partition, Kafka's offsets with what the lake committed and
 * holds (rows, dead letters), and reports every gap, duplicate or disagreement between feeds.
 */
import * as path from "node:path"
import { Effect } from "effect"
import { readSnapshot } from "../sinks/lake/DeltaLog.ts"
import { tableRoot } from "../sinks/lake/LakeTable.ts"
import { type DuckDb, type DuckDbError, parquetRelation, withDuckDb } from "./DuckDb.ts"
import type { DeltaLogError } from "../sinks/lake/DeltaLog.ts"
import type { LakeIOError } from "../sinks/lake/LocalStore.ts"
import type { WarehouseError } from "../sinks/warehouse/Warehouse.ts"
import type { KafkaError } from "../topology/Fetch.ts"
import { type PartitionOffsets, topicOffsets } from "./KafkaAdmin.ts"
import { transactionFeeds } from "./Service.ts"
import type { SettingsShape } from "./Settings.ts"
import { openWarehouse } from "./WarehouseChoice.ts"
import { compareFacts, type FactComparison, warehouseOffsets } from "./VerifyWarehouse.ts"

export interface PartitionCheck {
  readonly partition: number
  readonly kafkaStart: number
  readonly kafkaEnd: number
  /** Last offset each lake feed committed (null: nothing yet). */
  readonly lakeCommitted: Record<string, number | null>
  /** Rows per feed for offsets still in Kafka's log. */
  readonly lakeRows: Record<string, number>
  /** The warehouse's next offset (null: nothing committed; absent: no warehouse checked). */
  readonly warehouseNext?: number | null
  readonly problems: ReadonlyArray<string>
}

export interface VerifyReport {
  readonly topic: string
  readonly partitions: ReadonlyArray<PartitionCheck>
  /** The warehouse checked, and its facts against the lake's recomputation. */
  readonly warehouse?: { readonly description: string; readonly facts: ReadonlyArray<FactComparison> }
  readonly ok: boolean
}

export const verify = (settings: SettingsShape) =>
  withDuckDb((db) =>
    Effect.gen(function*(): Effect.fn.Return<VerifyReport, KafkaError | LakeIOError | DeltaLogError | DuckDbError | WarehouseError> {
      const topic = settings.topic
      const offsets = yield* topicOffsets(settings.brokers, topic)
      const tables = yield* Effect.forEach(transactionFeeds(topic), (feed) =>
        Effect.gen(function*() {
          const root = tableRoot(settings.lakeDir, feed)
          const snapshot = yield* readSnapshot(root)
          const files = [...snapshot.files.keys()].map((f) => path.join(root, f))
          const rows = yield* rowsByPartition(db, files, offsets)
          return { feed, snapshot, files, rows }
        }))
      const lakeChecks = offsets.map((o) => checkPartition(topic, o, tables))
      if (!settings.sinks.includes("warehouse")) {
        return { topic, partitions: lakeChecks, ok: lakeChecks.every((c) => c.problems.length === 0) } satisfies VerifyReport
      }
      return yield* Effect.scoped(
        Effect.gen(function*() {
          const warehouse = yield* openWarehouse(settings)
          const committed = yield* warehouseOffsets(warehouse, settings.group, topic)
          const partitions = lakeChecks.map((c) => {
            const next = committed.get(c.partition)
            const problems = [...c.problems]
            if (c.kafkaEnd > c.kafkaStart && next === undefined) problems.push(`warehouse: nothing committed, Kafka holds ${c.kafkaStart}..${c.kafkaEnd - 1}`)
            else if (next !== undefined && next < c.kafkaEnd) problems.push(`warehouse: committed up to ${next - 1}, Kafka ends at ${c.kafkaEnd - 1}`)
            return { ...c, warehouseNext: next ?? null, problems }
          })
          const lakeAhead = partitions.every((p) =>
            p.warehouseNext === null || Object.values(p.lakeCommitted).every((l) => l !== null && l >= p.warehouseNext! - 1)
          )
          const facts = lakeAhead
            ? yield* compareFacts(db, warehouse, { streamFiles: tables[0]!.files, flattenedFiles: tables[1]!.files }, committed)
            : [{ fact: "facts", keys: 0, transactions: 0, mismatches: ["not compared: the lake is behind the warehouse"] }]
          return {
            topic,
            partitions,
            warehouse: { description: warehouse.description, facts },
            ok: partitions.every((p) => p.problems.length === 0) && facts.every((f) => f.mismatches.length === 0)
          } satisfies VerifyReport
        })
      )
    })
  )

interface PartitionRows {
  readonly rows: number
  readonly distinct: number
  /** Rows whose offset Kafka still holds (at or after the log start). */
  readonly inLog: number
}

/** Row counts per Kafka partition of a set of lake files, by their lineage columns. */
const rowsByPartition = (db: DuckDb, files: ReadonlyArray<string>, offsets: ReadonlyArray<PartitionOffsets>) =>
  Effect.gen(function*() {
    const starts = offsets.length === 0
      ? "(SELECT 0 AS p, 0 AS s WHERE false)"
      : `(VALUES ${offsets.map((o) => `(${o.partition}, ${o.start})`).join(", ")}) AS starts(p, s)`
    const rows = yield* db.query(`
      SELECT f._kafka_partition AS p, count(*) AS n, count(DISTINCT f._kafka_offset) AS d,
             count(*) FILTER (WHERE f._kafka_offset >= coalesce(starts.s, 0)) AS in_log
      FROM ${parquetRelation(files, "0::INTEGER AS _kafka_partition, 0::BIGINT AS _kafka_offset")} AS f
      LEFT JOIN ${starts} ON starts.p = f._kafka_partition
      GROUP BY 1`)
    return new Map<number, PartitionRows>(
      rows.map((r) => [Number(r.p), { rows: Number(r.n), distinct: Number(r.d), inLog: Number(r.in_log) }])
    )
  })

type TableState = {
  readonly feed: { readonly name: string; readonly kind: string }
  readonly snapshot: { readonly txns: ReadonlyMap<string, number> }
  readonly rows: ReadonlyMap<number, PartitionRows>
}

const checkPartition = (topic: string, o: PartitionOffsets, tables: ReadonlyArray<TableState>): PartitionCheck => {
  const problems: Array<string> = []
  const lakeCommitted: Record<string, number | null> = {}
  const lakeRows: Record<string, number> = {}
  for (const t of tables) {
    const label = t.feed.kind === "_deadletter" ? "dead letters" : t.feed.name
    const committed = t.snapshot.txns.get(`${t.feed.name}@${topic}/${o.partition}`)
    lakeCommitted[label] = committed ?? null
    const r = t.rows.get(o.partition) ?? { rows: 0, distinct: 0, inLog: 0 }
    lakeRows[label] = r.inLog
    if (r.rows !== r.distinct) problems.push(`${label}: ${r.rows - r.distinct} duplicate offsets`)
    if (o.end > o.start && committed === undefined) problems.push(`${label}: nothing committed, Kafka holds ${o.start}..${o.end - 1}`)
    else if (committed !== undefined && committed < o.end - 1) problems.push(`${label}: committed up to ${committed}, Kafka ends at ${o.end - 1}`)
    else if (committed !== undefined && committed > o.end - 1) problems.push(`${label}: committed ${committed} beyond Kafka's end ${o.end - 1} (topic recreated?)`)
  }
  const [stream, flattened, dead] = tables.map((t) => t.rows.get(o.partition) ?? { rows: 0, distinct: 0, inLog: 0 })
  const lastCommon = Math.min(...tables.map((t) => t.snapshot.txns.get(`${t.feed.name}@${topic}/${o.partition}`) ?? o.start - 1))
  const expected = Math.max(0, lastCommon - o.start + 1)
  const present = (stream?.inLog ?? 0) + (dead?.inLog ?? 0)
  if (problems.length === 0 && present !== expected) {
    problems.push(
      present < expected
        ? `${expected - present} offsets of ${o.start}..${lastCommon} are in neither the stream nor the dead letters`
        : `${present - expected} more rows than offsets ${o.start}..${lastCommon}`
    )
  }
  if ((flattened?.inLog ?? 0) !== (stream?.inLog ?? 0) && problems.length === 0) {
    problems.push(`transaction_flattened has ${flattened?.inLog ?? 0} rows, transaction_stream ${stream?.inLog ?? 0}`)
  }
  return { partition: o.partition, kafkaStart: o.start, kafkaEnd: o.end, lakeCommitted, lakeRows, problems }
}
