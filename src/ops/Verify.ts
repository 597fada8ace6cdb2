/**
 * `sluice verify`: reconciles, per partition of the topic's current incarnation, Kafka's offsets
 * with what the lake committed and holds (rows, dead letters) and with the warehouse, and reports
 * every gap, duplicate or disagreement. Offsets that carry no data for a read_committed reader
 * (transaction markers, aborted or compacted records) are told apart from lost ones by reading
 * Kafka; rows of an earlier incarnation of the topic (deleted, then created again) are reported apart.
 * The sales topic, when the service follows one and it exists, is checked the same way against its
 * own feeds.
 */
import { Effect, type Scope } from "effect"
import type { Add } from "../sinks/lake/DeltaAction.ts"
import { type DeltaLogError, readSnapshot } from "../sinks/lake/DeltaLog.ts"
import type { LakeFeed } from "../sinks/lake/Feeds.ts"
import { tableRoot, TOPIC_ID_TAG } from "../sinks/lake/LakeTable.ts"
import { joinKey, type LakeIOError, type Store, type StoreUnsupported } from "../sinks/lake/store/Store.ts"
import { offsetsAppId, parseOffsetsAppId } from "../sinks/lake/TxnAppId.ts"
import type { WarehouseError } from "../sinks/warehouse/Warehouse.ts"
import { KafkaError } from "../topology/Fetch.ts"
import { dataOffsets } from "../topology/TopicReader.ts"
import { type DuckDb, type DuckDbError, parquetRelation, withDuckDb } from "./DuckDb.ts"
import { type PartitionOffsets, topicId as currentTopicId, topicOffsets } from "./KafkaAdmin.ts"
import { openLake } from "./LakeChoice.ts"
import { type LakeFiles, lakeFiles } from "./LakeFiles.ts"
import type { SettingsShape } from "./Settings.ts"
import { transactionFeeds } from "./TransactionFlow.ts"
import { venteFeeds } from "./VenteFlow.ts"
import { compareFacts, type FactComparison, type LakeIncarnation, warehouseOffsets } from "./VerifyWarehouse.ts"
import { openWarehouse } from "./WarehouseChoice.ts"

export interface PartitionCheck {
  readonly partition: number
  readonly kafkaStart: number
  /** The partition's end for a read_committed reader (its last stable offset). */
  readonly kafkaEnd: number
  /** Last offset each lake feed committed (null: nothing yet). */
  readonly lakeCommitted: Record<string, number | null>
  /** Rows per feed for offsets still in Kafka's log. */
  readonly lakeRows: Record<string, number>
  /** Offsets of the committed range that carry no data: transaction markers, aborted or compacted records. */
  readonly offsetsWithoutData: number
  /** The warehouse's next offset (null: nothing committed; absent: no warehouse checked). */
  readonly warehouseNext?: number | null
  readonly problems: ReadonlyArray<string>
}

/** What the lake or the warehouse still holds of an earlier incarnation of the topic. */
export interface EarlierIncarnation {
  /** Its topic id ("" for data written before topic ids were recorded). */
  readonly topicId: string
  readonly where: string
  readonly rows: number
  /** Next offset committed per partition. */
  readonly committed: Record<string, number>
}

/** One topic's partitions against its lake feeds. */
export interface TopicCheck {
  readonly topic: string
  readonly topicId: string
  readonly partitions: ReadonlyArray<PartitionCheck>
  readonly earlierIncarnations: ReadonlyArray<EarlierIncarnation>
  readonly ok: boolean
}

export interface VerifyReport extends TopicCheck {
  /** The warehouse checked, and its facts against the lake's recomputation. */
  readonly warehouse?: { readonly description: string; readonly facts: ReadonlyArray<FactComparison> }
  /** The sales topic, when the service follows one and it exists. */
  readonly sales?: TopicCheck
}

/**
 * What a topic's feeds must hold: every offset that carries data once in `primary` or the dead
 * letters, each `equal` feed as many rows as `primary`, each `subset` feed at most as many.
 */
interface TopicFeeds {
  readonly feeds: ReadonlyArray<LakeFeed<any>>
  readonly primary: string
  readonly equal: ReadonlyArray<string>
  readonly subsets: ReadonlyArray<string>
}

const transactionTopic = (topic: string): TopicFeeds => ({
  feeds: transactionFeeds(topic),
  primary: "transaction_stream",
  equal: ["transaction_flattened", "transaction_stream_anonymized"],
  subsets: ["transaction_stream_blacklisted"]
})

