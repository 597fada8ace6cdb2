/**
 * The lake's aggregate tables (the seeds' ksqlDB tables), as versioned snapshots: each is
 * recomputed by DuckDB from the committed rows of `transaction_flattened` at one log version, so
 * it reflects exact source offsets, and written as one Delta commit (src/sinks/lake/Snapshot.ts).
 * Their grain and columns are the warehouse facts': at the same offsets, they hold the same values.
 */
import { Effect } from "effect"
import { type DeltaLogError, type Fenced, readSnapshot } from "../sinks/lake/DeltaLog.ts"
import { tableRoot } from "../sinks/lake/LakeTable.ts"
import { type SnapshotTable, type SnapshotWritten, writeSnapshot } from "../sinks/lake/Snapshot.ts"
import { joinKey, LakeIOError, type Store } from "../sinks/lake/store/Store.ts"
import { type DuckDb, type DuckDbError, parquetRelation, SERVICE_DUCKDB, sqlString, withDuckDb } from "./DuckDb.ts"
import { lakeFiles } from "./LakeFiles.ts"
import { type PublishTablesOptions, publishTables } from "./TablePublisher.ts"

/** A table and the query that computes it from the flattened rows (`flat`) counted in facts. */
export interface TableDefinition extends SnapshotTable {
  readonly select: string
  /** The grain: the columns that identify a row (its key in an output topic). */
  readonly key: ReadonlyArray<string>
}

/** Rounds `cents / n` half away from zero to the cent, as the warehouse's DECIMAL(18,2) averages do. */
const average = (cents: string, n: string) => `(((${cents}) * 2 + (${n})) // (2 * (${n})))::DECIMAL(38,0) / 100`

const money = (column: string) => `(${column} * 100)::HUGEINT`

export const TABLES: ReadonlyArray<TableDefinition> = [
  {
    name: "user_transaction_summary",
    description: "Per user, transaction type and UTC day: total amount, count, average (failed transactions excluded)",
    columns: [
      { name: "user_id", type: "string" },
      { name: "transaction_type", type: "string" },
      { name: "snapshot_date", type: "date" },
      { name: "total_amount", type: "decimal(38,2)" },
      { name: "transaction_count", type: "long" },
      { name: "avg_amount", type: "decimal(18,2)" }
    ],
    select: `
      SELECT user_id, transaction_type, day AS snapshot_date,
             (sum(${money("amount")}) / 100)::DECIMAL(38,2) AS total_amount, count(*)::BIGINT AS transaction_count,
             (${average(`sum(${money("amount")})`, "count(*)")})::DECIMAL(18,2) AS avg_amount
      FROM flat GROUP BY ALL ORDER BY ALL`,
    key: ["user_id", "transaction_type", "snapshot_date"]
  },
  {
    name: "user_transaction_summary_eur",
    description: "Per user, transaction type and UTC day, in EUR at the rate in force at each transaction",
    columns: [
      { name: "user_id", type: "string" },
      { name: "transaction_type", type: "string" },
      { name: "snapshot_date", type: "date" },
      { name: "total_amount_eur", type: "decimal(38,2)" },
      { name: "transaction_count", type: "long" },
      { name: "avg_amount_eur", type: "decimal(18,2)" }
    ],
    select: `
      SELECT user_id, transaction_type, day AS snapshot_date,
             (sum(${money("amount_eur")}) / 100)::DECIMAL(38,2) AS total_amount_eur, count(*)::BIGINT AS transaction_count,
             (${average(`sum(${money("amount_eur")})`, "count(*)")})::DECIMAL(18,2) AS avg_amount_eur
      FROM flat GROUP BY ALL ORDER BY ALL`,
    key: ["user_id", "transaction_type", "snapshot_date"]
  },
  {
    name: "payment_method_totals",
    description: "Per payment method and UTC day: EUR total, count, average",
    columns: [
      { name: "payment_method_id", type: "string" },
      { name: "snapshot_date", type: "date" },
      { name: "total_amount_eur", type: "decimal(38,2)" },
      { name: "transaction_count", type: "long" },
      { name: "avg_amount_eur", type: "decimal(18,2)" }
    ],
    select: `
      SELECT payment_method_id, day AS snapshot_date,
             (sum(${money("amount_eur")}) / 100)::DECIMAL(38,2) AS total_amount_eur, count(*)::BIGINT AS transaction_count,
             (${average(`sum(${money("amount_eur")})`, "count(*)")})::DECIMAL(18,2) AS avg_amount_eur
      FROM flat GROUP BY ALL ORDER BY ALL`,
    key: ["payment_method_id", "snapshot_date"]
  },
  {
    name: "product_purchase_counts",
    description: "Per product and UTC day, over purchases: latest name and category, purchases, units, EUR revenue, average price per unit, exact distinct buyers",
    columns: [
      { name: "product_id", type: "string" },
      { name: "snapshot_date", type: "date" },
      { name: "product_name", type: "string" },
      { name: "product_category", type: "string" },
      { name: "purchase_count", type: "long" },
      { name: "units_sold", type: "long" },
      { name: "total_revenue_eur", type: "decimal(38,2)" },
      { name: "avg_price_eur", type: "decimal(18,2)" },
      { name: "unique_buyers", type: "long" }
    ],
    select: `
      SELECT product_id, day AS snapshot_date,
             arg_max(product_name, (event_time, _kafka_partition, _kafka_offset)) AS product_name,
             arg_max(product_category, (event_time, _kafka_partition, _kafka_offset)) AS product_category,
             count(*)::BIGINT AS purchase_count, sum(quantity)::BIGINT AS units_sold,
             (sum(${money("amount_eur")}) / 100)::DECIMAL(38,2) AS total_revenue_eur,
             (${average(`sum(${money("amount_eur")})`, "sum(quantity)")})::DECIMAL(18,2) AS avg_price_eur,
             count(DISTINCT user_id)::BIGINT AS unique_buyers
      FROM flat WHERE transaction_type = 'purchase' AND product_id IS NOT NULL GROUP BY product_id, day ORDER BY ALL`,
    key: ["product_id", "snapshot_date"]
  }
]

