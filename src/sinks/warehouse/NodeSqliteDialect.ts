/**
 * A Kysely dialect over Node's built-in `node:sqlite` (no native addon): one connection per file,
 * transactions that take the write lock up front, DECIMAL(p,s) columns read back as exact text.
 */
import type { DatabaseSync, StatementColumnMetadata, StatementSync } from "node:sqlite"
import { setTimeout as sleep } from "node:timers/promises"
import {
  CompiledQuery,
  createQueryId,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  IdentifierNode,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  RawNode,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler
} from "kysely"

/** SQLite's primary result codes that mean "another connection holds the lock". */
export const SQLITE_BUSY = 5
export const SQLITE_LOCKED = 6
/** Extended result codes of key violations. */
export const SQLITE_CONSTRAINT_PRIMARYKEY = 1555
export const SQLITE_CONSTRAINT_UNIQUE = 2067

export interface NodeSqliteDialectConfig {
  /** An open database; the driver sets its pragmas and closes it on `Kysely.destroy()`. */
  readonly database: DatabaseSync
  /**
   * How long a statement outside a transaction, or a `BEGIN IMMEDIATE`, waits for another
   * connection's write lock before failing with SQLITE_BUSY, in milliseconds. Default 10 s.
   */
  readonly busyTimeoutMs?: number
  /** Prepared statements kept for reuse (least recently used dropped first). Default 256. */
  readonly statementCacheSize?: number
  /** SQLite's page cache, in MiB (its default is 2): upserts into large indexes go faster. Default 64. */
  readonly cacheMiB?: number
}

/** The extended result code SQLite gave for an error (node:sqlite's `errcode`), if it is one. */
export const sqliteErrorCode = (cause: unknown): number | undefined => {
  const code = (cause as { errcode?: unknown } | null | undefined)?.errcode
  return typeof code === "number" ? code : undefined
}

/** Whether an error is SQLITE_BUSY or SQLITE_LOCKED (any extended variant): waiting may help. */
export const isSqliteBusy = (cause: unknown): boolean => {
  const code = sqliteErrorCode(cause)
  return code !== undefined && ((code & 0xff) === SQLITE_BUSY || (code & 0xff) === SQLITE_LOCKED)
}

/** A statement failed: SQLite's extended result code and message, and the statement (never its values). */
export class SqliteStatementError extends Error {
  readonly errcode: number | undefined
  readonly sql: string

  constructor(cause: unknown, sql: string) {
    const message = cause instanceof Error ? cause.message : String(cause)
    const code = sqliteErrorCode(cause)
    const statement = sql.length > 300 ? `${sql.slice(0, 300)}…` : sql
    super(`${message}${code === undefined ? "" : ` (SQLite code ${code})`} in: ${statement}`, { cause })
    this.name = "SqliteStatementError"
    this.errcode = code
    this.sql = sql
  }
}

/** A prepared statement with what is known of its result once and for all. */
interface Prepared {
  readonly statement: StatementSync
  /** Whether it returns rows (SELECT, RETURNING, some PRAGMAs): `all` rather than `run`. */
  readonly reader: boolean
  /** Result columns declared DECIMAL(p,s) / NUMERIC(p,s), with their scale s. */
  readonly decimals: ReadonlyArray<readonly [name: string, scale: number]>
  /** CREATE, ALTER or DROP: what the other cached statements know of their columns may be stale after it. */
  readonly ddl: boolean
}

const DDL = /^\s*(?:CREATE|ALTER|DROP)\b/i

const DECIMAL = /^\s*(?:DECIMAL|NUMERIC)\s*\(\s*\d+\s*,\s*(\d+)\s*\)\s*$/i

const decimalsOf = (columns: ReadonlyArray<StatementColumnMetadata>): Array<readonly [string, number]> => {
  const out: Array<readonly [string, number]> = []
  for (const c of columns) {
    const m = c.type === null ? null : DECIMAL.exec(c.type)
    if (m !== null) out.push([c.name, Number(m[1])])
  }
  return out
}

/**
 * A DECIMAL(p,s) column holds a REAL kept at the double nearest to its exact value (see
 * sql/sqlite/): `toFixed(s)` gives that exact value back as text, as mysql2 gives DECIMAL.
 */