const salesTopic = (topic: string): TopicFeeds => ({ feeds: venteFeeds(topic), primary: "ventes_stream", equal: [], subsets: ["ventes_late"] })

type VerifyError = KafkaError | LakeIOError | StoreUnsupported | DeltaLogError | DuckDbError | WarehouseError

interface TableState {
  readonly feed: LakeFeed<any>
  readonly label: string
  readonly txns: ReadonlyMap<string, number>
  /** Live files (local paths DuckDB opens) by topic id ("" when untagged). */
  readonly filesByTopicId: ReadonlyMap<string, ReadonlyArray<string>>
  /** Rows per Kafka partition of the current incarnation's files. */
  readonly rows: ReadonlyMap<number, PartitionRows>
}

interface PartitionRows {
  readonly rows: number
  readonly distinct: number
  /** Rows whose offset Kafka still holds (at or after the log start). */
  readonly inLog: number
}

const topicIdOf = (add: Add): string => add.tags?.[TOPIC_ID_TAG] ?? ""

const deadLettersOf = (tables: ReadonlyArray<TableState>) => tables.find((t) => t.feed.kind === "_deadletter")!

interface CheckedTopic {
  readonly check: TopicCheck
  readonly tables: ReadonlyArray<TableState>
}

/** A topic's partitions against its feeds' Delta logs and files. */
const checkTopic = (
  settings: SettingsShape,
  db: DuckDb,
  store: Store,
  files: LakeFiles,
  topic: string,
  id: string,
  spec: TopicFeeds
): Effect.Effect<CheckedTopic, VerifyError> =>
  Effect.gen(function*() {
    const offsets = yield* topicOffsets(settings.brokers, topic)
    const tables: Array<TableState> = yield* Effect.forEach(spec.feeds, (feed) =>
      Effect.gen(function*() {
        const root = tableRoot(feed)
        const snapshot = yield* readSnapshot(store, root)
        const keysByTopicId = new Map<string, Array<string>>()
        for (const add of snapshot.files.values()) {
          const list = keysByTopicId.get(topicIdOf(add)) ?? []
          list.push(joinKey(root, add.path))
          keysByTopicId.set(topicIdOf(add), list)
        }
        const filesByTopicId = new Map<string, Array<string>>()
        for (const [topicId, keys] of keysByTopicId) filesByTopicId.set(topicId, yield* files.paths(keys))
        const rows = yield* rowsByPartition(db, filesByTopicId.get(id) ?? [], offsets)
        return { feed, label: feed.kind === "_deadletter" ? "dead letters" : feed.name, txns: snapshot.txns, filesByTopicId, rows }
      }))
    const partitions = yield* Effect.forEach(offsets, (o) => checkPartition(settings.brokers, db, topic, id, o, tables, spec))
    const earlierIncarnations = yield* earlierInLake(db, topic, id, tables, spec.primary)
    return { check: { topic, topicId: id, partitions, earlierIncarnations, ok: partitions.every((c) => c.problems.length === 0) }, tables }
  })

