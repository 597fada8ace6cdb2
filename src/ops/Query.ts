/**
 * `sluice query`: DuckDB over the lake's feeds as named views (`streams.<feed>`, `tables.<feed>`,
 * `_deadletter.<topic>`; streams and tables also unqualified), each over the live files of its Delta
 * table at one version, never a glob. A query runs as a user when one is named: it may touch only
 * the feeds that user may read, and DuckDB may open no other file.
 */
import { Data, Effect } from "effect"
import type { Decision } from "../domain/Permission.ts"
import { declaredColumns } from "../feeds/DeclaredFeed.ts"
import { type FeedEntry, feedFolder } from "../feeds/FeedEntry.ts"
import { deltaSchemaString } from "../sinks/lake/Columns.ts"
import { type DeltaLogError, readSnapshot } from "../sinks/lake/DeltaLog.ts"
import type { FeedKind } from "../sinks/lake/Feeds.ts"
import { datePartitionColumns } from "../sinks/lake/HivePartition.ts"
import { baseName, joinKey, type LakeIOError, parentKey, type Store } from "../sinks/lake/store/Store.ts"
import { type DuckDb, type DuckDbError, type JsonResult, sqlString, withDuckDb } from "./DuckDb.ts"
import type { LakeFiles } from "./LakeFiles.ts"
import { lakeTables } from "./Maintenance.ts"

/** A query the command will not run: not one SELECT, or a feed the user may not read. */
export class QueryRefused extends Data.TaggedError("QueryRefused")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** The schemas views live in, named after the lake's folders; unqualified names resolve in the first two, in order. */
export const VIEW_SCHEMAS: ReadonlyArray<FeedKind> = ["streams", "tables", "_deadletter"]
const SEARCH_PATH: ReadonlyArray<FeedKind> = ["streams", "tables"]

/** One Delta table of the lake, as a view reads it. */
export interface LakeView {
  readonly kind: FeedKind
  readonly name: string
  /** Its folder relative to the lake (`streams/orders`): what permissions name. */
  readonly folder: string
  /** Its live files at the version read: their keys in the lake's store (local files once a query reads them). */
  readonly files: ReadonlyArray<string>
  /** Its columns as the Delta schema declares them (DuckDB types), partition columns included. */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>
  readonly partitionColumns: ReadonlyArray<string>
  /** The table version read (-1: a declared feed with no table yet). */
  readonly version: number
}

const quote = (identifier: string): string => `"${identifier.replaceAll('"', '""')}"`

/** The DuckDB type of a Delta schema type. */
export const duckDbType = (type: unknown): string => {
  if (typeof type === "string") {
    const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type)
    if (decimal !== null) return `DECIMAL(${decimal[1]},${decimal[2]})`
    const simple: Record<string, string> = {
      string: "VARCHAR", long: "BIGINT", integer: "INTEGER", short: "SMALLINT", byte: "TINYINT", double: "DOUBLE", float: "FLOAT",
      boolean: "BOOLEAN", binary: "BLOB", timestamp: "TIMESTAMPTZ", timestamp_ntz: "TIMESTAMP", date: "DATE"
    }
    const t = simple[type]
    if (t === undefined) throw new Error(`Delta type ${type} has no DuckDB type here`)
    return t
  }
  const t = type as { type: string; fields?: Array<{ name: string; type: unknown }>; elementType?: unknown; keyType?: unknown; valueType?: unknown }
  if (t.type === "struct") return `STRUCT(${(t.fields ?? []).map((f) => `${quote(f.name)} ${duckDbType(f.type)}`).join(", ")})`
  if (t.type === "array") return `${duckDbType(t.elementType)}[]`
  if (t.type === "map") return `MAP(${duckDbType(t.keyType)}, ${duckDbType(t.valueType)})`
  throw new Error(`Delta type ${JSON.stringify(type)} has no DuckDB type here`)
}

const columnsOf = (schemaString: string) =>
  (JSON.parse(schemaString) as { fields: Array<{ name: string; type: unknown }> }).fields.map((f) => ({ name: f.name, type: duckDbType(f.type) }))

