/**
 * The embedded warehouse against a temporary file: migrations, the exactly-once sink (exact facts,
 * fencing, replays), cascades, parameterised values, exact money, and its error mapping.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { Effect, Exit, Result, Scope } from "effect"
import { sql } from "kysely"
import { afterEach, describe, expect, it } from "vitest"
import type { EurTransaction } from "../../../src/domain/ExchangeRate.ts"
import { centsToDecimal } from "../../../src/domain/Money.ts"
import { migrate } from "../../../src/sinks/warehouse/Migrator.ts"
import { openSqliteWarehouse, type SqliteWarehouseOptions } from "../../../src/sinks/warehouse/SqliteWarehouse.ts"
import type { Warehouse } from "../../../src/sinks/warehouse/Warehouse.ts"
import { makeWarehouseSink } from "../../../src/sinks/warehouse/WarehouseSink.ts"
import { eurTransactions, spOf, windowOf as windowAt, writeTestWindow } from "../../support/Windows.ts"

const TOPIC = "transaction_stream"
const options = { group: "sluice", chunkSize: 500, outage: { deadlineMs: 2_000, firstDelayMs: 50, maxDelayMs: 200 } }
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const tempFile = (): string => {
  const dir = mkdtempSync(path.join(tmpdir(), "sluice-warehouse-"))
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
  // A folder that does not exist yet: opening creates it.
  return path.join(dir, "data", "warehouse.sqlite")
}

/** Opens a warehouse on `file` until the end of the test. */
const open = async (file: string, more: SqliteWarehouseOptions = {}): Promise<Warehouse> => {
  const scope = await run(Scope.make())
  cleanups.push(() => run(Scope.close(scope, Exit.void)))
  return run(Scope.provide(scope)(openSqliteWarehouse(file, more)))
}

const migrated = async (file = tempFile()): Promise<Warehouse> => {
  const warehouse = await open(file)
  await run(migrate(warehouse))
  return warehouse
}

const transactions = (seed: number, n: number): Array<EurTransaction> => eurTransactions(n, seed, { users: 60, products: 12, days: 3 })
const windowOf = (partition: number, from: number, values: ReadonlyArray<EurTransaction>) => windowAt(TOPIC, partition, from, values)

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10)
/** total / count in cents, rounded half away from zero, as DECIMAL(18,2) text. */
const average = (cents: number, count: number) => centsToDecimal(Math.sign(cents) * Math.floor((2 * Math.abs(cents) + count) / (2 * count)))

/** The facts recomputed from the transactions, independently of the sink's aggregation. */
const expectedFacts = (all: ReadonlyArray<EurTransaction>) => {
  const users = new Map<string, { cents: number; eurCents: number; count: number }>()
  const buyers = new Map<string, Set<string>>()
  for (const t of all) {
    if (t.status === "failed") continue
    const key = `${t.user.id}|${t.transactionType}|${utcDay(t.eventTimeMs)}`
    const f = users.get(key) ?? { cents: 0, eurCents: 0, count: 0 }
    f.cents += t.amountCents
    f.eurCents += t.amountEurCents
    f.count += 1
    users.set(key, f)
    if (t.transactionType === "purchase" && t.product !== null) {
      const productDay = `${t.product.id}|${utcDay(t.eventTimeMs)}`
      buyers.set(productDay, (buyers.get(productDay) ?? new Set()).add(t.user.id))
    }
  }
  return {
    counted: all.filter((t) => t.status !== "failed").length,
    users: new Map([...users].map(([k, f]) => [k, { total: centsToDecimal(f.cents), count: f.count, avg: average(f.cents, f.count) }])),
    usersEur: new Map([...users].map(([k, f]) => [k, { total: centsToDecimal(f.eurCents), count: f.count, avg: average(f.eurCents, f.count) }])),
    buyers: new Map([...buyers].map(([k, s]) => [k, s.size]))
  }
}

const factsOf = async (w: Warehouse) => {
  const users = await w.db.selectFrom("fact_user_transaction_summary").selectAll().execute()
  const usersEur = await w.db.selectFrom("fact_user_transaction_summary_eur").selectAll().execute()
  const products = await w.db.selectFrom("fact_product_purchase_counts").selectAll().execute()
  return {
    users: new Map(users.map((r) => [`${r.user_id}|${r.transaction_type}|${r.snapshot_date}`, { total: r.total_amount, count: Number(r.transaction_count), avg: r.avg_amount }])),
    usersEur: new Map(usersEur.map((r) => [`${r.user_id}|${r.transaction_type}|${r.snapshot_date}`, { total: r.total_amount_eur, count: Number(r.transaction_count), avg: r.avg_amount_eur }])),
    buyers: new Map(products.map((r) => [`${r.product_id}|${r.snapshot_date}`, Number(r.unique_buyers)]))
  }
}

