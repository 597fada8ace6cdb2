/**
 * For one offset, every feed and the warehouse record the same decision, whatever crashed when:
 * a crash between the lake tables' commits, then a restart that finds other EUR rates, replays the
 * offsets some tables committed with the rates they were decided with, and only later ones with
 * the new rates.
 */
import { Producer } from "@platformatic/kafka"
import { Effect, Result } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { defaultExchangeRates } from "../../src/domain/ExchangeRate.ts"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { decodeTransaction } from "../../src/domain/Transaction.ts"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { deleteTopics, ensureTopic } from "../../src/ops/KafkaAdmin.ts"
import { liveRelation } from "../support/Lake.ts"
import { runSluice, sandbox } from "../support/Sluice.ts"
import { countedInWarehouse } from "../support/Warehouse.ts"

const brokers = inject("kafkaBrokers")
const MESSAGES = 6_000
const WINDOW = 2_000
const box = sandbox("decisions", brokers, { SLUICE_WINDOW_MAX_RECORDS: String(WINDOW), SLUICE_WINDOW_MAX_AGE_MS: "60000" }, inject("mysqlUrl"))
const ratesTopic = `${box.topic}-rates`
const env = { ...box.env, SLUICE_RATES_TOPIC: ratesTopic }
afterAll(async () => {
  await Effect.runPromise(deleteTopics([brokers], [ratesTopic]).pipe(Effect.ignore))
  await box.cleanup()
})

/** The EUR and USD rates of the built-in table only: every other currency then has no rate. */
const publishFewerRates = async () => {
  await Effect.runPromise(ensureTopic([brokers], ratesTopic, 1, [{ name: "cleanup.policy", value: "compact" }]))
  const producer = new Producer({ clientId: "test-rates", bootstrapBrokers: [brokers] })
  try {
    const kept = defaultExchangeRates.filter((r) => r.currency === "EUR" || r.currency === "USD")
    await producer.send({
      messages: kept.map((r) => {
        const validFrom = new Date(r.validFrom).toISOString()
        return {
          topic: ratesTopic,
          key: Buffer.from(`${r.currency}@${validFrom}`),
          value: Buffer.from(JSON.stringify({ currency: r.currency, rate_to_eur: r.rateToEur, valid_from: validFrom }))
        }
      })
    })
  } finally {
    await producer.close()
  }
}

describe("decisions replayed after a crash", () => {
  it("decides the offsets some tables committed as they were decided, whatever rates are in force at restart", async () => {
    const produced = await runSluice(["produce", "--topic", box.topic, "--messages", String(MESSAGES), "--partitions", "1", "--seed", "61"], env)
    expect(produced.code, produced.output).toBe(0)
    // The first window commits in transaction_stream, then the process dies before the other tables.
    const crashed = await runSluice(["run"], { ...env, SLUICE_CRASH_AT: "lake:after-log-commit@1" })
    expect(crashed.signal, crashed.output).toBe("SIGKILL")

    await publishFewerRates()
    const restarted = await runSluice(["run", "--until-idle", "1000"], env)
    expect(restarted.code, restarted.output).toBe(0)
    expect(restarted.output).toMatch(/offsets up to 1999 are replayed with decisions [0-9a-f]{12}, as first committed/)

    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)

    // What each offset had to become: the first window under the built-in table, the rest under EUR and USD only.
    const next = makeMessageGenerator({ seed: 61 })
    let counted = 0
    let noRate = 0
    for (let offset = 0; offset < MESSAGES; offset++) {
      const t = Result.getOrThrow(decodeTransaction(JSON.parse(next().value.toString("utf8"))))
      const valued = offset < WINDOW || t.currency === "EUR" || t.currency === "USD"
      if (!valued) noRate++
      else if (t.status !== "failed") counted++
    }
    expect(noRate).toBeGreaterThan(500)
    const dead = await liveRelation(box.lake, `_deadletter/${box.topic}`)
    const flattened = await liveRelation(box.lake, "streams/transaction_flattened")
    const stream = await liveRelation(box.lake, "streams/transaction_stream")
    const [lake] = await Effect.runPromise(withDuckDb((db) =>
      db.query(`SELECT
        (SELECT count(*) FROM ${dead} WHERE error_kind = 'no-rate') AS no_rate,
        (SELECT count(*) FROM ${dead} WHERE error_kind = 'no-rate' AND _kafka_offset < ${WINDOW}) AS no_rate_replayed,
        (SELECT count(*) FROM ${stream}) AS stream,
        (SELECT count(*) FROM ${flattened}) AS flattened`)))
    expect(lake).toEqual({ no_rate: BigInt(noRate), no_rate_replayed: 0n, stream: BigInt(MESSAGES - noRate), flattened: BigInt(MESSAGES - noRate) })
    expect(await countedInWarehouse(box.mysqlUrl!)).toBe(counted)
  })
})
