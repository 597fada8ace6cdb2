/**
 * The warehouse connection, with what differs between databases behind one small interface (as
 * Kysely's dialects do): upsert syntax, row locks, retryable errors, migration locks.
 */
import { Data, type Effect } from "effect"
import type { Expression, InsertQueryBuilder, Kysely, RawBuilder, SelectQueryBuilder } from "kysely"
import type { Database } from "./Database.ts"

/** A warehouse statement failed; `retryable` says whether running the transaction again can help. */
export class WarehouseError extends Data.TaggedError("WarehouseError")<{
  readonly op: string
  readonly reason: string
  readonly retryable: boolean
  readonly cause?: unknown
}> {
  override get message(): string {
    return `warehouse ${this.op}: ${this.reason}`
  }
}

/** Builds the values an upsert sets, from a function naming the inserted row's value of a column. */
export type UpsertSet = (inserted: (column: string) => RawBuilder<any>) => Record<string, Expression<any> | RawBuilder<any>>

export interface Warehouse {
  readonly kind: "mysql" | "sqlite"
  /** A human line: which database, where (password masked), which version. */
  readonly description: string
  readonly db: Kysely<Database>
  /** The folder of this database's numbered migrations. */
  readonly migrationsDir: string
  /** Adds "on a key conflict, update `set`" to an insert. */
  readonly upsert: <DB, TB extends keyof DB, O>(
    qb: InsertQueryBuilder<DB, TB, O>,
    keys: ReadonlyArray<string>,
    set: UpsertSet
  ) => InsertQueryBuilder<DB, TB, O>
  /** Makes an insert skip rows whose key exists. */
  readonly insertIgnore: <DB, TB extends keyof DB, O>(qb: InsertQueryBuilder<DB, TB, O>, keys: ReadonlyArray<string>) => InsertQueryBuilder<DB, TB, O>
  /** Locks the selected rows until the transaction ends (where the database needs it). */
  readonly forUpdate: <DB, TB extends keyof DB, O>(qb: SelectQueryBuilder<DB, TB, O>) => SelectQueryBuilder<DB, TB, O>
  readonly greatest: (a: Expression<any>, b: Expression<any>) => RawBuilder<any>
  readonly least: (a: Expression<any>, b: Expression<any>) => RawBuilder<any>
  /** `a + b` of two money (DECIMAL) values, exact whatever their size. */
  readonly addMoney: (a: Expression<any>, b: Expression<any>) => RawBuilder<any>
  /** `if (cond) then a else b`. */
  readonly choose: (cond: Expression<any>, a: Expression<any>, b: Expression<any>) => RawBuilder<any>
  /** Whether a driver error is a primary or unique key violation. */
  readonly isDuplicateKey: (cause: unknown) => boolean
  /** Converts a driver error: deadlocks, lock waits and busy databases are retryable. */
  readonly toError: (op: string, cause: unknown) => WarehouseError
  /** Runs `use` on one connection holding the migration lock, so that concurrent starts migrate once. */
  readonly withMigrationLock: <A>(use: (db: Kysely<Database>) => Promise<A>) => Effect.Effect<A, WarehouseError>
  readonly close: Effect.Effect<void>
}
