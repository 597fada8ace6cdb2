/**
 * `sluice demo`: the two-command tour. Starts the local stack, fills the transaction topic once
 * with sample data, runs the service until caught up and shows what landed in the lake.
 */
import { Console, Effect } from "effect"
import { tableRoot } from "../sinks/lake/LakeTable.ts"
import { describeLake, lakeLocator, openLake } from "./LakeChoice.ts"
import { formatFeeds, formatRun, summarizeFeeds } from "./LakeReport.ts"
import { ensureTopic, topicId, topicOffsets } from "./KafkaAdmin.ts"
import { produce } from "./Produce.ts"
import { runService, transactionFeeds } from "./Service.ts"
import type { SettingsShape } from "./Settings.ts"
import * as Stack from "./Stack.ts"

export interface DemoOptions {
  readonly messages: number
}

const PARTITIONS = 4

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
    yield* Console.log(`running until caught up: ${settings.topic} → ${describeLake(settings.lake, settings.s3)}`)
    const summary = yield* runService(settings, { untilIdleMs: 1_500, migrate: true })
    yield* Console.log(formatRun(summary))
    yield* Console.log("")
    const id = yield* topicId(settings.brokers, settings.topic)
    yield* Console.log(formatFeeds(yield* Effect.scoped(Effect.flatMap(openLake(settings, { writes: false }), (store) => summarizeFeeds(store, settings.topic, id, transactionFeeds(settings.topic))))))
    if (summary.warehouseLine) yield* Console.log(summary.warehouseLine)
    yield* Console.log("")
    yield* Console.log(`check it: npx sluice verify`)
    const stream = lakeLocator(settings.lake)(tableRoot({ kind: "streams", name: "transaction_stream" }))
    yield* Console.log(`read it (DuckDB, Spark, pandas…): ${stream}/*=*/**/*.parquet, or as a Delta table at ${stream}`)
  })
