/**
 * The aggregate tables' changes, published exactly once to compacted topics keyed by grain: each
 * snapshot's changed rows (and a tombstone per key that left the table) go in one Kafka
 * transaction that also commits, as the offset of a group of its own, the snapshot's number on the
 * table's topic. That offset says which snapshot was published last, so a crash between the lake
 * commit and the Kafka commit publishes the snapshot again, never twice.
 */
import { Consumer } from "@platformatic/kafka"
import { Effect } from "effect"
import { makeTransactionalProducer } from "../sinks/kafka/TransactionalProducer.ts"
import { readSnapshot } from "../sinks/lake/DeltaLog.ts"
import { tableRoot } from "../sinks/lake/LakeTable.ts"
import { type SnapshotColumnType, SNAPSHOTS_APP_ID, VERSION_COLUMN, versionValue } from "../sinks/lake/Snapshot.ts"
import { baseName, joinKey, type Store } from "../sinks/lake/store/Store.ts"
import { KafkaError } from "../topology/Fetch.ts"
import { type DuckDb, parquetRelation, withDuckDb } from "./DuckDb.ts"
import { ensureTopic } from "./KafkaAdmin.ts"
import { type LakeFiles, lakeFiles } from "./LakeFiles.ts"
import type { TableDefinition } from "./TableSnapshots.ts"

export interface PublishTablesOptions {
  readonly brokers: ReadonlyArray<string>
  readonly group: string
  readonly store: Store
  /** Prepended to each table's name to make its topic's. */
  readonly prefix: string
  readonly tables: ReadonlyArray<TableDefinition>
}

export interface TablePublished {
  readonly table: string
  readonly topic: string
  /** The snapshot published now, or undefined when the last one was published already. */
  readonly snapshot: number | undefined
  readonly rows: number
  readonly tombstones: number
}

const MESSAGES_PER_SEND = 500

/** The group whose offset on a table's topic is the number of the table's last published snapshot. */
export const tablesGroup = (group: string): string => `${group}.publish.tables`

/** The keys of one snapshot's Parquet files of a table, found under its `version=vN/` folder. */
const filesOfSnapshot = (store: Store, root: string, n: number) =>
  Effect.map(store.list(`${root}/${VERSION_COLUMN}=${versionValue(n)}/`), (objects) =>
    objects.map((o) => o.key).filter((key) => key.endsWith(".parquet") && !baseName(key).startsWith(".")))

/** DuckDB's type of a snapshot column, so that a missing snapshot reads as an empty table of the same types. */
const DUCKDB_TYPES: Record<SnapshotColumnType, string> = {
  string: "VARCHAR",
  date: "DATE",
  long: "BIGINT",
  integer: "INTEGER",
  boolean: "BOOLEAN",
  "decimal(38,2)": "DECIMAL(38,2)",
  "decimal(18,2)": "DECIMAL(18,2)",
  timestamp: "TIMESTAMPTZ"
}

const call = <A>(op: string, f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (cause) => new KafkaError({ op, cause }) })

/** Publishes every table's latest snapshot that was not published yet. */
export const publishTables = (options: PublishTablesOptions) =>
  withDuckDb((db) =>
    Effect.scoped(Effect.gen(function*() {
      const files = yield* lakeFiles(options.store)
      return yield* Effect.acquireUseRelease(
        Effect.sync(() => new Consumer({ clientId: "sluice-publish-tables", groupId: tablesGroup(options.group), bootstrapBrokers: [...options.brokers], retries: 2 })),
        (reader) => Effect.forEach(options.tables, (table) => publishTable(db, files, reader, options, table)),
        (reader) => Effect.promise(() => reader.close(true).catch(() => undefined))
      )
    }))
  )