const countedIn = async (w: Warehouse): Promise<number> => {
  const row = await w.db.selectFrom("fact_user_transaction_summary").select((eb) => eb.fn.sum<number | null>("transaction_count").as("n")).executeTakeFirstOrThrow()
  return Number(row.n ?? 0)
}

describe("openSqliteWarehouse", () => {
  it("creates the file's folder and says what it is", async () => {
    const w = await open(tempFile())
    expect(w.kind).toBe("sqlite")
    expect(w.description).toMatch(/^embedded SQLite 3\.\d+\.\d+ at .*data\/warehouse\.sqlite$/)
    expect(w.migrationsDir).toMatch(/sql\/sqlite\/$/)
  })

  it("applies the migrations once, even when two processes start together", async () => {
    const file = tempFile()
    const [a, b] = [await open(file), await open(file)]
    const reports = await Promise.all([run(migrate(a)), run(migrate(b))])
    const migrations = readdirSync(a.migrationsDir).filter((f) => /^\d{4}_.+\.sql$/.test(f)).length
    expect(migrations).toBeGreaterThan(0)
    expect(reports.map((r) => r.applied.length).sort()).toEqual([0, migrations])
    const again = await run(migrate(a))
    expect(again).toEqual({ applied: [], alreadyApplied: migrations })
    const tables = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`.execute(a.db)
    expect(tables.rows.map((r) => r.name)).toEqual([
      "data_lake_permissions",
      "dim_exchange_rates",
      "dim_payment_methods",
      "dim_users",
      "fact_payment_method_totals",
      "fact_product_purchase_counts",
      "fact_user_transaction_summary",
      "fact_user_transaction_summary_eur",
      "product_buyers",
      "sluice_decisions",
      "sluice_migrations",
      "sluice_offsets"
    ])
  })
})

describe("the warehouse sink on SQLite", () => {
  it("counts every non-failed transaction once, with exact totals, buyers and averages", async () => {
    const w = await migrated()
    const sink = makeWarehouseSink(w, TOPIC, options)
    const p0 = transactions(1, 4_500)
    const p1 = transactions(2, 1_500)
    expect((await run(sink.recover(spOf(TOPIC, 0)))).next).toBeUndefined()
    expect((await run(sink.recover(spOf(TOPIC, 1)))).next).toBeUndefined()
    await run(writeTestWindow(sink, windowOf(0, 0, p0.slice(0, 1_500))))
    await run(writeTestWindow(sink, windowOf(1, 0, p1)))
    await run(writeTestWindow(sink, windowOf(0, 1_500, p0.slice(1_500, 3_000))))
    await run(writeTestWindow(sink, windowOf(0, 3_000, p0.slice(3_000))))

    const expected = expectedFacts([...p0, ...p1])
    expect(expected.counted).toBeLessThan(6_000)
    expect(await countedIn(w)).toBe(expected.counted)
    const facts = await factsOf(w)
    expect(facts.users).toEqual(expected.users)
    expect(facts.usersEur).toEqual(expected.usersEur)
    expect(facts.buyers).toEqual(expected.buyers)

    // A restarted instance recovers the offsets; windows it reads again are skipped, not recounted.
    const restarted = makeWarehouseSink(w, TOPIC, options)
    expect((await run(restarted.recover(spOf(TOPIC, 0)))).next).toBe(4_500)
    expect((await run(restarted.recover(spOf(TOPIC, 1)))).next).toBe(1_500)
    await run(writeTestWindow(restarted, windowOf(0, 3_000, p0.slice(3_000))))
    expect(await countedIn(w)).toBe(expected.counted)
  })

  it("refuses a writer with a stale offset, which counts nothing twice", async () => {
    const w = await migrated()
    const values = transactions(3, 3_000)
    const a = makeWarehouseSink(w, TOPIC, options)
    const b = makeWarehouseSink(w, TOPIC, options)
    await run(a.recover(spOf(TOPIC, 0)))
    await run(b.recover(spOf(TOPIC, 0)))
    await run(writeTestWindow(a, windowOf(0, 0, values.slice(0, 1_000))))

    // b still believes the partition is new.
    const first = await run(Effect.flip(writeTestWindow(b, windowOf(0, 0, values.slice(0, 1_000)))))
    expect(first).toMatchObject({ _tag: "SinkFenced", partition: 0, detail: "sluice_offsets holds 1000, this writer expected no row" })

    // b recovers and moves on; a, now stale, is refused in turn.
    expect((await run(b.recover(spOf(TOPIC, 0)))).next).toBe(1_000)
    await run(writeTestWindow(b, windowOf(0, 1_000, values.slice(1_000, 2_000))))
    const second = await run(Effect.flip(writeTestWindow(a, windowOf(0, 1_000, values.slice(1_000, 2_000)))))
    expect(second).toMatchObject({ _tag: "SinkFenced", detail: "sluice_offsets holds 2000, this writer expected 1000" })

    expect(await countedIn(w)).toBe(expectedFacts(values.slice(0, 2_000)).counted)
    expect((await factsOf(w)).users).toEqual(expectedFacts(values.slice(0, 2_000)).users)
  })

  it("lets one of two processes on the same file claim a partition, the other fenced", async () => {
    const file = tempFile()
    const one = await migrated(file)
    const other = await open(file)
    const values = transactions(4, 2_000)
    // One attempt each: the loser must be fenced at once, not fail on the lock and succeed on a retry.
    const sinks = [one, other].map((w) => makeWarehouseSink(w, TOPIC, { ...options, outage: { ...options.outage, deadlineMs: 0 } }))
    for (const s of sinks) await run(s.recover(spOf(TOPIC, 0)))
    const results = await Promise.all(sinks.map((s) => run(Effect.result(writeTestWindow(s, windowOf(0, 0, values))))))
    expect(results.filter(Result.isSuccess)).toHaveLength(1)
    expect(results.filter(Result.isFailure).map((r) => r.failure._tag)).toEqual(["SinkFenced"])
    expect(await countedIn(one)).toBe(expectedFacts(values).counted)
  })

  it("cascades a deleted user to its facts and buyers", async () => {
    const w = await migrated()
    const sink = makeWarehouseSink(w, TOPIC, options)
    await run(sink.recover(spOf(TOPIC, 0)))
    const values = transactions(5, 2_000)
    await run(writeTestWindow(sink, windowOf(0, 0, values)))
    const buyer = values.find((t) => t.status !== "failed" && t.transactionType === "purchase")!.user.id
    const rowsOf = async (userId: string) =>
      Promise.all([
        w.db.selectFrom("fact_user_transaction_summary").select("id").where("user_id", "=", userId).execute(),
        w.db.selectFrom("fact_user_transaction_summary_eur").select("id").where("user_id", "=", userId).execute(),
        w.db.selectFrom("product_buyers").select("product_id").where("user_id", "=", userId).execute()
      ]).then((all) => all.map((rows) => rows.length))
    expect(Math.min(...(await rowsOf(buyer)))).toBeGreaterThan(0)
    const total = await countedIn(w)
    const own = Number((await w.db.selectFrom("fact_user_transaction_summary").select((eb) => eb.fn.sum<number>("transaction_count").as("n")).where("user_id", "=", buyer).executeTakeFirstOrThrow()).n)

    await w.db.deleteFrom("dim_users").where("user_id", "=", buyer).execute()

    expect(await rowsOf(buyer)).toEqual([0, 0, 0])
    expect(await countedIn(w)).toBe(total - own)
  })

  it("keeps a hostile user name as data", async () => {
    const w = await migrated()
    const sink = makeWarehouseSink(w, TOPIC, options)
    await run(sink.recover(spOf(TOPIC, 0)))
    const [t] = transactions(6, 1)
    const hostile = "'); DROP TABLE dim_users;--"
    const value: EurTransaction = { ...t!, status: "completed", user: { ...t!.user, id: `u-"${hostile}`, name: hostile, city: "O'Brien \\ \"Town\"" } }
    await run(writeTestWindow(sink, windowOf(0, 0, [value])))
    const row = await w.db.selectFrom("dim_users").selectAll().where("user_id", "=", `u-"${hostile}`).executeTakeFirstOrThrow()
    expect(row).toMatchObject({ name: hostile, city: "O'Brien \\ \"Town\"" })
    expect(await countedIn(w)).toBe(1)
  })
})

