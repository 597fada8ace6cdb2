/**
 * Exactly-once into MySQL, proven: 100,000 transactions (1% malformed) over 4 partitions;
 * `sluice run` (lake + warehouse) is killed with SIGKILL before and after the warehouse's COMMIT
 * and at random moments, restarted each time; then the facts count every valid, non-failed
 * transaction once, equal the lake's recomputation, and hold the totals and distinct buyers
 * recomputed from the seeded generator.
 */
import { createConnection } from "mysql2/promise"
import { afterAll, describe, expect, inject, it } from "vitest"
import { centsToDecimal } from "../../src/domain/Money.ts"
import { expectedWarehouse } from "../support/Expected.ts"
import { killAtRandomMoments, runSluice, runToCrashPoints, sandbox } from "../support/Sluice.ts"

const MESSAGES = 100_000
const SEED = 21
const mysqlBase = inject("mysqlUrl")
const { topic, env, mysqlUrl, cleanup } = sandbox("wheo", inject("kafkaBrokers"), {
  SLUICE_WINDOW_MAX_RECORDS: "3000",
  SLUICE_WINDOW_MAX_AGE_MS: "1000"
}, mysqlBase)

afterAll(cleanup)

describe("sluice run into MySQL under SIGKILL", () => {
  it("counts every valid, non-failed transaction exactly once", async () => {
    expect(mysqlUrl, "the integration tests need a MySQL/MariaDB (MYSQL_URL or the local one)").toBeDefined()
    const produced = await runSluice(["produce", "--topic", topic, "--messages", String(MESSAGES), "--partitions", "4", "--bad-ratio", "0.01", "--seed", String(SEED)], env)
    expect(produced.code, produced.output).toBe(0)

    await runToCrashPoints(env, ["warehouse:before-commit@3", "warehouse:after-commit@4", "warehouse:before-commit@2"])
    await killAtRandomMoments(env, 3, 2_000)

    const last = await runSluice(["run", "--until-idle", "2000"], env)
    expect(last.code, last.output).toBe(0)
    // The expected EUR amounts below use the built-in rates, as the sandbox's run does.
    expect(last.output).toMatch(/EUR rates \(built-in table/)
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
    expect(verify.output).toMatch(/fact_user_transaction_summary: equals the lake's recomputation/)
    expect(verify.output).toMatch(/fact_user_transaction_summary_eur: equals the lake's recomputation/)

    const warehouse = expectedWarehouse(MESSAGES, SEED, 0.01)
    const connection = await createConnection({ uri: mysqlUrl!, dateStrings: true })
    const query = async <A>(sql: string) => (await connection.query(sql))[0] as Array<A>
    try {
      type Totals = { rows_: number; n: string; total: string }
      const [users] = await query<Totals>("SELECT COUNT(*) AS rows_, SUM(transaction_count) AS n, SUM(total_amount) AS total FROM fact_user_transaction_summary")
      expect({ rows: Number(users!.rows_), counted: Number(users!.n), total: users!.total })
        .toEqual({ rows: warehouse.userDays, counted: warehouse.counted, total: centsToDecimal(warehouse.totalCents) })
      const [eur] = await query<Totals>("SELECT COUNT(*) AS rows_, SUM(transaction_count) AS n, SUM(total_amount_eur) AS total FROM fact_user_transaction_summary_eur")
      expect({ rows: Number(eur!.rows_), counted: Number(eur!.n), total: eur!.total })
        .toEqual({ rows: warehouse.userDays, counted: warehouse.counted, total: centsToDecimal(warehouse.totalEurCents) })

      const methods = await query<{ payment_method_id: string; day: string; transaction_count: number; total_amount_eur: string }>(
        "SELECT payment_method_id, snapshot_date AS day, transaction_count, total_amount_eur FROM fact_payment_method_totals"
      )
      expect(new Map(methods.map((r) => [`${r.payment_method_id}|${r.day}`, { count: Number(r.transaction_count), eur: r.total_amount_eur }])))
        .toEqual(new Map([...warehouse.paymentMethodDays].map(([key, m]) => [key, { count: m.count, eur: centsToDecimal(m.eurCents) }])))

      // unique_buyers against the distinct buyers of the generator's own transactions, never against
      // product_buyers (the rows it was recounted from). Repeat buyers exist, so a purchase count
      // passed off as buyers would not match.
      const products = await query<{ product_id: string; day: string; purchase_count: number; units_sold: number; total_revenue_eur: string; unique_buyers: number }>(
        "SELECT product_id, snapshot_date AS day, purchase_count, units_sold, total_revenue_eur, unique_buyers FROM fact_product_purchase_counts"
      )
      const expectedProducts = [...warehouse.productDays]
      expect(expectedProducts.length).toBeGreaterThan(100)
      expect(expectedProducts.filter(([, p]) => p.buyers < p.purchases).length).toBeGreaterThan(10)
      expect(new Map(products.map((r) => [
        `${r.product_id}|${r.day}`,
        { purchases: Number(r.purchase_count), units: Number(r.units_sold), revenue: r.total_revenue_eur, buyers: Number(r.unique_buyers) }
      ]))).toEqual(new Map(expectedProducts.map(([key, p]) => [
        key,
        { purchases: p.purchases, units: p.units, revenue: centsToDecimal(p.revenueEurCents), buyers: p.buyers }
      ])))
      const [buyerRows] = await query<{ n: number }>("SELECT COUNT(*) AS n FROM product_buyers")
      expect(Number(buyerRows!.n)).toBe(expectedProducts.reduce((n, [, p]) => n + p.buyers, 0))

      const [dims] = await query<{ users: number; methods: number }>(
        "SELECT (SELECT COUNT(*) FROM dim_users) AS users, (SELECT COUNT(*) FROM dim_payment_methods) AS methods"
      )
      expect({ users: Number(dims!.users), methods: Number(dims!.methods) }).toEqual({ users: warehouse.users, methods: 5 })
    } finally {
      await connection.end()
    }
  })
})
