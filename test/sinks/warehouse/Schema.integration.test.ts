/**
 * The warehouse schema on real MariaDB/MySQL: migrations are idempotent, deleting a user cascades
 * to its facts, every value travels as a parameter (hostile names round-trip as data), and
 * averages are derived. Each test has a database of its own.
 */
import { Effect, Redacted } from "effect"
import { createConnection } from "mysql2/promise"
import { afterAll, describe, expect, inject, it } from "vitest"
import type { EurTransaction } from "../../../src/domain/ExchangeRate.ts"
import { centsToDecimal } from "../../../src/domain/Money.ts"
import { migrate } from "../../../src/sinks/warehouse/Migrator.ts"
import { openMysqlWarehouse } from "../../../src/sinks/warehouse/MysqlWarehouse.ts"
import { defaultWarehouseSinkOptions, makeWarehouseSink } from "../../../src/sinks/warehouse/WarehouseSink.ts"
import { dropDatabase, runSluice, sandbox } from "../../support/Sluice.ts"
import { eurTransactions, spOf, windowOf, writeTestWindow } from "../../support/Windows.ts"

const { env, mysqlUrl, topic, cleanup } = sandbox("schema", inject("kafkaBrokers"), {}, inject("mysqlUrl"))
const databases: Array<string> = []
afterAll(async () => {
  await Promise.all(databases.map(dropDatabase))
  await cleanup()
})

/**
 * A database of the test's own, dropped after the file: each test migrates and fills what it
 * reads, so it passes alone and in any order.
 */
const ownDatabase = (name: string): string => {
  expect(mysqlUrl, "the integration tests need a MySQL/MariaDB").toBeDefined()
  const url = new URL(mysqlUrl!)
  url.pathname = `${url.pathname}_${name}`
  databases.push(url.toString())
  return url.toString()
}

const query = async <A>(url: string, sql: string, params: Array<unknown> = []): Promise<Array<A>> => {
  const connection = await createConnection({ uri: url, dateStrings: true })
  try {
    return (await connection.query(sql, params))[0] as Array<A>
  } finally {
    await connection.end()
  }
}

const schemaSnapshot = (url: string) =>
  query<Record<string, unknown>>(
    url,
    `SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.GENERATION_EXPRESSION, s.INDEX_NAME
     FROM information_schema.COLUMNS c
     LEFT JOIN information_schema.STATISTICS s
       ON s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME AND s.COLUMN_NAME = c.COLUMN_NAME
     WHERE c.TABLE_SCHEMA = DATABASE()
     ORDER BY 1, 2, 6`
  )

/** Migrates the database at `url` and writes `values` as the first window of partition 0. */
const writeFirstWindow = (url: string, values: ReadonlyArray<EurTransaction>) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const warehouse = yield* openMysqlWarehouse(Redacted.make(url))
    yield* migrate(warehouse)
    const sink = makeWarehouseSink(warehouse, topic, { ...defaultWarehouseSinkOptions, group: "schema" })
    expect((yield* sink.recover(spOf(topic, 0))).next).toBeUndefined()
    yield* writeTestWindow(sink, windowOf(topic, 0, 0, values))
  })))

