/**
 * The figures an operator or analyst looks at (the dashboard and `sluice report`): DuckDB queries
 * over the live files of the lake's Delta tables, for the transactions and the sales pipeline.
 */
import { Clock, Effect } from "effect"
import { readSnapshot } from "../sinks/lake/DeltaLog.ts"
import { tableRoot } from "../sinks/lake/LakeTable.ts"
import { joinKey, type Store } from "../sinks/lake/store/Store.ts"
import { type DuckDb, parquetRelation, withDuckDb } from "./DuckDb.ts"
import type { LakeFiles } from "./LakeFiles.ts"

/** The lake the figures are read from: its store, and its objects as files DuckDB opens. */
export interface FiguresLake {
  readonly store: Store
  readonly files: LakeFiles
}

/**
 * Says whether a feed (`streams/transaction_flattened`, `_deadletter/<topic>`, `tables/<name>`)
 * may be read. The dashboard and the report ask it before each section; the default reads all.
 */
export type FeedAccess = (feed: string) => boolean

export const readAll: FeedAccess = () => true

/** Money as exact decimal text with two decimals (`"1234.50"`), never a float. */
export type Amount = string

export interface TopUser {
  readonly userId: string
  readonly name: string
  readonly country: string
  readonly amountEur: Amount
  readonly transactions: number
}

/** An amount and a count for one key (a country, a payment method, a day, a client type). */
export interface Share {
  readonly key: string
  readonly amountEur: Amount
  readonly count: number
}

export interface TransactionFigures {
  readonly transactions: number
  /** Transactions counted in amounts: every one but the `failed`, as the warehouse facts. */
  readonly counted: number
  readonly amountEur: Amount
  readonly topUsers: ReadonlyArray<TopUser>
  readonly byCountry: ReadonlyArray<Share>
  readonly byPaymentMethod: ReadonlyArray<Share>
  readonly perDay: ReadonlyArray<Share>
}

export interface DeadLetterShare {
  readonly kind: string
  readonly count: number
}

export interface TopClient {
  readonly clientNom: string
  readonly pays: string
  readonly segment: string
  readonly totalDep: Amount
}

export interface SalesFigures {
  /** The snapshot of `tables/ventes_clients` these figures come from. */
  readonly snapshot: number
  readonly topClients: ReadonlyArray<TopClient>
  /** Revenue (`chiffre_affaires`) and sales per country. */
  readonly byCountry: ReadonlyArray<Share>
  readonly byClientType: ReadonlyArray<Share & { readonly averageBasket: Amount }>
}

/** A section the reader may not see, or that the lake does not hold yet. */
export type Section<A> =
  | { readonly _tag: "Shown"; readonly value: A }
  | { readonly _tag: "Denied"; readonly feed: string }
  | { readonly _tag: "Empty"; readonly reason: string }

export interface Figures {
  readonly lake: string
  readonly topic: string
  readonly at: string
  readonly transactions: Section<TransactionFigures>
  readonly deadLetters: Section<ReadonlyArray<DeadLetterShare>>
  readonly sales: Section<SalesFigures>
}

/** The sales pipeline's versioned tables, as its snapshots write them. */
export const SALES_TABLES = { clients: "ventes_clients", pays: "ventes_pays", typeClient: "ventes_type_client" } as const

const FLATTENED = { kind: "streams", name: "transaction_flattened" } as const

/** The live Parquet files of a Delta table, through its log (never a glob: a crash may leave files no commit names). */
const liveFiles = (lake: FiguresLake, root: string) =>
  Effect.gen(function*() {
    const s = yield* readSnapshot(lake.store, root)
    return { version: s.version, files: yield* lake.files.paths([...s.files.keys()].map((f) => joinKey(root, f))), txns: s.txns }
  })

const money = (sql: string) => `(${sql})::DECIMAL(38,2)::VARCHAR`

const shares = (db: DuckDb, sql: string): Effect.Effect<Array<Share>, import("./DuckDb.ts").DuckDbError> =>
  Effect.map(db.query(sql), (rows) => rows.map((r) => ({ key: String(r.key), amountEur: String(r.amount), count: Number(r.n) })))

const transactionFigures = (db: DuckDb, files: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* db.query(`CREATE OR REPLACE TEMP VIEW tx AS SELECT * FROM ${parquetRelation(files, "NULL AS user_id")}`)
    yield* db.query(`CREATE OR REPLACE TEMP VIEW counted AS SELECT * FROM tx WHERE status <> 'failed'`)
    const [totals] = yield* db.query(`SELECT (SELECT count(*) FROM tx) AS transactions, count(*) AS counted, ${money("coalesce(sum(amount_eur), 0)")} AS amount FROM counted`)
    const topUsers = yield* db.query(`
      SELECT user_id, arg_max(user_name, (event_time, _kafka_partition, _kafka_offset)) AS name,
             arg_max(user_country, (event_time, _kafka_partition, _kafka_offset)) AS country,
             ${money("sum(amount_eur)")} AS amount, count(*) AS n
      FROM counted GROUP BY user_id ORDER BY sum(amount_eur) DESC, user_id LIMIT 10`)
    return {
      transactions: Number(totals!.transactions),
      counted: Number(totals!.counted),
      amountEur: String(totals!.amount),
      topUsers: topUsers.map((r) => ({ userId: String(r.user_id), name: String(r.name), country: String(r.country), amountEur: String(r.amount), transactions: Number(r.n) })),
      byCountry: yield* shares(db, `SELECT user_country AS key, ${money("sum(amount_eur)")} AS amount, count(*) AS n FROM counted GROUP BY 1 ORDER BY sum(amount_eur) DESC, 1`),
      byPaymentMethod: yield* shares(
        db,
        `SELECT payment_method_name AS key, ${money("sum(amount_eur)")} AS amount, count(*) AS n FROM counted GROUP BY 1 ORDER BY sum(amount_eur) DESC, 1`
      ),
      perDay: yield* shares(
        db,
        `SELECT strftime((event_time AT TIME ZONE 'UTC')::DATE, '%Y-%m-%d') AS key, ${money("sum(amount_eur)")} AS amount, count(*) AS n FROM counted GROUP BY 1 ORDER BY 1`
      )
    } satisfies TransactionFigures
  })

