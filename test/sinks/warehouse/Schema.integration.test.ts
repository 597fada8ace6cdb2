/**
 * The warehouse schema on real MariaDB/MySQL: migrations are idempotent, deleting a user cascades
 * to its facts, and every value travels as a parameter (hostile names round-trip as data).
 */
import { Effect, Redacted } from "effect"
import { createConnection } from "mysql2/promise"
import { afterAll, describe, expect, inject, it } from "vitest"
import { writeWindow } from "../../../src/topology/Sink.ts"
import { migrate } from "../../../src/sinks/warehouse/Migrator.ts"
import { openMysqlWarehouse } from "../../../src/sinks/warehouse/MysqlWarehouse.ts"
import { defaultWarehouseSinkOptions, makeWarehouseSink } from "../../../src/sinks/warehouse/WarehouseSink.ts"
import { runSluice, sandbox } from "../../support/Sluice.ts"
import { eurTransactions, windowOf } from "../../support/Windows.ts"

const { env, mysqlUrl, topic, cleanup } = sandbox("schema", inject("kafkaBrokers"), {}, inject("mysqlUrl"))
afterAll(cleanup)

const query = async <A>(sql: string, params: Array<unknown> = []): Promise<Array<A>> => {
  const connection = await createConnection({ uri: mysqlUrl!, dateStrings: true })
  try {
    return (await connection.query(sql, params))[0] as Array<A>
  } finally {
    await connection.end()
  }
}

const schemaSnapshot = () =>
  query<Record<string, unknown>>(
    `SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.GENERATION_EXPRESSION, s.INDEX_NAME
     FROM information_schema.COLUMNS c
     LEFT JOIN information_schema.STATISTICS s
       ON s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME AND s.COLUMN_NAME = c.COLUMN_NAME
     WHERE c.TABLE_SCHEMA = DATABASE()
     ORDER BY 1, 2, 6`
  )

describe("warehouse schema", () => {
  it("migrates once: a second run applies nothing and changes nothing", async () => {
    expect(mysqlUrl, "the integration tests need a MySQL/MariaDB").toBeDefined()
    const first = await runSluice(["migrate"], env)
    expect(first.code, first.output).toBe(0)
    expect(first.output).toContain("applied 0001_star_schema.sql, 0002_wider_facts.sql")
    const before = await schemaSnapshot()
    const second = await runSluice(["migrate"], env)
    expect(second.code, second.output).toBe(0)
    expect(second.output).toContain("nothing to apply")
    expect(await schemaSnapshot()).toEqual(before)
    expect(before.length).toBeGreaterThan(60)
    expect(first.output).not.toMatch(/password/i)
  })

  it("cascades a user's deletion to its facts and buyers, and keeps hostile text as data", async () => {
    const hostile = "'); DROP TABLE dim_users;--"
    const [base, ...others] = eurTransactions(200, 9)
    const mine = Array.from({ length: 20 }, (_, i) => ({
      ...base!,
      transactionId: `evil-${i}`,
      status: "completed" as const,
      transactionType: "purchase" as const,
      user: { ...base!.user, id: "u-'; DELETE FROM fact_user_transaction_summary;--", name: hostile, city: "Ville \"quotée\" \\ ok" }
    }))
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const warehouse = yield* openMysqlWarehouse(Redacted.make(mysqlUrl!))
      yield* migrate(warehouse)
      const sink = makeWarehouseSink(warehouse, topic, { ...defaultWarehouseSinkOptions, group: "schema" })
      yield* sink.recover(topic, 0)
      yield* writeWindow(sink, windowOf(topic, 0, 0, [...mine, ...others]))
    })))
    const user = await query<{ name: string; city: string }>("SELECT name, city FROM dim_users WHERE user_id = ?", [mine[0]!.user.id])
    expect(user).toEqual([{ name: hostile, city: "Ville \"quotée\" \\ ok" }])
    const tables = await query<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    expect(Number(tables[0]!.n)).toBe(11)
    const factsOf = async () => {
      const [r] = await query<{ s: string; e: string; b: string }>(
        `SELECT (SELECT COUNT(*) FROM fact_user_transaction_summary WHERE user_id = ?) AS s,
                (SELECT COUNT(*) FROM fact_user_transaction_summary_eur WHERE user_id = ?) AS e,
                (SELECT COUNT(*) FROM product_buyers WHERE user_id = ?) AS b`,
        [mine[0]!.user.id, mine[0]!.user.id, mine[0]!.user.id]
      )
      return [Number(r!.s), Number(r!.e), Number(r!.b)]
    }
    expect((await factsOf()).every((n) => n > 0)).toBe(true)
    const othersBefore = await query<{ n: string }>("SELECT SUM(transaction_count) AS n FROM fact_user_transaction_summary")
    await query("DELETE FROM dim_users WHERE user_id = ?", [mine[0]!.user.id])
    expect(await factsOf()).toEqual([0, 0, 0])
    const othersAfter = await query<{ n: string }>("SELECT SUM(transaction_count) AS n FROM fact_user_transaction_summary")
    expect(Number(othersAfter[0]!.n)).toBe(Number(othersBefore[0]!.n) - 20)
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
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const warehouse = yield* openMysqlWarehouse(Redacted.make(mysqlUrl!))
      yield* migrate(warehouse)
      const sink = makeWarehouseSink(warehouse, topic, { ...defaultWarehouseSinkOptions, group: "schema-bounds" })
      yield* sink.recover(topic, 1)
      yield* writeWindow(sink, windowOf(topic, 1, 0, Array.from({ length: 1_500 }, () => largest)))
      yield* writeWindow(sink, windowOf(topic, 1, 1_500, Array.from({ length: 1_500 }, () => largest)))
    })))
    const [facts] = await query<Record<string, string | number>>(
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

  it("derives averages from total and count", async () => {
    const rows = await query<{ total_amount: string; transaction_count: string; avg_amount: string }>(
      "SELECT total_amount, transaction_count, avg_amount FROM fact_user_transaction_summary LIMIT 50"
    )
    expect(rows.length).toBeGreaterThan(0)
    for (const r of rows) expect(Number(r.avg_amount)).toBeCloseTo(Number(r.total_amount) / Number(r.transaction_count), 2)
  })
})