export const verify = (settings: SettingsShape) =>
  withDuckDb((db) =>
    Effect.scoped(Effect.gen(function*(): Effect.fn.Return<VerifyReport, VerifyError, Scope.Scope> {
      const topic = settings.topic
      const id = yield* currentTopicId(settings.brokers, topic)
      if (id === undefined) {
        return yield* new KafkaError({ op: `verify ${topic}`, cause: new Error(`topic ${topic} does not exist on ${settings.brokers.join(",")}`) })
      }
      const store = yield* openLake(settings, { writes: false })
      const files: LakeFiles = yield* lakeFiles(store)
      const { check, tables } = yield* checkTopic(settings, db, store, files, topic, id, transactionTopic(topic))
      // The sales topic is checked when the service follows it and it exists (the service waits for it otherwise).
      const salesId = settings.ventes === undefined ? undefined : yield* currentTopicId(settings.brokers, settings.ventes.topic)
      const sales = salesId === undefined || settings.ventes === undefined
        ? undefined
        : (yield* checkTopic(settings, db, store, files, settings.ventes.topic, salesId, salesTopic(settings.ventes.topic))).check
      const salesOk = sales === undefined || sales.ok
      const withSales = sales === undefined ? {} : { sales }
      if (!settings.sinks.includes("warehouse")) return { ...check, ...withSales, ok: check.ok && salesOk } satisfies VerifyReport
      const lakeChecks = check.partitions
      const earlier = check.earlierIncarnations
      const stream = tables.find((t) => t.feed.name === "transaction_stream")!
      const flattened = tables.find((t) => t.feed.name === "transaction_flattened")!
      return yield* Effect.scoped(
        Effect.gen(function*() {
          const warehouse = yield* openWarehouse(settings)
          const byIncarnation = yield* warehouseOffsets(warehouse, settings.group, topic)
          const committed = byIncarnation.get(id) ?? new Map<number, number>()
          const partitions = lakeChecks.map((c) => {
            const next = committed.get(c.partition)
            const problems = [...c.problems]
            if (c.kafkaEnd > c.kafkaStart && next === undefined) problems.push(`warehouse: nothing committed, Kafka holds ${c.kafkaStart}..${c.kafkaEnd - 1}`)
            else if (next !== undefined && next < c.kafkaEnd) problems.push(`warehouse: committed up to ${next - 1}, Kafka ends at ${c.kafkaEnd - 1}`)
            return { ...c, warehouseNext: next ?? null, problems }
          })
          const earlierInWarehouse = [...byIncarnation].filter(([topicId]) => topicId !== id).map(([topicId, next]): EarlierIncarnation => ({
            topicId,
            where: "warehouse",
            rows: 0,
            committed: Object.fromEntries([...next].map(([p, n]) => [String(p), n]))
          }))
          const lakeAhead = partitions.every((p) =>
            p.warehouseNext === null || Object.values(p.lakeCommitted).every((l) => l !== null && l >= p.warehouseNext! - 1)
          )
          // Facts add up every incarnation the warehouse counted: the lake's rows of each, below its offsets.
          const incarnations: Array<LakeIncarnation> = [...byIncarnation].map(([topicId, next]) => ({
            streamFiles: stream.filesByTopicId.get(topicId) ?? [],
            flattenedFiles: flattened.filesByTopicId.get(topicId) ?? [],
            committed: next
          }))
          const facts = lakeAhead
            ? yield* compareFacts(db, warehouse, incarnations)
            : [{ fact: "facts", keys: 0, transactions: 0, mismatches: ["not compared: the lake is behind the warehouse"] }]
          return {
            topic,
            topicId: id,
            partitions,
            earlierIncarnations: [...earlier, ...earlierInWarehouse],
            warehouse: { description: warehouse.description, facts },
            ...withSales,
            ok: partitions.every((p) => p.problems.length === 0) && facts.every((f) => f.mismatches.length === 0) && salesOk
          } satisfies VerifyReport
        })
      )
    }))
  )

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

/** The offsets in `from..to` of a partition that have a row in any of `files`, ascending. */
export const lakeOffsets = (db: DuckDb, files: ReadonlyArray<string>, partition: number, from: number, to: number) =>
  db.query(`
    SELECT DISTINCT _kafka_offset AS o FROM ${parquetRelation(files, "0::INTEGER AS _kafka_partition, 0::BIGINT AS _kafka_offset")}
    WHERE _kafka_partition = ${partition} AND _kafka_offset BETWEEN ${from} AND ${to} ORDER BY 1`).pipe(
    Effect.map((rows) => rows.map((r) => Number(r.o)))
  )

/** `a \ b` of two ascending lists. */
const minus = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): Array<number> => {
  const out: Array<number> = []
  let j = 0
  for (const x of a) {
    while (j < b.length && b[j]! < x) j++
    if (j >= b.length || b[j] !== x) out.push(x)
  }
  return out
}

const firstFew = (offsets: ReadonlyArray<number>): string => offsets.slice(0, 5).join(", ") + (offsets.length > 5 ? ", …" : "")