describe("warehouse schema", () => {
  it("migrates once: a second run applies nothing and changes nothing", async () => {
    const url = ownDatabase("migrate")
    const first = await runSluice(["migrate"], { ...env, MYSQL_URL: url })
    expect(first.code, first.output).toBe(0)
    expect(first.output).toMatch(/applied 0001_star_schema\.sql, 0002_wider_facts\.sql, 0003_\w+\.sql/)
    const before = await schemaSnapshot(url)
    const second = await runSluice(["migrate"], { ...env, MYSQL_URL: url })
    expect(second.code, second.output).toBe(0)
    expect(second.output).toContain("nothing to apply")
    expect(await schemaSnapshot(url)).toEqual(before)
    expect(before.length).toBeGreaterThan(60)
    expect(first.output).not.toMatch(/password/i)
  })

  it("cascades a user's deletion to its facts and buyers, and keeps hostile text as data", async () => {
    const url = ownDatabase("cascade")
    const hostile = "'); DROP TABLE dim_users;--"
    const [base, ...others] = eurTransactions(200, 9)
    expect(base!.product).not.toBeNull()
    const mine = Array.from({ length: 20 }, (_, i) => ({
      ...base!,
      transactionId: `evil-${i}`,
      status: "completed" as const,
      transactionType: "purchase" as const,
      user: { ...base!.user, id: "u-'; DELETE FROM fact_user_transaction_summary;--", name: hostile, city: "Ville \"quotée\" \\ ok" }
    }))
    await writeFirstWindow(url, [...mine, ...others])
    const user = await query<{ name: string; city: string }>(url, "SELECT name, city FROM dim_users WHERE user_id = ?", [mine[0]!.user.id])
    expect(user).toEqual([{ name: hostile, city: "Ville \"quotée\" \\ ok" }])
    const tables = await query<{ n: number }>(url, "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    expect(Number(tables[0]!.n)).toBe(12)
    const factsOf = async () => {
      const [r] = await query<{ s: string; e: string; b: string }>(
        url,
        `SELECT (SELECT COUNT(*) FROM fact_user_transaction_summary WHERE user_id = ?) AS s,
                (SELECT COUNT(*) FROM fact_user_transaction_summary_eur WHERE user_id = ?) AS e,
                (SELECT COUNT(*) FROM product_buyers WHERE user_id = ?) AS b`,
        [mine[0]!.user.id, mine[0]!.user.id, mine[0]!.user.id]
      )
      return [Number(r!.s), Number(r!.e), Number(r!.b)]
    }
    // The 20 share one user, type, product and day: one row in each table.
    expect(await factsOf()).toEqual([1, 1, 1])
    const counted = (await query<{ n: string }>(url, "SELECT SUM(transaction_count) AS n FROM fact_user_transaction_summary"))[0]!.n
    expect(Number(counted)).toBe(20 + others.filter((t) => t.status !== "failed").length)
    await query(url, "DELETE FROM dim_users WHERE user_id = ?", [mine[0]!.user.id])
    expect(await factsOf()).toEqual([0, 0, 0])
    const left = (await query<{ n: string }>(url, "SELECT SUM(transaction_count) AS n FROM fact_user_transaction_summary"))[0]!.n
    expect(Number(left)).toBe(Number(counted) - 20)
  })

  it("adds a day's largest amounts past DECIMAL(18,2) and 2^53 cents, exactly", async () => {
    const [base] = eurTransactions(1, 10)
    const largest = {
      ...base!,
      status: "completed" as const,
      transactionType: "purchase" as const,
      amountCents: 999_999_999_999_999,
      amountEurCents: 999_999_999_999_998,
      quantity: 2_147_483_647,
      user: { ...base!.user, id: "u-largest" },
      paymentMethod: { ...base!.paymentMethod, id: "pm-largest" },
      product: { id: "p-largest", name: "Largest", category: "bounds", priceCents: 999_999_999_999_999 }
    }
    // Two windows of 1,500: the sums of a window pass 2^53 cents, and the second adds to the first in SQL.
    const url = ownDatabase("largest")
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const warehouse = yield* openMysqlWarehouse(Redacted.make(url))
      yield* migrate(warehouse)
      const sink = makeWarehouseSink(warehouse, topic, { ...defaultWarehouseSinkOptions, group: "schema-bounds" })
      yield* sink.recover(spOf(topic, 1))
      yield* writeTestWindow(sink, windowOf(topic, 1, 0, Array.from({ length: 1_500 }, () => largest)))
      yield* writeTestWindow(sink, windowOf(topic, 1, 1_500, Array.from({ length: 1_500 }, () => largest)))
    })))
    const [facts] = await query<Record<string, string | number>>(
      url,
      `SELECT s.total_amount, s.avg_amount, e.total_amount_eur, m.total_amount_eur AS method_eur,
              p.total_revenue_eur, p.units_sold, p.avg_price_eur
       FROM fact_user_transaction_summary s
       JOIN fact_user_transaction_summary_eur e ON e.user_id = s.user_id
       JOIN fact_payment_method_totals m ON m.payment_method_id = 'pm-largest'
       JOIN fact_product_purchase_counts p ON p.product_id = 'p-largest'
       WHERE s.user_id = 'u-largest'`
    )
    expect(facts).toEqual({
      total_amount: "29999999999999970.00",
      avg_amount: "9999999999999.99",
      total_amount_eur: "29999999999999940.00",
      method_eur: "29999999999999940.00",
      total_revenue_eur: "29999999999999940.00",
      units_sold: 6_442_450_941_000,
      avg_price_eur: "4656.61"
    })
  })

  it("derives averages from total and count, rounded half away from zero to the cent", async () => {
    const url = ownDatabase("averages")
    const values = eurTransactions(2_000, 4, { users: 40, days: 2 })
    await writeFirstWindow(url, values)
    // Recomputed from the transactions, not from the stored totals.
    const expected = new Map<string, { cents: number; count: number }>()
    for (const t of values.filter((v) => v.status !== "failed")) {
      const key = `${t.user.id}|${t.transactionType}|${new Date(t.eventTimeMs).toISOString().slice(0, 10)}`
      const e = expected.get(key) ?? { cents: 0, count: 0 }
      e.cents += t.amountCents
      e.count += 1
      expected.set(key, e)
    }
    const average = (cents: number, count: number) => centsToDecimal(Math.floor((2 * cents + count) / (2 * count)))
    const rows = await query<{ user_id: string; transaction_type: string; snapshot_date: string; total_amount: string; transaction_count: number; avg_amount: string }>(
      url,
      "SELECT user_id, transaction_type, snapshot_date, total_amount, transaction_count, avg_amount FROM fact_user_transaction_summary"
    )
    expect(new Map(rows.map((r) => [`${r.user_id}|${r.transaction_type}|${r.snapshot_date}`, { total: r.total_amount, count: Number(r.transaction_count), avg: r.avg_amount }])))
      .toEqual(new Map([...expected].map(([key, e]) => [key, { total: centsToDecimal(e.cents), count: e.count, avg: average(e.cents, e.count) }])))
    // Many groups have several transactions, so most averages are not a stored amount.
    expect([...expected.values()].filter((e) => e.count > 1 && e.cents % e.count !== 0).length).toBeGreaterThan(50)
  })
})