/**
 * Every table of the lake (streams, tables, dead letters) at its latest version, and the declared
 * feeds that have none yet, as empty views of their declared columns.
 */
export const lakeViews = (store: Store, declared: ReadonlyArray<FeedEntry>): Effect.Effect<Array<LakeView>, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const views: Array<LakeView> = []
    for (const root of yield* lakeTables(store)) {
      const snapshot = yield* readSnapshot(store, root)
      if (snapshot.metaData === undefined) continue
      const kind = baseName(parentKey(root)) as FeedKind
      const name = baseName(root)
      views.push({
        kind,
        name,
        folder: `${kind}/${name}`,
        files: [...snapshot.files.keys()].map((f) => joinKey(root, f)),
        columns: columnsOf(snapshot.metaData.schemaString),
        partitionColumns: snapshot.metaData.partitionColumns,
        version: snapshot.version
      })
    }
    for (const entry of declared) {
      if (views.some((v) => v.folder === feedFolder(entry))) continue
      views.push({
        kind: entry.type === "stream" ? "streams" : "tables",
        name: entry.name,
        folder: feedFolder(entry),
        files: [],
        columns: columnsOf(deltaSchemaString(declaredColumns(entry.schema), datePartitionColumns)),
        partitionColumns: datePartitionColumns.map((c) => c.name),
        version: -1
      })
    }
    return views
  })

