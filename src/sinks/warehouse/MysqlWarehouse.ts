/**
 * The MySQL / MariaDB warehouse: a mysql2 pool behind Kysely, sessions in UTC, exact numbers as
 * strings, `ON DUPLICATE KEY UPDATE` upserts and `SELECT … FOR UPDATE` row locks.
 */
import { fileURLToPath } from "node:url"
import { Effect, Redacted, type Scope } from "effect"
import { CompiledQuery, Kysely, MysqlDialect, sql } from "kysely"
import { createConnection, createPool } from "mysql2"
import { redactSecrets, redactUrl } from "./ConnectionUrl.ts"
import type { Database } from "./Database.ts"
import { type Warehouse, WarehouseError } from "./Warehouse.ts"

const MIGRATIONS = fileURLToPath(new URL("../../../sql/mysql/", import.meta.url))

// What passes: a deadlock or lock wait timeout, and a server that is restarting, refusing, or
// lost mid-transaction (the offsets row decides whether a transaction whose COMMIT got no answer
// landed). Server errors by number: 1205 lock wait, 1213 deadlock, 1040 too many connections,
// 1053 server shutdown, 1927 connection killed, 2002/2003 cannot connect, 2006 gone away, 2013 lost.
const RETRYABLE_ERRNO = new Set([1205, 1213, 1040, 1053, 1927, 2002, 2003, 2006, 2013])
const RETRYABLE_CODE = new Set([
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR",
  "PROTOCOL_ENQUEUE_AFTER_QUIT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN"
])
// mysql2 says this of a pooled connection the server closed, without an error code.
const CLOSED_CONNECTION = /connection is in closed state|Connection lost/i

const toError = (op: string, cause: unknown): WarehouseError => {
  const e = cause as { errno?: number; code?: string; sqlMessage?: string; message?: string }
  const retryable = (e?.errno !== undefined && RETRYABLE_ERRNO.has(e.errno)) ||
    (e?.code !== undefined && RETRYABLE_CODE.has(e.code)) ||
    (e?.code === undefined && CLOSED_CONNECTION.test(e?.message ?? ""))
  const reason = e?.sqlMessage ? `${e.code ?? e.errno}: ${e.sqlMessage}` : (e?.message ?? String(cause))
  return new WarehouseError({ op, reason: redactSecrets(reason), retryable, cause })
}

const databaseOf = (url: URL): string => {
  const name = decodeURIComponent(url.pathname.replace(/^\//, ""))
  if (!/^[A-Za-z0-9_$]+$/.test(name)) throw new Error(`MYSQL_URL must name a database of letters, digits and _ (got "${name}")`)
  return name
}

/** The statement that creates a warehouse database if it is missing, with the collation the tables use. */
export const createDatabaseSql = (name: string): string =>
  `CREATE DATABASE IF NOT EXISTS \`${name.replaceAll("`", "``")}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`

/** Creates the URL's database when it does not exist (a connection without a database first). */
const ensureDatabase = (url: string) =>
  Effect.tryPromise({
    try: () =>
      new Promise<void>((resolve, reject) => {
        const u = new URL(url)
        const name = databaseOf(u)
        u.pathname = "/"
        const connection = createConnection({ uri: u.toString(), connectTimeout: 5_000 })
        connection.on("error", reject)
        connection.connect((connectError) => {
          if (connectError) {
            connection.destroy()
            return reject(connectError)
          }
          connection.query(createDatabaseSql(name), (error) => {
            connection.end()
            if (error) reject(error)
            else resolve()
          })
        })
      }),
    catch: (cause) => toError(`connect to ${redactUrl(url)}`, cause)
  })

/** Opens the warehouse at `url` (creating its database if needed) for the life of the scope. */
export const openMysqlWarehouse = (url: Redacted.Redacted<string>, poolSize = 8): Effect.Effect<Warehouse, WarehouseError, Scope.Scope> =>
  Effect.gen(function*() {
    const raw = Redacted.value(url)
    yield* ensureDatabase(raw)
    const db = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = createPool({
          uri: raw,
          connectionLimit: poolSize,
          connectTimeout: 10_000,
          dateStrings: true,
          supportBigNumbers: true,
          bigNumberStrings: true,
          decimalNumbers: false,
          timezone: "Z",
          charset: "utf8mb4"
        })
        return new Kysely<Database>({
          dialect: new MysqlDialect({
            pool,
            onCreateConnection: async (connection) => {
              await connection.executeQuery(CompiledQuery.raw("SET time_zone = '+00:00'"))
            }
          })
        })
      }),
      (db) => Effect.promise(() => db.destroy().catch(() => undefined))
    )
    const version = yield* Effect.tryPromise({
      try: () => sql<{ v: string }>`SELECT VERSION() AS v`.execute(db),
      catch: (cause) => toError(`connect to ${redactUrl(raw)}`, cause)
    })
    const serverVersion = version.rows[0]?.v ?? "?"
    const warehouse: Warehouse = {
      kind: "mysql",
      description: `${/mariadb/i.test(serverVersion) ? "MariaDB" : "MySQL"} ${serverVersion} at ${redactUrl(raw)}`,
      db,
      migrationsDir: MIGRATIONS,
      upsert: (qb, _keys, set) => qb.onDuplicateKeyUpdate(set((column) => sql`VALUES(${sql.ref(column)})`) as never),
      // Not INSERT IGNORE: that would also turn foreign-key, NULL and truncation errors into warnings.
      insertIgnore: (qb, keys) => qb.onDuplicateKeyUpdate({ [keys[0]!]: sql.ref(keys[0]!) } as never),
      forUpdate: (qb) => qb.forUpdate(),
      greatest: (a, b) => sql`GREATEST(${a}, ${b})`,
      least: (a, b) => sql`LEAST(${a}, ${b})`,
      // DECIMAL arithmetic is exact to 65 digits.
      addMoney: (a, b) => sql`${a} + ${b}`,
      choose: (cond, a, b) => sql`IF(${cond}, ${a}, ${b})`,
      toError,
      isDuplicateKey: (cause) => (cause as { errno?: number })?.errno === 1062,
      withMigrationLock: (use) =>
        Effect.tryPromise({
          try: () =>
            db.connection().execute(async (connection) => {
              const locked = await sql<{ l: number | string | null }>`SELECT GET_LOCK('sluice_migrate', 120) AS l`.execute(connection)
              if (Number(locked.rows[0]?.l) !== 1) throw new Error("another process holds the migration lock for over 120 s")
              try {
                return await use(connection)
              } finally {
                await sql`SELECT RELEASE_LOCK('sluice_migrate')`.execute(connection)
              }
            }),
          catch: (cause) => toError("migrate", cause)
        }),
      close: Effect.promise(() => db.destroy().catch(() => undefined))
    }
    return warehouse
  })
