/**
 * Exactly-once into MySQL, proven: 100,000 transactions (1% malformed) over 4 partitions;
 * `sluice run` (lake + warehouse) is killed with SIGKILL before and after the warehouse's COMMIT
 * and at random moments, restarted each time; then the facts count every valid, non-failed
 * transaction once and equal the lake's recomputation.
 */
import { createConnection } from "mysql2/promise"
import { afterAll, describe, expect, inject, it } from "vitest"
import { expectedFromProduce } from "../support/Expected.ts"
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
    const expected = expectedFromProduce(MESSAGES, SEED, 0.01)

    await runToCrashPoints(env, ["warehouse:before-commit@3", "warehouse:after-commit@4", "warehouse:before-commit@2"])
    await killAtRandomMoments(env, 3, 2_000)

    const last = await runSluice(["run", "--until-idle", "2000"], env)
    expect(last.code, last.output).toBe(0)
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
    expect(verify.output).toMatch(/fact_user_transaction_summary: equals the lake's recomputation/)
    expect(verify.output).toMatch(/fact_user_transaction_summary_eur: equals the lake's recomputation/)

    const connection = await createConnection({ uri: mysqlUrl! })
    try {
      const [rows] = await connection.query("SELECT SUM(transaction_count) AS n FROM fact_user_transaction_summary")
      expect(Number((rows as Array<{ n: string }>)[0]!.n)).toBe(expected.counted)
      const [eur] = await connection.query("SELECT SUM(transaction_count) AS n FROM fact_user_transaction_summary_eur")
      expect(Number((eur as Array<{ n: string }>)[0]!.n)).toBe(expected.counted)
      const [methods] = await connection.query("SELECT SUM(transaction_count) AS n FROM fact_payment_method_totals")
      expect(Number((methods as Array<{ n: string }>)[0]!.n)).toBe(expected.counted)
      const [buyers] = await connection.query(
        "SELECT (SELECT SUM(unique_buyers) FROM fact_product_purchase_counts) AS facts, (SELECT COUNT(*) FROM product_buyers) AS rows_"
      )
      const b = (buyers as Array<{ facts: string; rows_: string }>)[0]!
      expect(Number(b.facts)).toBe(Number(b.rows_))
    } finally {
      await connection.end()
    }
  })
})