/** The statement that creates a view: its live files with their partition values, or no row of its declared columns. */
export const viewSql = (view: LakeView): string => {
  const name = `${quote(view.kind)}.${quote(view.name)}`
  if (view.files.length === 0) {
    const columns = view.columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quote(c.name)}`).join(", ")
    return `CREATE VIEW ${name} AS SELECT ${columns} WHERE false`
  }
  const files = `[${view.files.map(sqlString).join(", ")}]`
  // Files written before a column was declared lack it: union_by_name reads it as null there.
  if (view.partitionColumns.length === 0) return `CREATE VIEW ${name} AS SELECT * FROM read_parquet(${files}, union_by_name = true)`
  const partitions = view.partitionColumns.map(quote).join(", ")
  const types = view.partitionColumns.map((p) => `${sqlString(p)}: ${view.columns.find((c) => c.name === p)?.type ?? "VARCHAR"}`).join(", ")
  return `CREATE VIEW ${name} AS SELECT * EXCLUDE (${partitions}), ${partitions} FROM read_parquet(${files}, hive_partitioning = true, union_by_name = true, hive_types = {${types}})`
}

/** A relation a query names: its schema ("" when unqualified) and name. */
export interface Relation {
  readonly schema: string
  readonly name: string
}

/**
 * The relations one SELECT statement reads, by DuckDB's own parser (CTE names excepted); refused
 * when the text is not exactly one SELECT (WITH, FROM-first, DESCRIBE, SUMMARIZE and SHOW are).
 */
export const relationsOf = (db: DuckDb, sql: string): Effect.Effect<Array<Relation>, QueryRefused | DuckDbError> =>
  Effect.gen(function*() {
    const [row] = yield* db.query(`SELECT json_serialize_sql(${sqlString(sql)}) AS j`)
    const tree = JSON.parse(String(row?.j)) as { error: boolean; error_type?: string; error_message?: string; statements?: Array<unknown> }
    if (tree.error) {
      return yield* new QueryRefused({
        reason: tree.error_type === "not implemented"
          ? "sluice query runs one SELECT statement (WITH, FROM, DESCRIBE, SUMMARIZE and SHOW included): it reads the lake, it changes nothing"
          : `the query does not parse: ${tree.error_message ?? tree.error_type}`
      })
    }
    const statements = tree.statements ?? []
    if (statements.length !== 1) return yield* new QueryRefused({ reason: `sluice query runs one statement at a time, not ${statements.length}` })
    const relations: Array<Relation> = []
    const ctes = new Set<string>()
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk)
      if (node === null || typeof node !== "object") return
      const n = node as Record<string, unknown>
      if (n.type === "BASE_TABLE") relations.push({ schema: String(n.schema_name ?? ""), name: String(n.table_name ?? "") })
      const map = (n.cte_map as { map?: Array<{ key: string }> } | undefined)?.map
      for (const cte of map ?? []) ctes.add(cte.key.toLowerCase())
      for (const v of Object.values(n)) walk(v)
    }
    walk(statements)
    return relations.filter((r) => !(r.schema === "" && ctes.has(r.name.toLowerCase())))
  })

/** The view a relation names, resolved as DuckDB resolves it (unqualified: streams, then tables); undefined for anything else. */
export const viewOf = (views: ReadonlyArray<LakeView>, relation: Relation): LakeView | undefined => {
  const named = (kind: string) => views.find((v) => v.kind === kind && v.name.toLowerCase() === relation.name.toLowerCase())
  if (relation.schema === "") {
    for (const kind of SEARCH_PATH) {
      const v = named(kind)
      if (v !== undefined) return v
    }
    return undefined
  }
  return VIEW_SCHEMAS.includes(relation.schema.toLowerCase() as FeedKind) ? named(relation.schema.toLowerCase()) : undefined
}

/** Who a query runs as: the user, and what they may read. */
export interface QueryUser {
  readonly email: string
  /** Whether the user may read a folder of the lake, and through which grant. */
  readonly mayRead: (folder: string) => Decision
}

export interface QueryOptions {
  readonly views: ReadonlyArray<LakeView>
  /** The lake's objects as files: in place for a folder, fetched from a bucket for the views a query names. */
  readonly files: LakeFiles
  readonly sql: string
  /** Undefined: the operator, who reads every feed. */
  readonly user: QueryUser | undefined
}

/**
 * Runs one SELECT over the views. As a user: a query naming a feed the user may not read is
 * refused before it runs, only the views of the feeds they may read exist, and DuckDB may open no
 * file but theirs (external access off, the allowed paths locked).
 */
export const runQuery = (options: QueryOptions): Effect.Effect<JsonResult, QueryRefused | DuckDbError | LakeIOError> =>
  withDuckDb((db) =>
    Effect.gen(function*() {
      const { user, views } = options
      const relations = yield* relationsOf(db, options.sql)
      const readable = user === undefined ? views : views.filter((v) => user.mayRead(v.folder).allowed)
      if (user !== undefined) {
        const refused = [...new Set(relations.map((r) => viewOf(views, r)).filter((v): v is LakeView => v !== undefined && !readable.includes(v)).map((v) => v.folder))]
        if (refused.length > 0) {
          const why = refused.map((folder) => {
            const d = user.mayRead(folder)
            return `${folder} (${d.through === undefined ? "no grant in force covers it" : `${d.through.permission} on ${d.through.folder} is not read`})`
          })
          return yield* new QueryRefused({ reason: `permission denied: ${user.email} may not read ${why.join(", ")}` })
        }
      }
      // A bucket's files are fetched only for the views the query names; the others stay empty, with their columns.
      const named = new Set(relations.map((r) => viewOf(views, r)))
      const local = yield* Effect.forEach(readable, (view) =>
        options.files.inPlace || named.has(view)
          ? Effect.map(options.files.paths(view.files), (files) => ({ ...view, files }))
          : Effect.succeed({ ...view, files: [] }))
      yield* db.query("SET TimeZone = 'UTC'")
      for (const schema of VIEW_SCHEMAS) yield* db.query(`CREATE SCHEMA ${quote(schema)}`)
      for (const view of local) yield* db.query(viewSql(view))
      yield* db.query(`SET search_path = ${sqlString(SEARCH_PATH.join(","))}`)
      if (user !== undefined) {
        yield* db.query(`SET allowed_paths = [${local.flatMap((v) => v.files).map(sqlString).join(", ")}]`)
        yield* db.query("SET enable_external_access = false")
        yield* db.query("SET lock_configuration = true")
      }
      return yield* db.queryJson(options.sql).pipe(
        Effect.mapError((e): QueryRefused | DuckDbError =>
          user !== undefined && /Permission Error/.test(String((e.cause as Error)?.message))
            ? new QueryRefused({ reason: `permission denied: as ${user.email}, a query reads the lake only through the views of the feeds they may read (${readable.map((v) => `${v.kind}.${v.name}`).join(", ") || "none"})` })
            : e)
      )
    })
  )
