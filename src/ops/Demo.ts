/**
 * `sluice demo`: the two-command tour. Starts the local stack, fills the transaction topic and the
 * sales topic once with sample data (and the blacklist topic with two entries), runs the service
 * until caught up and shows what landed in the lake: every feed and every table of both pipelines.
 */
import { Producer } from "@platformatic/kafka"
import { Console, Effect } from "effect"
import { blacklistKey, type BlacklistEntryWire } from "../domain/Blacklist.ts"
import { tableRoot } from "../sinks/lake/LakeTable.ts"
import { KafkaError } from "../topology/Fetch.ts"
import { describeLake, lakeLocator, openLake } from "./LakeChoice.ts"
import { formatFeeds, formatRun, formatTables, summarizeFeeds, summarizeTables } from "./LakeReport.ts"
import { ensureTopic, topicId, topicOffsets, topicPartitions } from "./KafkaAdmin.ts"
import { produce } from "./Produce.ts"
import { runService, transactionFeeds } from "./Service.ts"
import type { SettingsShape } from "./Settings.ts"
import * as Stack from "./Stack.ts"
import { TABLES } from "./TableSnapshots.ts"
import { venteFeeds } from "./VenteFlow.ts"
import { VENTE_TABLES } from "./VenteTables.ts"

export interface DemoOptions {
  readonly messages: number
}

const PARTITIONS = 4
/** The sales of the demo: a few days of the simulator's stream, some of it late. */
const SALES = 5_000

/** Two of the sample users (ids u-000001 to u-000500, the low ones the busiest), so that the blacklisted feed is not empty. */
const DEMO_BLACKLIST: ReadonlyArray<BlacklistEntryWire> = [
  { kind: "user_id", value: "u-000007", reason: "demo: chargebacks", added_at: "2026-01-01T00:00:00Z" },
  { kind: "user_id", value: "u-000042", reason: "demo: fraud ring", added_at: "2026-01-01T00:00:00Z" }
]

/** Creates the blacklist topic with the demo's entries, unless it exists (then it is the operator's, left as it is). */
const seedBlacklist = (settings: SettingsShape) =>
  Effect.gen(function*() {
    const topic = settings.blacklistTopic
    if ((yield* topicPartitions(settings.brokers, topic)) !== undefined) {
      return yield* Console.log(`blacklist: ${topic} exists; left as it is`)
    }
    yield* ensureTopic(settings.brokers, topic, 1, [{ name: "cleanup.policy", value: "compact" }])
    yield* Effect.acquireUseRelease(
      Effect.sync(() => new Producer({ clientId: "sluice-demo", bootstrapBrokers: [...settings.brokers], idempotent: true, acks: -1, retries: 5 })),
      (producer) =>
        Effect.tryPromise({
          try: () =>
            producer.send({
              messages: DEMO_BLACKLIST.map((e) => ({ topic, key: Buffer.from(blacklistKey(e)), value: Buffer.from(JSON.stringify(e)) }))
            }),
          catch: (cause) => new KafkaError({ op: `send the demo's entries to ${topic}`, cause })
        }).pipe(
          // With no broker, send() retries forever.
          Effect.timeoutOrElse({ duration: "15 seconds", orElse: () => Effect.fail(new KafkaError({ op: `send to ${topic}`, cause: new Error("no answer within 15 s") })) })
        ),
      (producer) => Effect.promise(() => producer.close().catch(() => undefined))
    )
    yield* Console.log(`blacklist: created ${topic} with ${DEMO_BLACKLIST.map((e) => blacklistKey(e)).join(" and ")}`)
  })

/** Fills the sales topic (one partition, as the seed's) up to the demo's sales, 2% of them late. */
const seedSales = (settings: SettingsShape, topic: string) =>
  Effect.gen(function*() {
    yield* ensureTopic(settings.brokers, topic, 1)
    const held = (yield* topicOffsets(settings.brokers, topic)).reduce((n, p) => n + p.end - p.start, 0)
    if (held >= SALES) return yield* Console.log(`${topic} already holds ${held.toLocaleString("en-US")} sales: nothing to produce`)
    const report = yield* produce({
      brokers: settings.brokers,
      kind: "ventes",
      topic,
      messages: SALES - held,
      rate: 0,
      partitions: 1,
      badRatio: 0.01,
      lateRatio: 0.02,
      seed: 42 + held,
      progress: false
    })
    yield* Console.log(`produced ${report.sent.toLocaleString("en-US")} sample sales (1% malformed, ${report.late.toLocaleString("en-US")} late) to ${topic}`)
  })