const publishTable = (db: DuckDb, files: LakeFiles, reader: Consumer, options: PublishTablesOptions, table: TableDefinition) =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      makeTransactionalProducer({ clientId: "sluice-publish-tables", brokers: options.brokers, transactionalId: `${tablesGroup(options.group)}.${table.name}` })
    ),
    (producer) =>
      Effect.gen(function*() {
        const topic = `${options.prefix}${table.name}`
        yield* ensureTopic(options.brokers, topic, 1, [{ name: "cleanup.policy", value: "compact" }])
        // Fenced first: a publisher killed mid-transaction has it aborted now, so the offset read next is the last one committed.
        yield* call(`fence the earlier publishers of ${topic}`, async () => {
          const transaction = await producer.beginTransaction()
          await transaction.cancel()
        })
        const root = tableRoot({ kind: "tables", name: table.name })
        const snapshot = yield* readSnapshot(options.store, root)
        const n = snapshot.txns.get(SNAPSHOTS_APP_ID)
        const committed = yield* call(`read the offsets of ${tablesGroup(options.group)}`, () => reader.listCommittedOffsets({ topics: [{ topic, partitions: [0] }] }))
        const published = Number(committed.get(topic)?.[0] ?? -1n)
        if (n === undefined || published === n) return { table: table.name, topic, snapshot: undefined, rows: 0, tombstones: 0 } satisfies TablePublished
        const current = yield* files.paths([...snapshot.files.keys()].map((f) => joinKey(root, f)))
        // Changes since the last snapshot published; all rows when its files are gone (compaction makes it idempotent).
        const previous = published > 0 ? yield* files.paths(yield* filesOfSnapshot(options.store, root, published)) : []
        const columns = table.columns.map((c) => c.name)
        // Typed as the table's columns: EXCEPT takes the common type of both sides, and text columns would publish numbers as text.
        const empty = table.columns.map((c) => `NULL::${DUCKDB_TYPES[c.type]} AS ${c.name}`).join(", ")
        const now = parquetRelation(current, empty)
        const before = parquetRelation(previous, empty)
        const keyOf = (alias: string) => `concat_ws('|', ${table.key.map((k) => `${alias}.${k}::VARCHAR`).join(", ")})`
        const changed = yield* db.query(`
          SELECT ${keyOf("c")} AS k, to_json(c)::VARCHAR AS v
          FROM (SELECT ${columns.join(", ")} FROM ${now} EXCEPT SELECT ${columns.join(", ")} FROM ${before}) c`)
        const gone = yield* db.query(`
          SELECT ${keyOf("p")} AS k FROM (SELECT ${table.key.join(", ")} FROM ${before} EXCEPT SELECT ${table.key.join(", ")} FROM ${now}) p`)
        const messages = [
          ...changed.map((r) => ({ topic, partition: 0, key: Buffer.from(String(r.k)), value: Buffer.from(String(r.v)) })),
          ...gone.map((r) => ({ topic, partition: 0, key: Buffer.from(String(r.k)), value: null as unknown as Buffer }))
        ]
        yield* call(`publish ${topic} snapshot ${n}`, async () => {
          const transaction = await producer.beginTransaction()
          try {
            for (let i = 0; i < messages.length; i += MESSAGES_PER_SEND) await transaction.send({ messages: messages.slice(i, i + MESSAGES_PER_SEND) })
            await transaction.addConsumer(reader)
            // The offset committed is the snapshot's number: Kafka commits message.offset + 1.
            await transaction.addOffset({
              topic,
              partition: 0,
              offset: BigInt(n - 1),
              key: null,
              value: null,
              headers: new Map(),
              timestamp: 0n,
              metadata: { consumer: { groupId: tablesGroup(options.group), generationId: -1, memberId: "", coordinatorId: reader.coordinatorId } }
            } as never)
            await transaction.commit()
          } catch (e) {
            await transaction.abort().catch(() => undefined)
            throw e
          }
        }).pipe(Effect.uninterruptible)
        return { table: table.name, topic, snapshot: n, rows: changed.length, tombstones: gone.length } satisfies TablePublished
      }),
    (producer) => Effect.promise(() => producer.close().catch(() => undefined))
  )
