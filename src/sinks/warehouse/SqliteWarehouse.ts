/**
 * The embedded warehouse: one SQLite file through Node's built-in `node:sqlite`, for machines with
 * no MySQL. Same logical schema and exactly-once protocol; the write lock stands in for row locks.
 */
import { mkdir } from "node:fs/promises"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"
import { Kysely, sql } from "kysely"
import type { Database } from "./Database.ts"
import {
  isSqliteBusy,
  NodeSqliteDialect,
  SQLITE_CONSTRAINT_PRIMARYKEY,
  SQLITE_CONSTRAINT_UNIQUE,
  sqliteErrorCode
} from "./NodeSqliteDialect.ts"
import { registerDecimalFunctions } from "./SqliteDecimal.ts"
import { type Warehouse, WarehouseError } from "./Warehouse.ts"

const MIGRATIONS = fileURLToPath(new URL("../../../sql/sqlite/", import.meta.url))

export interface SqliteWarehouseOptions {
  /** How long a window's transaction waits for another process's write lock, in ms, before a retryable SQLITE_BUSY. */
  readonly busyTimeoutMs?: number
}

/** SQLITE_BUSY / SQLITE_LOCKED (another process holds the file's write lock) are retryable. */
const toError = (op: string, cause: unknown): WarehouseError =>
  new WarehouseError({ op, reason: cause instanceof Error ? cause.message : String(cause), retryable: isSqliteBusy(cause), cause })

/** The file as a person would name it: relative to the working folder when it lies below it. */
const shown = (file: string): string => {
  if (file === ":memory:") return "an in-memory database"
  const relative = path.relative(process.cwd(), path.resolve(file))
  return relative.startsWith("..") || path.isAbsolute(relative) ? path.resolve(file) : relative
}

/** Opens (creating the file and its folder if needed) the embedded warehouse for the life of the scope. */
export const openSqliteWarehouse = (file: string, options: SqliteWarehouseOptions = {}): Effect.Effect<Warehouse, WarehouseError, Scope.Scope> =>
  Effect.gen(function*() {
    const where = shown(file)
    if (file !== ":memory:") {
      yield* Effect.tryPromise({
        try: () => mkdir(path.dirname(path.resolve(file)), { recursive: true }),
        catch: (cause) => toError(`create the folder of ${where}`, cause)
      })
    }
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const database = new DatabaseSync(file, { timeout: 0 })
          registerDecimalFunctions(database)
          return new Kysely<Database>({ dialect: new NodeSqliteDialect({ database, busyTimeoutMs: options.busyTimeoutMs ?? 10_000 }) })
        },
        catch: (cause) => toError(`open ${where}`, cause)
      }),
      (db) => Effect.promise(() => db.destroy().catch(() => undefined))
    )
    // The first query runs the driver's init (pragmas, WAL): a file that cannot be written fails here.
    const version = yield* Effect.tryPromise({
      try: () => sql<{ v: string }>`SELECT sqlite_version() AS v`.execute(db),
      catch: (cause) => toError(`open ${where}`, cause)
    })
    const warehouse: Warehouse = {
      kind: "sqlite",
      description: `embedded SQLite ${version.rows[0]?.v ?? "?"} at ${where}`,
      db,
      migrationsDir: MIGRATIONS,
      // In DO UPDATE every expression reads the row as it was before the update (MySQL reads
      // columns already assigned to their left): the sink's assignments give the same result.
      upsert: (qb, keys, set) =>
        qb.onConflict((oc) => oc.columns(keys as never).doUpdateSet(set((column) => sql`excluded.${sql.ref(column)}`) as never)),
      // Only a conflict on that key is skipped (INSERT OR IGNORE would also swallow NOT NULL and CHECK failures).
      insertIgnore: (qb, keys) => qb.onConflict((oc) => oc.columns(keys as never).doNothing()),
      // The transaction began IMMEDIATE: it already holds the only write lock there is.
      forUpdate: (qb) => qb,
      greatest: (a, b) => sql`MAX(${a}, ${b})`,
      least: (a, b) => sql`MIN(${a}, ${b})`,
      // Money is exact decimal text (sql/sqlite/0002_wider_facts.sql): `+` would add doubles.
      addMoney: (a, b) => sql`decimal_add(${a}, ${b})`,
      choose: (cond, a, b) => sql`CASE WHEN ${cond} THEN ${a} ELSE ${b} END`,
      isDuplicateKey: (cause) => {
        const code = sqliteErrorCode(cause)
        return code === SQLITE_CONSTRAINT_PRIMARYKEY || code === SQLITE_CONSTRAINT_UNIQUE
      },
      toError,
      // SQLite's DDL is transactional: one IMMEDIATE transaction both serializes concurrent
      // migrators and applies a migration wholly or not at all.
      withMigrationLock: (use) =>
        Effect.tryPromise({
          try: () => db.transaction().execute((trx) => use(trx)),
          catch: (cause) => toError("migrate", cause)
        }),
      close: Effect.promise(() => db.destroy().catch(() => undefined))
    }
    return warehouse
  })