const salesFigures = (db: DuckDb, snapshot: number, files: { clients: ReadonlyArray<string>; pays: ReadonlyArray<string>; typeClient: ReadonlyArray<string> }) =>
  Effect.gen(function*() {
    const topClients = yield* db.query(`
      SELECT client_nom, pays, segment, ${money("total_dep")} AS total_dep_text
      FROM ${parquetRelation(files.clients, "NULL::VARCHAR AS client_id, NULL::VARCHAR AS client_nom, NULL::VARCHAR AS pays, NULL::VARCHAR AS segment, 0::DECIMAL(18,2) AS total_dep")} ORDER BY total_dep DESC, client_id LIMIT 10`)
    const byCountry = files.pays.length === 0
      ? []
      : yield* shares(db, `SELECT pays AS key, ${money("chiffre_affaires")} AS amount, nb_ventes AS n FROM ${parquetRelation(files.pays, "")} ORDER BY chiffre_affaires DESC, pays`)
    const byType = files.typeClient.length === 0
      ? []
      : yield* db.query(
        `SELECT type_client AS key, ${money("chiffre_affaires")} AS amount, nb_ventes AS n, ${money("panier_moyen")} AS basket FROM ${parquetRelation(files.typeClient, "")} ORDER BY type_client`
      )
    return {
      snapshot,
      topClients: topClients.map((r) => ({ clientNom: String(r.client_nom), pays: String(r.pays), segment: String(r.segment), totalDep: String(r.total_dep_text) })),
      byCountry,
      byClientType: byType.map((r) => ({ key: String(r.key), amountEur: String(r.amount), count: Number(r.n), averageBasket: String(r.basket) }))
    } satisfies SalesFigures
  })

/** Every figure of the dashboard, read now from the lake (the transactions of `topic`). */
export const readFigures = (lake: FiguresLake, topic: string, canRead: FeedAccess = readAll) =>
  withDuckDb((db) =>
    Effect.gen(function*() {
      const flattenedFeed = `${FLATTENED.kind}/${FLATTENED.name}`
      const deadFeed = `_deadletter/${topic}`
      let transactions: Section<TransactionFigures>
      if (!canRead(flattenedFeed)) transactions = { _tag: "Denied", feed: flattenedFeed }
      else {
        const flat = yield* liveFiles(lake, tableRoot(FLATTENED))
        transactions = flat.files.length === 0
          ? { _tag: "Empty", reason: `${flattenedFeed} holds no rows yet` }
          : { _tag: "Shown", value: yield* transactionFigures(db, flat.files) }
      }
      let deadLetters: Section<ReadonlyArray<DeadLetterShare>>
      if (!canRead(deadFeed)) deadLetters = { _tag: "Denied", feed: deadFeed }
      else {
        const dead = yield* liveFiles(lake, tableRoot({ kind: "_deadletter", name: topic }))
        deadLetters = dead.files.length === 0
          ? { _tag: "Empty", reason: `${deadFeed} holds no dead letters` }
          : {
            _tag: "Shown",
            value: (yield* db.query(`SELECT error_kind AS kind, count(*) AS n FROM ${parquetRelation(dead.files, "")} GROUP BY 1 ORDER BY 2 DESC, 1`)).map((r) => ({
              kind: String(r.kind),
              count: Number(r.n)
            }))
          }
      }
      const salesFeeds = Object.values(SALES_TABLES).map((t) => `tables/${t}`)
      let sales: Section<SalesFigures>
      const denied = salesFeeds.find((f) => !canRead(f))
      if (denied !== undefined) sales = { _tag: "Denied", feed: denied }
      else {
        const clients = yield* liveFiles(lake, tableRoot({ kind: "tables", name: SALES_TABLES.clients }))
        if (clients.version < 0) sales = { _tag: "Empty", reason: `no tables/${SALES_TABLES.clients} in the lake: the sales pipeline has not written yet` }
        else {
          const pays = yield* liveFiles(lake, tableRoot({ kind: "tables", name: SALES_TABLES.pays }))
          const typeClient = yield* liveFiles(lake, tableRoot({ kind: "tables", name: SALES_TABLES.typeClient }))
          sales = {
            _tag: "Shown",
            value: yield* salesFigures(db, clients.txns.get("snapshots") ?? clients.version, { clients: clients.files, pays: pays.files, typeClient: typeClient.files })
          }
        }
      }
      const at = new Date(yield* Clock.currentTimeMillis).toISOString()
      return { lake: lake.store.localPath("") ?? lake.store.url, topic, at, transactions, deadLetters, sales } satisfies Figures
    })
  )
