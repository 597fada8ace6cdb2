/**
 * DuckDB, in process, as the engine that reads the lake back: verification, queries and tests.
 * Values come back as plain JS (bigint for BIGINT, numbers for INTEGER, strings for DECIMAL text).
 */
import type { DuckDBConnection, Json } from "@duckdb/node-api"
import { Data, Effect } from "effect"

export class DuckDbError extends Data.TaggedError("DuckDbError")<{ readonly sql: string; readonly cause: unknown }> {
  override get message(): string {
    return `DuckDB: ${(this.cause as Error)?.message ?? String(this.cause)} in: ${this.sql.slice(0, 200)}`
  }
}

export interface DuckDb {
  readonly query: (sql: string) => Effect.Effect<Array<Record<string, unknown>>, DuckDbError>
  /** Rows as JSON values (exact decimals and big integers as text, instants as text), with each column's name and type. */
  readonly queryJson: (sql: string) => Effect.Effect<JsonResult, DuckDbError>
}

/** A result as JSON values, its columns in order (names may repeat). */
export interface JsonResult {
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>
  readonly rows: ReadonlyArray<ReadonlyArray<Json>>
}

/** DuckDB's settings for one instance. */
export interface DuckDbOptions {
  /**
   * DuckDB's `memory_limit` (it spills past it), for the instances a running service opens beside
   * its windows; DuckDB's own default is 80% of the machine's memory.
   */
  readonly memoryLimitMb?: number | undefined
  /** DuckDB's `threads` (its default: one per core); each thread holds buffers of its own. */
  readonly threads?: number | undefined
}

/**
 * The settings of the DuckDB that `run` snapshots the lake's tables with: past `memory_limit` DuckDB
 * spills. Measured on a 1M-message lake of 2,976 files per feed, a snapshot alone peaked at 761 MB
 * of RSS with DuckDB's defaults, 504 MB with 128 MB; on one of 3,000 small files per feed, 468 MB
 * with 128 MB and 2 threads, 433 MB with 64 MB and 1 thread, in less time (88 s against 102 s).
 */
export const SERVICE_DUCKDB: DuckDbOptions = { memoryLimitMb: 64, threads: 1 }

/** An in-memory DuckDB for the duration of `use`. */
export const withDuckDb = <A, E, R>(use: (db: DuckDb) => Effect.Effect<A, E, R>, options: DuckDbOptions = {}): Effect.Effect<A, E | DuckDbError, R> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: async () => {
        // Loaded on first use: a service that never queries (its snapshots are taken in a process of
        // their own) does not map DuckDB's library, about 10 MB of resident memory once loaded.
        const { DuckDBInstance } = await import("@duckdb/node-api")
        const instance = await DuckDBInstance.create(":memory:", {
          ...(options.memoryLimitMb === undefined ? {} : { memory_limit: `${options.memoryLimitMb}MB` }),
          ...(options.threads === undefined ? {} : { threads: String(options.threads) })
        })
        return { instance, connection: await instance.connect() }
      },
      catch: (cause) => new DuckDbError({ sql: "<open>", cause })
    }),
    ({ connection }) => use({ query: (sql) => runQuery(connection, sql), queryJson: (sql) => runQueryJson(connection, sql) }),
    ({ connection, instance }) =>
      Effect.sync(() => {
        connection.closeSync()
        instance.closeSync()
      })
  )

// A query runs to its end even when its fiber is interrupted (a service stopping, a snapshot job
// cancelled): the release would otherwise close the connection under the running query, and
// DuckDB then deadlocks destroying the context the query holds locked, and the process never exits.
const runQuery = (connection: DuckDBConnection, sql: string) =>
  Effect.uninterruptible(Effect.tryPromise({
    try: async () => (await connection.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>,
    catch: (cause) => new DuckDbError({ sql, cause })
  }))

const runQueryJson = (connection: DuckDBConnection, sql: string) =>
  Effect.uninterruptible(Effect.tryPromise({
    try: async (): Promise<JsonResult> => {
      const reader = await connection.runAndReadAll(sql)
      const types = reader.columnTypes()
      return { columns: reader.columnNames().map((name, i) => ({ name, type: String(types[i]) })), rows: reader.getRowsJson() }
    },
    catch: (cause) => new DuckDbError({ sql, cause })
  }))

/** A SQL string literal. */
export const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`

/** `read_parquet([...])` over explicit files, or an empty relation with the given columns when there are none. */
export const parquetRelation = (files: ReadonlyArray<string>, emptyColumns: string): string =>
  files.length === 0
    ? `(SELECT ${emptyColumns} WHERE false)`
    : `read_parquet([${files.map(sqlString).join(", ")}], hive_partitioning = false)`
