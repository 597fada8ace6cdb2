/**
 * The transaction topic's flow on the topology test driver (no broker): every lake feed, the two
 * output topics' messages as the Kafka sink makes them, and the aggregate tables computed from
 * what the lake committed, with a blacklist entry that arrives while the flow runs.
 */
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Exit, Option, Result, type Scope } from "effect"
import { TestClock } from "effect/testing"
import { afterEach, describe, expect, it } from "vitest"
import { makeAnonymizer } from "../../src/domain/Anonymize.ts"
import { type BlacklistEntry, blacklistKey } from "../../src/domain/Blacklist.ts"
import { defaultExchangeRates, type EurTransaction, RateTable, valueInEur } from "../../src/domain/ExchangeRate.ts"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { centsToDecimal } from "../../src/domain/Money.ts"
import { decodeTransaction, type Transaction } from "../../src/domain/Transaction.ts"
import { parquetRelation, withDuckDb } from "../../src/ops/DuckDb.ts"
import { snapshotTables } from "../../src/ops/TableSnapshots.ts"
import { transactionDecisions, transactionFeeds, transactionOutputs, transactionProcessors } from "../../src/ops/TransactionFlow.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLakeSink } from "../../src/sinks/lake/LakeSink.ts"
import { inlineEncoder } from "../../src/sinks/lake/ParquetEncoder.ts"
import { defaultOutagePolicy } from "../../src/topology/Outage.ts"
import type { Sink, SinkWindow } from "../../src/topology/Sink.ts"
import { emptyStateTopic, type StateTopic } from "../../src/topology/StateTopic.ts"
import { makeTestDriver } from "../../src/topology/TestDriver.ts"
import type { Topology } from "../../src/topology/Topology.ts"

const TOPIC = "transaction_stream"
const KEY = Buffer.alloc(32, 7)
const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const test = <A, E>(program: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestClock.layer())))
const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))

/** A blacklist topic the test changes while the flow runs, as a followed compacted topic changes. */
const blacklistTopic = () => {
  const entries = new Map<string, BlacklistEntry>()
  let revision = 0
  const topic: StateTopic<BlacklistEntry> = { topic: "blacklist", entries: () => entries, exists: () => true, revision: () => revision }
  return {
    topic,
    add: (e: BlacklistEntry) => {
      entries.set(blacklistKey(e), e)
      revision++
    }
  }
}

/** What a Kafka sink would send: each output's key and value for every record of its windows. */
const outputSink = (outputs: ReturnType<typeof transactionOutputs>) => {
  const sent: Array<{ topic: string; key: string; value: string }> = []
  const next = new Map<number, number>()
  const sink: Sink<EurTransaction> = {
    name: "kafka",
    targets: [],
    commitsLast: true,
    position: (sp) => Effect.succeed({ next: next.get(sp.partition), furthest: undefined }),
    recover: (sp) => Effect.succeed({ next: next.get(sp.partition), furthest: undefined }),
    open: (sp, from, decisions) =>
      Effect.sync((): SinkWindow<EurTransaction> => {
        const start = Math.max(from, next.get(sp.partition) ?? from)
        const window: Array<{ topic: string; key: string; value: string }> = []
        return {
          add: (record) => {
            if (record.offset < start) return
            for (const out of [outputs.anonymized, outputs.blacklisted]) {
              const value = out.input.evaluate(record, decisions)
              if (value !== undefined) window.push({ topic: out.topic, key: out.key(value), value: out.value(value, record) })
            }
          },
          addDeadLetter: () => undefined,
          commit: (to) =>
            Effect.sync(() => {
              if (to < start) return
              sent.push(...window)
              next.set(sp.partition, to + 1)
            })
        }
      }),
    saveDecisions: () => Effect.void,
    loadDecisions: () => Effect.succeed(Option.none())
  }
  /** Whether every partition has committed up to `next` (exclusive), the last sink to commit. */
  const reached = (nexts: ReadonlyArray<number>) => nexts.every((n, p) => (next.get(p) ?? 0) >= n)
  return { sink, sent, reached }
}

/** Seeded transactions, as JSON text and decoded. */
const transactions = (n: number, seed: number) => {
  const next = makeMessageGenerator({ seed })
  return Array.from({ length: n }, () => {
    const text = next().value.toString("utf8")
    return { text, t: Result.getOrThrow(decodeTransaction(JSON.parse(text))) as Transaction }
  })
}

