/**
 * The warehouse schema on real MariaDB/MySQL: migrations are idempotent, deleting a user cascades
 * to its facts, and every value travels as a parameter (hostile names round-trip as data).
 */
import { Effect, Redacted } from "effect"
import { createConnection } from "mysql2/promise"
import { afterAll, describe, expect, inject, it } from "vitest"
import { migrate } from "../../../src/sinks/warehouse/Migrator.ts"
import { openMysqlWarehouse } from "../../../src/sinks/warehouse/MysqlWarehouse.ts"
import { defaultWarehouseSinkOptions, makeWarehouseSink } from "../../../src/sinks/warehouse/WarehouseSink.ts"
import { runSluice, sandbox } from "../../support/Sluice.ts"
import { eurTransactions, spOf, windowOf, writeTestWindow } from "../../support/Windows.ts"

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
    expect(first.output).toContain("applied 0001_star_schema.sql")
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
      yield* sink.recover(spOf(topic, 0))
      yield* writeTestWindow(sink, windowOf(topic, 0, 0, [...mine, ...others]))
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

  it("derives averages from total and count", async () => {
    const rows = await query<{ total_amount: string; transaction_count: string; avg_amount: string }>(
      "SELECT total_amount, transaction_count, avg_amount FROM fact_user_transaction_summary LIMIT 50"
    )
    expect(rows.length).toBeGreaterThan(0)
    for (const r of rows) expect(Number(r.avg_amount)).toBeCloseTo(Number(r.total_amount) / Number(r.transaction_count), 2)
  })
})
