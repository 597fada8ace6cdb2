/**
 * DuckDB, in process, as the engine that reads the lake back: verification, queries and tests.
 * Values come back as plain JS (bigint for BIGINT, numbers for INTEGER, strings for DECIMAL text).
 */
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api"
import { Data, Effect } from "effect"

export class DuckDbError extends Data.TaggedError("DuckDbError")<{ readonly sql: string; readonly cause: unknown }> {
  override get message(): string {
    return `DuckDB: ${(this.cause as Error)?.message ?? String(this.cause)} in: ${this.sql.slice(0, 200)}`
  }
}

export interface DuckDb {
  readonly query: (sql: string) => Effect.Effect<Array<Record<string, unknown>>, DuckDbError>
}

/** An in-memory DuckDB for the duration of `use`. */
export const withDuckDb = <A, E, R>(use: (db: DuckDb) => Effect.Effect<A, E, R>): Effect.Effect<A, E | DuckDbError, R> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: async () => {
        const instance = await DuckDBInstance.create(":memory:")
        return { instance, connection: await instance.connect() }
      },
      catch: (cause) => new DuckDbError({ sql: "<open>", cause })
    }),
    ({ connection }) => use({ query: (sql) => runQuery(connection, sql) }),
    ({ connection, instance }) =>
      Effect.sync(() => {
        connection.closeSync()
        instance.closeSync()
      })
  )

const runQuery = (connection: DuckDBConnection, sql: string) =>
  Effect.tryPromise({
    try: async () => (await connection.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>,
    catch: (cause) => new DuckDbError({ sql, cause })
  })

/** A SQL string literal. */
export const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`

/** `read_parquet([...])` over explicit files, or an empty relation with the given columns when there are none. */
export const parquetRelation = (files: ReadonlyArray<string>, emptyColumns: string): string =>
  files.length === 0
    ? `(SELECT ${emptyColumns} WHERE false)`
    : `read_parquet([${files.map(sqlString).join(", ")}], hive_partitioning = false)`