describe("money on SQLite", () => {
  const addCents = (w: Warehouse, cents: number | bigint, count = 1) =>
    w.upsert(
      w.db.insertInto("fact_payment_method_totals").values({ payment_method_id: "pm-card", snapshot_date: "2026-11-22", total_amount_eur: centsToDecimal(cents), transaction_count: count }),
      ["payment_method_id", "snapshot_date"],
      (inserted) => ({
        total_amount_eur: w.addMoney(sql.ref("total_amount_eur"), inserted("total_amount_eur")),
        transaction_count: sql`${sql.ref("transaction_count")} + ${inserted("transaction_count")}`
      })
    ).execute()

  const withMethod = async (w?: Warehouse) => {
    const warehouse = w ?? await migrated()
    await warehouse.db.insertInto("dim_payment_methods").values({ payment_method_id: "pm-card", name: "Card", category: "card", first_seen: "2026-11-22 00:00:00.000", last_seen: "2026-11-22 00:00:00.000" }).execute()
    return warehouse
  }

  const totals = (w: Warehouse) =>
    w.db.selectFrom("fact_payment_method_totals").select(["total_amount_eur", "transaction_count", "avg_amount_eur"]).executeTakeFirstOrThrow()

  it("keeps sums at the exact cents however many additions, as decimal text", async () => {
    const w = await withMethod()
    // 0.10 is not a binary fraction: 5,000 double additions would drift.
    let cents = 0
    for (let i = 0; i < 5_000; i++) {
      const add = i % 2 === 0 ? 10 : 123_456_789_01
      cents += add
      await addCents(w, add)
    }
    const row = await totals(w)
    expect(row).toEqual({ total_amount_eur: centsToDecimal(cents), transaction_count: 5_000, avg_amount_eur: average(cents, 5_000) })
    const stored = await sql<{ type: string }>`SELECT typeof(total_amount_eur) AS type FROM fact_payment_method_totals`.execute(w.db)
    expect(stored.rows).toEqual([{ type: "text" }])
  })

  it("keeps a day's total exact past DECIMAL(18,2) and 2^53 cents", async () => {
    const w = await withMethod()
    // The largest amount, 2,000 times: 2 * 10^16, where a double's spacing is 4 (400 cents).
    for (let i = 0; i < 2_000; i++) await addCents(w, 999_999_999_999_999)
    await addCents(w, 1)
    expect(await totals(w)).toEqual({ total_amount_eur: "19999999999999980.01", transaction_count: 2_001, avg_amount_eur: "9995002498750.61" })
    await addCents(w, 10n ** 30n)
    expect((await totals(w)).total_amount_eur).toBe("10000000000019999999999999980.01")
  })

  it("derives averages rounded half away from zero to the cent", async () => {
    const w = await withMethod()
    const cases: ReadonlyArray<readonly [cents: number, count: number, avg: string | null]> = [
      [5, 2, "0.03"],
      [-5, 2, "-0.03"],
      [100, 3, "0.33"],
      [200, 3, "0.67"],
      [1_005, 10, "1.01"],
      [12_345, 1, "123.45"],
      [10_000, 1, "100.00"],
      [999_999_999_999_999 * 3, 2, "14999999999999.99"],
      [7, 0, null]
    ]
    await w.db.insertInto("dim_users").values({ user_id: "u", name: "U", email: "u@x", country: "FR", city: "Paris", first_seen: "2026-11-01 00:00:00.000", last_seen: "2026-11-01 00:00:00.000" }).execute()
    for (const [i, [cents, count, avg]] of cases.entries()) {
      await w.db.insertInto("fact_user_transaction_summary").values({ user_id: "u", transaction_type: "purchase", snapshot_date: `2026-11-${10 + i}`, total_amount: centsToDecimal(cents), transaction_count: count }).execute()
      const row = await w.db.selectFrom("fact_user_transaction_summary").select(["total_amount", "avg_amount"]).where("snapshot_date", "=", `2026-11-${10 + i}`).executeTakeFirstOrThrow()
      expect([row.total_amount, row.avg_amount]).toEqual([centsToDecimal(cents), avg])
    }
  })

  it.each<string | number>(["10.004", "10.1", "10", "ten", "1e3", "--1.00", "1.2.00", "1 .00", 10, 10.5])("refuses %j, which is not decimal text with two decimals", async (amount) => {
    const w = await withMethod()
    await expect(
      w.db.insertInto("fact_payment_method_totals").values({ payment_method_id: "pm-card", snapshot_date: "2026-11-23", total_amount_eur: amount, transaction_count: 1 }).execute()
    ).rejects.toThrow(/CHECK constraint failed: typeof\(total_amount_eur\) = 'text'/)
  })

  it("refuses a permission that is none of read, write and admin", async () => {
    const w = await migrated()
    await expect(
      w.db.insertInto("data_lake_permissions").values({ user_email: "a@x", folder_path: "/lake", permission: "owner" as never, granted_by: "b@x", granted_at: "2026-11-22 00:00:00.000" }).execute()
    ).rejects.toThrow(/CHECK constraint failed/)
  })

  it("carries the facts of a warehouse written before the migration over, exactly", async () => {
    const file = tempFile()
    const first = await open(file)
    // The warehouse as 0001 left it: money as REAL, rounded to the cent by its triggers.
    const only0001 = mkdtempSync(path.join(tmpdir(), "sluice-0001-"))
    cleanups.push(async () => rmSync(only0001, { recursive: true, force: true }))
    copyFileSync(path.join(first.migrationsDir, "0001_star_schema.sql"), path.join(only0001, "0001_star_schema.sql"))
    await run(migrate({ ...first, migrationsDir: only0001 }))
    await withMethod(first)
    await addCents(first, 123_456_789_01)
    await addCents(first, 5)
    await sql`UPDATE fact_payment_method_totals SET total_amount_eur = total_amount_eur + 0.004`.execute(first.db)
    const before = await sql<{ id: number; raw: number }>`SELECT id, total_amount_eur + 0 AS raw FROM fact_payment_method_totals`.execute(first.db)
    expect(before.rows).toEqual([{ id: 1, raw: 123_456_789.06 }])

    const report = await run(migrate(first))
    expect(report.applied.map((m) => m.file)).toContain("0002_wider_facts.sql")
    expect(report.applied.map((m) => m.file)).not.toContain("0001_star_schema.sql")
    expect(await totals(first)).toEqual({ total_amount_eur: "123456789.06", transaction_count: 2, avg_amount_eur: "61728394.53" })
    const triggers = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'trigger'`.execute(first.db)
    expect(triggers.rows).toEqual([])
    await addCents(first, 999_999_999_999_999)
    expect((await totals(first)).total_amount_eur).toBe("10000123456789.05")
    const ids = await sql<{ id: number }>`SELECT id FROM fact_payment_method_totals`.execute(first.db)
    expect(ids.rows).toEqual([{ id: 1 }])
  })
})

describe("SQLite errors", () => {
  it("recognises duplicate keys", async () => {
    const w = await migrated()
    const user = { user_id: "u", name: "U", email: "u@x", country: "FR", city: "Paris", first_seen: "2026-11-01 00:00:00.000", last_seen: "2026-11-01 00:00:00.000" }
    await w.db.insertInto("dim_users").values(user).execute()
    const error = await w.db.insertInto("dim_users").values(user).execute().then(() => undefined, (e: unknown) => e)
    expect(w.isDuplicateKey(error)).toBe(true)
    expect(w.toError("insert", error)).toMatchObject({ retryable: false, reason: expect.stringContaining("UNIQUE constraint failed: dim_users.user_id") })
    const other = await w.db.insertInto("fact_user_transaction_summary").values({ user_id: "nobody", transaction_type: "purchase", snapshot_date: "2026-11-01", total_amount: "1.00", transaction_count: 1 }).execute().then(() => undefined, (e: unknown) => e)
    expect(w.isDuplicateKey(other)).toBe(false)
    expect(String(other)).toMatch(/FOREIGN KEY constraint failed/)
  })

  it("makes a lock held by another process a retryable error once the wait times out", async () => {
    const file = tempFile()
    await migrated(file)
    const w = await open(file, { busyTimeoutMs: 100 })
    const holder = new DatabaseSync(file)
    holder.exec("BEGIN IMMEDIATE")
    try {
      const sink = makeWarehouseSink(w, TOPIC, { ...options, outage: { ...options.outage, deadlineMs: 0 } })
      await run(sink.recover(spOf(TOPIC, 0)))
      const error = await run(Effect.flip(writeTestWindow(sink, windowOf(0, 0, transactions(7, 10)))))
      expect(error).toMatchObject({ _tag: "SinkError", cause: { _tag: "WarehouseError", retryable: true } })
    } finally {
      holder.exec("ROLLBACK")
      holder.close()
    }
  })
})
