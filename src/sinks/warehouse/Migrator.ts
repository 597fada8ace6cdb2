/**
 * Applies the numbered SQL migrations of the warehouse's dialect folder (`sql/<dialect>/NNNN_name.sql`)
 * once each, recording version, name and checksum in `sluice_migrations`; safe to run concurrently.
 */
import { createHash } from "node:crypto"
import { readdir, readFile } from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { type Kysely, sql } from "kysely"
import type { Database } from "./Database.ts"
import type { Warehouse, WarehouseError } from "./Warehouse.ts"

export interface Migration {
  readonly version: number
  readonly name: string
  readonly file: string
  readonly text: string
  readonly checksum: string
}

export interface MigrationReport {
  readonly applied: ReadonlyArray<Migration>
  readonly alreadyApplied: number
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/

/** The migrations of a folder, in version order. */
export const loadMigrations = async (dir: string): Promise<Array<Migration>> => {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort()
  const migrations: Array<Migration> = []
  for (const file of files) {
    const m = FILE.exec(file)
    if (m === null) throw new Error(`${path.join(dir, file)}: migration files are named NNNN_name.sql`)
    const text = await readFile(path.join(dir, file), "utf8")
    migrations.push({ version: Number(m[1]), name: m[2]!, file, text, checksum: createHash("sha256").update(text).digest("hex") })
  }
  return migrations
}

/** The statements of a migration: split at semicolons that end a line, comments dropped. */
export const statementsOf = (text: string): Array<string> =>
  text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)

const ledger = `CREATE TABLE IF NOT EXISTS sluice_migrations (
  version     INT          NOT NULL PRIMARY KEY,
  name        VARCHAR(255) NOT NULL,
  checksum    CHAR(64)     NOT NULL,
  applied_at  VARCHAR(32)  NOT NULL
)`

const applyPending = async (db: Kysely<Database>, migrations: ReadonlyArray<Migration>): Promise<MigrationReport> => {
  await sql.raw(ledger).execute(db)
  const done = new Map((await db.selectFrom("sluice_migrations").selectAll().execute()).map((m) => [Number(m.version), m]))
  const applied: Array<Migration> = []
  for (const m of migrations) {
    const previous = done.get(m.version)
    if (previous !== undefined) {
      if (previous.checksum !== m.checksum) {
        throw new Error(`migration ${m.file} was changed after it was applied (checksum ${previous.checksum.slice(0, 12)}… in the database); add a new migration instead`)
      }
      continue
    }
    for (const statement of statementsOf(m.text)) {
      try {
        await sql.raw(statement).execute(db)
      } catch (e) {
        throw new Error(`${m.file}: ${(e as Error).message} in: ${statement.slice(0, 120)}…`, { cause: e })
      }
    }
    await db.insertInto("sluice_migrations")
      .values({ version: m.version, name: m.name, checksum: m.checksum, applied_at: new Date().toISOString() })
      .execute()
    applied.push(m)
  }
  return { applied, alreadyApplied: done.size }
}

/** Applies what has not been applied yet, under the warehouse's migration lock. */
export const migrate = (warehouse: Warehouse): Effect.Effect<MigrationReport, WarehouseError> =>
  Effect.gen(function*() {
    const migrations = yield* Effect.tryPromise({
      try: () => loadMigrations(warehouse.migrationsDir),
      catch: (cause) => warehouse.toError("read migrations", cause)
    })
    return yield* warehouse.withMigrationLock((db) => applyPending(db, migrations))
  })