export interface SnapshotOptions {
  readonly store: Store
  /** Snapshots whose files stay on disk. */
  readonly keep: number
  /** Only these tables (default: all). */
  readonly only?: ReadonlyArray<string> | undefined
}

const FLATTENED = { kind: "streams", name: "transaction_flattened" } as const

/** Takes one snapshot of every table, from one version of `transaction_flattened`. */
export const snapshotTables = (options: SnapshotOptions): Effect.Effect<Array<SnapshotWritten>, DuckDbError | LakeIOError | DeltaLogError | Fenced> =>
  withDuckDb((db) =>
    Effect.scoped(Effect.gen(function*() {
      const sourceRoot = tableRoot(FLATTENED)
      const source = yield* readSnapshot(options.store, sourceRoot)
      const files = yield* (yield* lakeFiles(options.store)).paths([...source.files.keys()].map((f) => joinKey(sourceRoot, f)))
      // The flattened feed's txns at this version: exactly the offsets its live files hold.
      const reflects = new Map([...source.txns].filter(([appId]) => appId.startsWith(`${FLATTENED.name}@`) && !appId.endsWith(":decisions")))
      yield* db.query(`CREATE OR REPLACE TEMP VIEW flat AS
        SELECT *, (event_time AT TIME ZONE 'UTC')::DATE AS day
        FROM ${parquetRelation(files, emptyFlattened)}
        WHERE status <> 'failed'`)
      const tables = TABLES.filter((t) => options.only === undefined || options.only.includes(t.name))
      return yield* Effect.forEach(tables, (table) =>
        writeSnapshot(options.store, tableRoot({ kind: "tables", name: table.name }), table, {
          reflects,
          keep: options.keep,
          write: (file) => copyTo(db, table.select, file)
        }))
    })),
    // Taken inside the running service: DuckDB spills rather than take memory beside the windows.
    SERVICE_DUCKDB
  )

/** The columns `flat` reads, typed, for a lake that has no flattened rows yet. */
const emptyFlattened = [
  "''::VARCHAR AS user_id",
  "''::VARCHAR AS transaction_type",
  "''::VARCHAR AS status",
  "TIMESTAMPTZ '2000-01-01 00:00:00+00' AS event_time",
  "0::DECIMAL(18,2) AS amount",
  "0::DECIMAL(18,2) AS amount_eur",
  "''::VARCHAR AS payment_method_id",
  "NULL::VARCHAR AS product_id",
  "NULL::VARCHAR AS product_name",
  "NULL::VARCHAR AS product_category",
  "0::INTEGER AS quantity",
  "0::INTEGER AS _kafka_partition",
  "0::BIGINT AS _kafka_offset"
].join(", ")

const copyTo = (db: DuckDb, select: string, file: string): Effect.Effect<number, LakeIOError> =>
  db.query(`COPY (${select}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`).pipe(
    Effect.map((rows) => Number(Object.values(rows[0] ?? {})[0] ?? 0)),
    Effect.mapError((e) => new LakeIOError({ op: "write snapshot", path: file, cause: e, transient: false }))
  )

/** One snapshot of every table, logged; another instance taking the same snapshot first is no error. Then, when asked, the tables' changes are published. */
export const takeSnapshots = (options: SnapshotOptions, publish?: Omit<PublishTablesOptions, "store" | "tables">) =>
  snapshotTables(options).pipe(
    Effect.tap((written) =>
      Effect.logInfo(`snapshot: ${written.map((w) => `tables/${w.table} v${w.snapshot} (${w.rows.toLocaleString("en-US")} rows)`).join(", ")}`)
    ),
    Effect.catchTag("Fenced", (e) => Effect.logInfo(`snapshot: another instance took it first (${e.message})`).pipe(Effect.as([]))),
    Effect.andThen(
      publish === undefined ? Effect.void : publishTables({ ...publish, store: options.store, tables: TABLES }).pipe(
        Effect.tap((published) =>
          Effect.logInfo(`published: ${published.filter((p) => p.snapshot !== undefined).map((p) => `${p.topic} v${p.snapshot} (${p.rows} rows, ${p.tombstones} tombstones)`).join(", ") || "nothing new"}`)
        )
      )
    ),
    Effect.asVoid
  )