const readRows = (p: Prepared, rows: Array<Record<string, unknown>>): Array<Record<string, unknown>> => {
  if (p.decimals.length === 0) return rows
  for (const row of rows) {
    for (const [name, scale] of p.decimals) {
      const v = row[name]
      if (typeof v === "number") row[name] = v.toFixed(scale)
      else if (typeof v === "bigint") row[name] = scale === 0 ? v.toString() : `${v}.${"0".repeat(scale)}`
    }
  }
  return rows
}

type SqlValue = null | number | bigint | string | NodeJS.ArrayBufferView

/** node:sqlite binds null, numbers, bigints, strings and bytes; Kysely may also pass booleans. */
const bind = (parameters: ReadonlyArray<unknown>): Array<SqlValue> =>
  parameters.map((v) => (typeof v === "boolean" ? (v ? 1 : 0) : v as SqlValue))

class NodeSqliteConnection implements DatabaseConnection {
  readonly #db: DatabaseSync
  readonly #statements = new Map<string, Prepared>()
  readonly #cacheSize: number
  readonly #busyTimeoutMs: number

  constructor(db: DatabaseSync, cacheSize: number, busyTimeoutMs: number) {
    this.#db = db
    this.#cacheSize = cacheSize
    this.#busyTimeoutMs = busyTimeoutMs
  }

  #prepare(sql: string): Prepared {
    const cached = this.#statements.get(sql)
    if (cached !== undefined) {
      this.#statements.delete(sql)
      this.#statements.set(sql, cached)
      return cached
    }
    const statement = this.#db.prepare(sql)
    const columns = statement.columns()
    const prepared: Prepared = { statement, reader: columns.length > 0, decimals: decimalsOf(columns), ddl: DDL.test(sql) }
    this.#statements.set(sql, prepared)
    if (this.#statements.size > this.#cacheSize) {
      const oldest = this.#statements.keys().next()
      if (oldest.done !== true) this.#statements.delete(oldest.value)
    }
    return prepared
  }

  #execute<R>(compiled: CompiledQuery): QueryResult<R> {
    const p = this.#prepare(compiled.sql)
    const parameters = bind(compiled.parameters)
    if (p.reader) return { rows: readRows(p, p.statement.all(...parameters) as Array<Record<string, unknown>>) as Array<R> }
    const { changes, lastInsertRowid } = p.statement.run(...parameters)
    if (p.ddl) this.#statements.clear()
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] }
  }

  /**
   * SQLite's own busy timeout would wait synchronously, blocking the event loop, and with it the
   * transaction holding the lock when both connections live in one process: the wait is done
   * here, asynchronously, with a growing sleep. Only outside a transaction (a BEGIN IMMEDIATE
   * included), where a statement that failed with SQLITE_BUSY has changed nothing; inside one,
   * the error goes up and the caller retries the whole transaction.
   */
  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = Date.now() + this.#busyTimeoutMs
    let pause = 1
    for (;;) {
      const inTransaction = this.#db.isTransaction
      try {
        return this.#execute<R>(compiled)
      } catch (e) {
        if (inTransaction || !isSqliteBusy(e) || Date.now() >= deadline) throw new SqliteStatementError(e, compiled.sql)
      }
      await sleep(pause * (0.5 + Math.random()))
      pause = Math.min(pause * 2, 50)
    }
  }

  async *streamQuery<R>(compiled: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    const p = this.#prepare(compiled.sql)
    if (!p.reader) throw new SqliteStatementError(new Error("only statements that return rows can be streamed"), compiled.sql)
    let chunk: Array<Record<string, unknown>> = []
    try {
      for (const row of p.statement.iterate(...bind(compiled.parameters))) {
        chunk.push(row as Record<string, unknown>)
        if (chunk.length >= chunkSize) {
          yield { rows: readRows(p, chunk) as Array<R> }
          chunk = []
        }
      }
    } catch (e) {
      throw new SqliteStatementError(e, compiled.sql)
    }
    if (chunk.length > 0) yield { rows: readRows(p, chunk) as Array<R> }
  }

  /** Rolls back what is open: SQLite may already have rolled back by itself (SQLITE_FULL, IOERR…). */
  rollback(): void {
    if (this.#db.isTransaction) this.#db.exec("ROLLBACK")
  }

  close(): void {
    this.#statements.clear()
    if (this.#db.isOpen) this.#db.close()
  }
}

/** Hands out the single connection to one user at a time, in arrival order. */
class ConnectionMutex {
  #tail: Promise<void> = Promise.resolve()
  #release: (() => void) | undefined

  async lock(): Promise<void> {
    const previous = this.#tail
    let release!: () => void
    this.#tail = new Promise<void>((resolve) => {
      release = resolve
    })
    await previous
    this.#release = release
  }

  unlock(): void {
    const release = this.#release
    this.#release = undefined
    release?.()
  }
}