describe("the transaction flow on the test driver", () => {
  it("fills every feed, output topic and table, a blacklist entry applying from the windows decided after it", async () => {
    const lake = mkdtempSync(path.join(tmpdir(), "sluice-transaction-flow-"))
    dirs.push(lake)
    const first = transactions(400, 5)
    const second = transactions(400, 6)
    // The busiest user of the second batch, who also buys in the first.
    const bySecond = new Map<string, number>()
    for (const m of second) if (first.some((f) => f.t.user.id === m.t.user.id)) bySecond.set(m.t.user.id, (bySecond.get(m.t.user.id) ?? 0) + 1)
    const user = [...bySecond].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0]
    const blacklist = blacklistTopic()
    const processors = transactionProcessors(TOPIC, KEY)
    const outputs = transactionOutputs(processors, "p_")
    const published = outputSink(outputs)

    await test(Effect.gen(function*() {
      const lakeSink = yield* makeLakeSink<EurTransaction>(TOPIC, transactionFeeds(TOPIC, processors), {
        store: makeLocalStore(lake),
        compression: "zstd",
        checkpointInterval: 10,
        encoder: inlineEncoder,
        outage: defaultOutagePolicy
      })
      const topology: Topology = {
        flows: [{ topic: TOPIC, decisions: transactionDecisions({ rates: emptyStateTopic("fx"), blacklist: blacklist.topic }, 1 << 20), sinks: [lakeSink, published.sink] }],
        window: { maxRecords: 100, maxBytes: 1 << 30, maxAgeMs: 200 }
      }
      const driver = yield* makeTestDriver(topology, new Map([[TOPIC, 2]]))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* driver.pipe(TOPIC, 0, [...first.slice(0, 200).map((m) => m.text), "{"])
      yield* driver.pipe(TOPIC, 1, [...first.slice(200).map((m) => m.text), null])
      expect(yield* driver.advanceUntil(() => published.reached([201, 201]), 60_000)).toBe(true)
      // Mid-stream: the entry arrives, then the second batch.
      blacklist.add({ kind: "user_id", value: user, reason: "chargebacks", addedAtMs: 0, removedAtMs: null })
      yield* driver.pipe(TOPIC, 0, second.slice(0, 200).map((m) => m.text))
      yield* driver.pipe(TOPIC, 1, second.slice(200).map((m) => m.text))
      expect(yield* driver.advanceUntil(() => published.reached([401, 401]), 60_000)).toBe(true)
      const summary = yield* driver.drain
      expect(Exit.isSuccess(summary) && summary.value).toMatchObject({ reason: "drained", records: 800, deadLetters: 2 })
    }))

    const relation = async (table: string) => {
      const root = path.join(lake, table)
      return parquetRelation([...(await Effect.runPromise(readSnapshot(makeLocalStore(root), ""))).files.keys()].map((f) => path.join(root, f)), "")
    }
    const all = [...first, ...second].map((m) => m.t)
    const rates = new RateTable(defaultExchangeRates)
    const anonymize = makeAnonymizer(KEY)
    const expectedAnonymized = all.map((t) => anonymize(Result.getOrThrow(valueInEur(t, rates))))
      .map((a) => ({ id: a.transactionId, pseudonym: a.user.pseudonym, net: a.ipNetwork, eur: centsToDecimal(a.amountEurCents) }))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
    const expectedBlacklisted = second.map((m) => m.t).filter((t) => t.user.id === user).map((t) => t.transactionId).sort()
    expect(expectedBlacklisted.length).toBeGreaterThan(2)
    expect(first.some((m) => m.t.user.id === user)).toBe(true)

    // The lake's feeds.
    for (const feed of ["streams/transaction_stream", "streams/transaction_flattened"]) {
      expect(await duck(`SELECT count(*)::INTEGER AS n FROM ${await relation(feed)}`), feed).toEqual([{ n: 800 }])
    }
    expect(await duck(`SELECT _kafka_partition AS p, error_kind AS k FROM ${await relation(`_deadletter/${TOPIC}`)} ORDER BY 1`))
      .toEqual([{ p: 0, k: "not-json" }, { p: 1, k: "empty" }])
    expect(await duck(`SELECT transaction_id AS id, user.id AS pseudonym, ip_network AS net, amount_eur::VARCHAR AS eur
      FROM ${await relation("streams/transaction_stream_anonymized")} ORDER BY id`)).toEqual(expectedAnonymized)
    expect(await duck(`SELECT transaction_id AS id, blacklist_kind AS kind, blacklist_value AS value FROM ${await relation("streams/transaction_stream_blacklisted")} ORDER BY id`))
      .toEqual(expectedBlacklisted.map((id) => ({ id, kind: "user_id", value: user })))

    // The output topics: one message per value of their processors, keyed by transaction id.
    const messages = (topic: string) => published.sent.filter((m) => m.topic === topic).map((m): Record<string, any> => ({ key: m.key, ...JSON.parse(m.value) }))
    const anonymized = messages("p_transaction_stream_anonymized")
    expect(anonymized.map((m) => ({ id: m.key, pseudonym: m.user.id, net: m.ip_network, eur: (m.amount_eur as number).toFixed(2) })).sort((a, b) => (a.id < b.id ? -1 : 1)))
      .toEqual(expectedAnonymized)
    expect(anonymized.every((m) => m.key === m.transaction_id && !("name" in m.user) && !("email" in m.user) && !("card_last4" in m))).toBe(true)
    const blacklisted = messages("p_transaction_stream_blacklisted")
    expect(blacklisted.map((m) => m.key).sort()).toEqual(expectedBlacklisted)
    expect(blacklisted.every((m) => m.blacklist_kind === "user_id" && m.blacklist_value === user && m.blacklist_reason === "chargebacks")).toBe(true)

    // The tables, from what the lake committed: failed transactions excluded, every transaction once.
    const written = await Effect.runPromise(snapshotTables({ store: makeLocalStore(lake), keep: 7 }))
    expect(written.map((w) => [w.table, w.snapshot])).toEqual([
      ["user_transaction_summary", 1],
      ["user_transaction_summary_eur", 1],
      ["payment_method_totals", 1],
      ["product_purchase_counts", 1]
    ])
    const counted = all.filter((t) => t.status !== "failed")
    for (const table of ["user_transaction_summary", "user_transaction_summary_eur", "payment_method_totals"]) {
      expect(await duck(`SELECT sum(transaction_count)::INTEGER AS n FROM ${await relation(`tables/${table}`)}`), table).toEqual([{ n: counted.length }])
    }
    const purchases = counted.filter((t) => t.transactionType === "purchase" && t.product !== null)
    expect(await duck(`SELECT sum(purchase_count)::INTEGER AS n, sum(units_sold)::INTEGER AS units FROM ${await relation("tables/product_purchase_counts")}`))
      .toEqual([{ n: purchases.length, units: purchases.reduce((n, t) => n + t.quantity, 0) }])
  })
})