export const runDemo = (settings: SettingsShape, options: DemoOptions) =>
  Effect.gen(function*() {
    const stackOptions = yield* Stack.stackOptions
    if (settings.brokers.join(",") === Stack.brokersOf(stackOptions)) {
      yield* Stack.up(stackOptions)
    } else {
      yield* Console.log(`using Kafka at ${settings.brokers.join(",")} (KAFKA_BROKERS)`)
    }
    yield* ensureTopic(settings.brokers, settings.topic, PARTITIONS)
    const held = (yield* topicOffsets(settings.brokers, settings.topic)).reduce((n, p) => n + p.end - p.start, 0)
    if (held < options.messages) {
      const missing = options.messages - held
      yield* Console.log(`producing ${missing.toLocaleString("en-US")} sample transactions (1% malformed) to ${settings.topic}`)
      const report = yield* produce({
        brokers: settings.brokers,
        topic: settings.topic,
        messages: missing,
        rate: 0,
        partitions: PARTITIONS,
        badRatio: 0.01,
        seed: 42 + held,
        progress: process.stdout.isTTY === true
      })
      yield* Console.log(`produced ${report.sent.toLocaleString("en-US")} in ${(report.elapsedMs / 1000).toFixed(1)} s`)
    } else {
      yield* Console.log(`${settings.topic} already holds ${held.toLocaleString("en-US")} messages: nothing to produce`)
    }
    yield* seedBlacklist(settings)
    const sales = settings.ventes !== undefined && settings.sinks.includes("lake") ? settings.ventes.topic : undefined
    if (sales !== undefined) yield* seedSales(settings, sales)
    yield* Console.log(`running until caught up: ${[settings.topic, sales].filter((t) => t !== undefined).join(" and ")} → ${describeLake(settings.lake, settings.s3)}`)
    const summary = yield* runService(settings, { untilIdleMs: 1_500, migrate: true })
    yield* Console.log(formatRun(summary))
    yield* Console.log("")
    const id = yield* topicId(settings.brokers, settings.topic)
    const { feeds, tables } = yield* Effect.scoped(Effect.gen(function*() {
      const store = yield* openLake(settings, { writes: false })
      const salesId = sales === undefined ? undefined : yield* topicId(settings.brokers, sales)
      return {
        feeds: [
          ...yield* summarizeFeeds(store, settings.topic, id, transactionFeeds(settings.topic)),
          ...(sales === undefined ? [] : yield* summarizeFeeds(store, sales, salesId, venteFeeds(sales)))
        ],
        tables: [
          ...yield* summarizeTables(store, settings.topic, id, TABLES),
          ...(sales === undefined ? [] : yield* summarizeTables(store, sales, salesId, VENTE_TABLES))
        ]
      }
    }))
    yield* Console.log(formatFeeds(feeds))
    yield* Console.log("")
    yield* Console.log(formatTables(tables))
    if (summary.warehouseLine) yield* Console.log(summary.warehouseLine)
    yield* Console.log("")
    yield* Console.log(`check it: npx sluice verify`)
    const stream = lakeLocator(settings.lake)(tableRoot({ kind: "streams", name: "transaction_stream" }))
    yield* Console.log(`read it (DuckDB, Spark, pandas…): ${stream}/*=*/**/*.parquet, or as a Delta table at ${stream}`)
    yield* Console.log(`query it: npx sluice query "SELECT * FROM user_transaction_summary ORDER BY total_amount DESC LIMIT 5"`)
    if (sales !== undefined) yield* Console.log(`the sales pipeline's top 10 clients, revenue by country and client type: npx sluice report ventes`)
  })
