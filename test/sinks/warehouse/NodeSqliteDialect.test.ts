/**
 * The Kysely dialect over node:sqlite on its own: parameters, exact DECIMAL text, rollbacks, and two
 * connections on one file serializing their transactions without blocking the event loop.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { setTimeout as sleep } from "node:timers/promises"
import { type Generated, Kysely, sql } from "kysely"
import { afterEach, describe, expect, it } from "vitest"
import { isSqliteBusy, NodeSqliteDialect, SQLITE_CONSTRAINT_UNIQUE, SqliteStatementError } from "../../../src/sinks/warehouse/NodeSqliteDialect.ts"

interface Db {
  item: { id: Generated<number>; name: string; price: string | number; flag: number | boolean }
  counter: { id: number; n: number }
}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const tempFile = (): string => {
  const dir = mkdtempSync(path.join(tmpdir(), "sluice-sqlite-"))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, "test.sqlite")
}

const connect = (file: string, busyTimeoutMs?: number): Kysely<Db> => {
  const db = new Kysely<Db>({ dialect: new NodeSqliteDialect({ database: new DatabaseSync(file), ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }) }) })
  cleanups.push(() => db.destroy())
  return db
}

const withTables = async (file = tempFile()) => {
  const db = connect(file)
  await sql`CREATE TABLE item (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, price DECIMAL(18,2) NOT NULL, flag INTEGER NOT NULL)`.execute(db)
  await sql`CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`.execute(db)
  await db.insertInto("counter").values({ id: 1, n: 0 }).execute()
  return db
}

describe("NodeSqliteDialect", () => {
  it("binds parameters, reports changes and inserted ids", async () => {
    const db = await withTables()
    const inserted = await db.insertInto("item").values([
      { name: "it's \"quoted\"; --", price: "12.30", flag: true },
      { name: "plain", price: 7, flag: false }
    ]).executeTakeFirstOrThrow()
    expect(inserted.numInsertedOrUpdatedRows).toBe(2n)
    expect(inserted.insertId).toBe(2n)
    const rows = await db.selectFrom("item").select(["id", "name", "flag"]).where("name", "in", ["it's \"quoted\"; --", "nobody"]).execute()
    expect(rows).toEqual([{ id: 1, name: "it's \"quoted\"; --", flag: 1 }])
    const updated = await db.updateTable("item").set({ flag: 0 }).where("id", ">", 0).executeTakeFirstOrThrow()
    expect(updated.numUpdatedRows).toBe(2n)
    const returned = await db.deleteFrom("item").where("name", "=", "plain").returning(["id"]).execute()
    expect(returned).toEqual([{ id: 2 }])
  })

  it("reads DECIMAL(p,s) columns as exact text with s decimals, expressions as numbers", async () => {
    const db = await withTables()
    await db.insertInto("item").values([{ name: "a", price: "0.10", flag: 0 }, { name: "b", price: "100", flag: 0 }, { name: "c", price: -0.2, flag: 0 }]).execute()
    const rows = await db.selectFrom("item").select(["name", "price", "price as alias", sql<number>`price * 2`.as("twice")]).orderBy("name").execute()
    expect(rows).toEqual([
      { name: "a", price: "0.10", alias: "0.10", twice: 0.2 },
      { name: "b", price: "100.00", alias: "100.00", twice: 200 },
      { name: "c", price: "-0.20", alias: "-0.20", twice: -0.4 }
    ])
    const streamed: Array<unknown> = []
    for await (const row of db.selectFrom("item").select("price").orderBy("name").stream(2)) streamed.push(row.price)
    expect(streamed).toEqual(["0.10", "100.00", "-0.20"])
  })

  it("forgets what cached statements knew of their columns after a schema change", async () => {
    const db = await withTables()
    await db.insertInto("counter").values({ id: 2, n: 1 }).execute()
    const all = () => sql<Record<string, unknown>>`SELECT * FROM counter WHERE id = 2`.execute(db).then((r) => r.rows)
    expect(await all()).toEqual([{ id: 2, n: 1 }])
    await sql`ALTER TABLE counter ADD COLUMN rate DECIMAL(10,3) NOT NULL DEFAULT 1.5`.execute(db)
    expect(await all()).toEqual([{ id: 2, n: 1, rate: "1.500" }])
  })

  it("sets foreign keys on and the file in WAL mode", async () => {
    const db = connect(tempFile())
    const pragmas = await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(db)
    const mode = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(db)
    expect([pragmas.rows[0]?.foreign_keys, mode.rows[0]?.journal_mode]).toEqual([1, "wal"])
  })

  it("rolls a transaction back when its callback or a statement fails", async () => {
    const db = await withTables()
    await expect(db.transaction().execute(async (trx) => {
      await trx.insertInto("item").values({ name: "kept?", price: 1, flag: 0 }).execute()
      throw new Error("changed my mind")
    })).rejects.toThrow("changed my mind")
    const failure = await db.transaction().execute(async (trx) => {
      await trx.insertInto("item").values({ name: "twice", price: 1, flag: 0 }).execute()
      await trx.insertInto("item").values({ name: "twice", price: 2, flag: 0 }).execute()
    }).then(() => undefined, (e: unknown) => e)
    expect(failure).toBeInstanceOf(SqliteStatementError)
    expect(failure).toMatchObject({ errcode: SQLITE_CONSTRAINT_UNIQUE, sql: expect.stringContaining("insert into \"item\"") })
    // The connection is usable again, outside any transaction, and nothing was kept.
    expect(await db.selectFrom("item").selectAll().execute()).toEqual([])
    await db.insertInto("item").values({ name: "after", price: 1, flag: 0 }).execute()
    expect(await db.selectFrom("item").select("name").execute()).toEqual([{ name: "after" }])
  })

  it("supports savepoints inside a controlled transaction", async () => {
    const db = await withTables()
    const trx = await db.startTransaction().execute()
    await trx.insertInto("item").values({ name: "kept", price: 1, flag: 0 }).execute()
    const inner = await trx.savepoint("maybe").execute()
    await inner.insertInto("item").values({ name: "undone", price: 1, flag: 0 }).execute()
    await inner.rollbackToSavepoint("maybe").execute()
    await trx.commit().execute()
    expect(await db.selectFrom("item").select("name").execute()).toEqual([{ name: "kept" }])
  })

  it("serializes transactions of two connections on one file: no lost update, no error", async () => {
    const file = tempFile()
    const first = await withTables(file)
    const second = connect(file)
    // Read, wait (letting the other connection run), then write what was read plus one: with a
    // deferred BEGIN both would read 0 and one would fail with SQLITE_BUSY_SNAPSHOT.
    const increment = (db: Kysely<Db>) =>
      db.transaction().execute(async (trx) => {
        const { n } = await trx.selectFrom("counter").select("n").where("id", "=", 1).executeTakeFirstOrThrow()
        await sleep(30)
        await trx.updateTable("counter").set({ n: n + 1 }).where("id", "=", 1).execute()
      })
    let ticks = 0
    const timer = setInterval(() => ticks++, 5)
    try {
      await Promise.all([increment(first), increment(second), increment(first), increment(second)])
    } finally {
      clearInterval(timer)
    }
    expect(await first.selectFrom("counter").select("n").executeTakeFirstOrThrow()).toEqual({ n: 4 })
    // The waiting connection slept asynchronously: the event loop kept turning.
    expect(ticks).toBeGreaterThan(5)
  })

  it("fails with SQLITE_BUSY once the wait for another process's lock exceeds the timeout", async () => {
    const file = tempFile()
    await withTables(file)
    const waiting = connect(file, 80)
    const holder = new DatabaseSync(file)
    holder.exec("BEGIN IMMEDIATE")
    try {
      const started = Date.now()
      const error = await waiting.transaction().execute(async () => undefined).then(() => undefined, (e: unknown) => e)
      expect(isSqliteBusy(error)).toBe(true)
      expect(Date.now() - started).toBeGreaterThanOrEqual(75)
      // Outside a transaction, a reader is never blocked by the writer (WAL).
      expect(await waiting.selectFrom("counter").select("n").executeTakeFirstOrThrow()).toEqual({ n: 0 })
    } finally {
      holder.exec("ROLLBACK")
      holder.close()
    }
    await waiting.updateTable("counter").set({ n: 5 }).execute()
    expect(await waiting.selectFrom("counter").select("n").executeTakeFirstOrThrow()).toEqual({ n: 5 })
  })
})