class NodeSqliteDriver implements Driver {
  readonly #config: NodeSqliteDialectConfig
  readonly #mutex = new ConnectionMutex()
  #connection: NodeSqliteConnection | undefined

  constructor(config: NodeSqliteDialectConfig) {
    this.#config = config
  }

  async init(): Promise<void> {
    const db = this.#config.database
    // WAL: readers never wait for the writer, and a commit is one append. Foreign keys are off by
    // default in SQLite and the schema's cascades need them. SQLite's busy timeout is 0 because
    // the connection waits for locks itself, without blocking the event loop. A 64 MiB page
    // cache made windows of high-cardinality facts 14% faster than SQLite's 2 MiB default.
    db.exec("PRAGMA busy_timeout = 0")
    db.exec("PRAGMA foreign_keys = ON")
    db.exec(`PRAGMA cache_size = ${-Math.round((this.#config.cacheMiB ?? 64) * 1024)}`)
    const mode = db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode?: string } | undefined
    if (mode?.journal_mode !== "wal" && db.location() !== null) {
      throw new Error(`could not put ${db.location()} in WAL mode (journal_mode is ${mode?.journal_mode})`)
    }
    this.#connection = new NodeSqliteConnection(db, this.#config.statementCacheSize ?? 256, this.#config.busyTimeoutMs ?? 10_000)
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    // One connection: a transaction holds it from BEGIN to COMMIT, every other query waits.
    await this.#mutex.lock()
    return this.#connection!
  }

  /**
   * BEGIN IMMEDIATE takes the database's write lock at once, so that two processes on one file
   * serialize their window transactions as `SELECT … FOR UPDATE` does on MySQL (a plain BEGIN
   * would take it at the first write, after the offsets were read, and fail the later writer
   * with SQLITE_BUSY_SNAPSHOT). SQLite transactions are serializable: the isolation level and
   * access mode Kysely passes are satisfied or exceeded, and ignored.
   */
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("BEGIN IMMEDIATE"))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("COMMIT"))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    ;(connection as NodeSqliteConnection).rollback()
  }

  async savepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler["compileQuery"]): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand("savepoint", name), createQueryId()))
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler["compileQuery"]): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand("rollback to", name), createQueryId()))
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler["compileQuery"]): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand("release", name), createQueryId()))
  }

  async releaseConnection(): Promise<void> {
    this.#mutex.unlock()
  }

  async destroy(): Promise<void> {
    if (this.#connection !== undefined) this.#connection.close()
    else if (this.#config.database.isOpen) this.#config.database.close()
  }
}

/** `SAVEPOINT "name"` and friends, the name quoted as an identifier (as Kysely's own drivers do). */
const savepointCommand = (command: string, name: string) =>
  RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(name)])

/**
 * Kysely over `node:sqlite`'s DatabaseSync: SQLite's query compiler, adapter and introspector
 * with a driver of its own (Kysely's SqliteDriver expects better-sqlite3 and begins deferred
 * transactions).
 */
export class NodeSqliteDialect implements Dialect {
  readonly #config: NodeSqliteDialectConfig

  constructor(config: NodeSqliteDialectConfig) {
    this.#config = config
  }

  createDriver(): Driver {
    return new NodeSqliteDriver(this.#config)
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler()
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter()
  }

  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db)
  }
}