const checkPartition = (
  brokers: ReadonlyArray<string>,
  db: DuckDb,
  topic: string,
  topicId: string,
  o: PartitionOffsets,
  tables: ReadonlyArray<TableState>,
  spec: TopicFeeds
): Effect.Effect<PartitionCheck, KafkaError | DuckDbError> =>
  Effect.gen(function*() {
    const sp = { topic, topicId, partition: o.partition }
    const problems: Array<string> = []
    const lakeCommitted: Record<string, number | null> = {}
    const lakeRows: Record<string, number> = {}
    const committedOf = (t: TableState) => t.txns.get(offsetsAppId(t.feed.name, sp))
    for (const t of tables) {
      const committed = committedOf(t)
      lakeCommitted[t.label] = committed ?? null
      const r = t.rows.get(o.partition) ?? { rows: 0, distinct: 0, inLog: 0 }
      lakeRows[t.label] = r.inLog
      if (r.rows !== r.distinct) problems.push(`${t.label}: ${r.rows - r.distinct} duplicate offsets`)
      if (o.end > o.start && committed === undefined) problems.push(`${t.label}: nothing committed, Kafka holds ${o.start}..${o.end - 1}`)
      else if (committed !== undefined && committed < o.end - 1) problems.push(`${t.label}: committed up to ${committed}, Kafka ends at ${o.end - 1}`)
      else if (committed !== undefined && committed > o.end - 1) problems.push(`${t.label}: committed ${committed} beyond Kafka's end ${o.end - 1}`)
    }
    const rowsOf = (t: TableState | undefined) => t?.rows.get(o.partition) ?? { rows: 0, distinct: 0, inLog: 0 }
    const primaryTable = tables.find((t) => t.feed.name === spec.primary)!
    const rowsNamed = (name: string) => rowsOf(tables.find((t) => t.feed.name === name))
    const stream = rowsOf(primaryTable)
    const dead = rowsOf(deadLettersOf(tables))
    const lastCommon = Math.min(...tables.map((t) => committedOf(t) ?? o.start - 1))
    const range = Math.max(0, lastCommon - o.start + 1)
    const present = stream.inLog + dead.inLog
    let offsetsWithoutData = 0
    // Every offset has its row: there is nothing to tell apart. Otherwise Kafka says which offsets carry data.
    if (problems.length === 0 && present !== range) {
      const data = yield* dataOffsets(brokers, topic, o.partition, o.start, lastCommon)
      const files = [...(primaryTable.filesByTopicId.get(topicId) ?? []), ...(deadLettersOf(tables).filesByTopicId.get(topicId) ?? [])]
      const inLake = yield* lakeOffsets(db, files, o.partition, o.start, lastCommon)
      const lost = minus(data, inLake)
      const extra = minus(inLake, data)
      offsetsWithoutData = range - data.length
      if (lost.length > 0) {
        problems.push(`${lost.length} offsets of ${o.start}..${lastCommon} that carry data are in neither ${spec.primary} nor the dead letters (${firstFew(lost)})`)
      }
      if (extra.length > 0) {
        problems.push(`${extra.length} rows of ${o.start}..${lastCommon} are for offsets that carry no data for a read_committed reader: aborted or compacted records (${firstFew(extra)})`)
      }
    }
    if (problems.length === 0) {
      // Every valid transaction is in the flattened and anonymized feeds too; the blacklisted ones (the late sales) are a part of them.
      for (const name of spec.equal) {
        const r = rowsNamed(name)
        if (r.inLog !== stream.inLog) problems.push(`${name} has ${r.inLog} rows, ${spec.primary} ${stream.inLog}`)
      }
      for (const name of spec.subsets) {
        const r = rowsNamed(name)
        if (r.inLog > stream.inLog) problems.push(`${name} has ${r.inLog} rows, more than ${spec.primary}'s ${stream.inLog}`)
      }
    }
    return { partition: o.partition, kafkaStart: o.start, kafkaEnd: o.end, lakeCommitted, lakeRows, offsetsWithoutData, problems }
  })

/** Per earlier topic id: the stream's rows and what each feed committed. */
const earlierInLake = (db: DuckDb, topic: string, currentId: string, tables: ReadonlyArray<TableState>, primary: string) =>
  Effect.gen(function*() {
    const ids = new Set<string>()
    for (const t of tables) {
      for (const id of t.filesByTopicId.keys()) if (id !== currentId) ids.add(id)
      for (const appId of t.txns.keys()) {
        const parsed = parseOffsetsAppId(appId)
        if (parsed !== undefined && parsed.topic === topic && parsed.topicId !== currentId) ids.add(parsed.topicId)
      }
    }
    return yield* Effect.forEach([...ids].sort(), (id) =>
      Effect.gen(function*() {
        const stream = tables.find((t) => t.feed.name === primary)!
        const files = [...(stream.filesByTopicId.get(id) ?? []), ...(deadLettersOf(tables).filesByTopicId.get(id) ?? [])]
        const rows = files.length === 0 ? [{ n: 0 }] : yield* db.query(`SELECT count(*) AS n FROM ${parquetRelation(files, "")}`)
        const committed: Record<string, number> = {}
        for (const appId of stream.txns.keys()) {
          const parsed = parseOffsetsAppId(appId)
          if (parsed !== undefined && parsed.feed === stream.feed.name && parsed.topic === topic && parsed.topicId === id) {
            committed[String(parsed.partition)] = stream.txns.get(appId)! + 1
          }
        }
        return { topicId: id, where: "lake", rows: Number(rows[0]?.n ?? 0), committed } satisfies EarlierIncarnation
      }))
  })
