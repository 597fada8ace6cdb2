/**
 * The service behind `sluice run`: builds the topology from the settings (source topic, decoder,
 * sinks), joins the consumer group and runs until stopped or caught up, draining on SIGINT/SIGTERM.
 */
import { Effect } from "effect"
import { decodeTransaction, type Transaction } from "../domain/Transaction.ts"
import { deadLetterFeed, transactionFlattenedFeed, transactionStreamFeed } from "../sinks/lake/Feeds.ts"
import { makeLakeSink } from "../sinks/lake/LakeSink.ts"
import type { LakeTable } from "../sinks/lake/LakeTable.ts"
import { type RunSummary, runTopology } from "../topology/Runtime.ts"
import { defaultSourceOptions, KafkaError, makeSource } from "../topology/Source.ts"
import type { Topology } from "../topology/Topology.ts"
import { topicPartitions } from "./KafkaAdmin.ts"
import type { SettingsShape } from "./Settings.ts"
import { gracefulStop } from "./Signals.ts"

export interface ServiceOptions {
  readonly untilIdleMs?: number | undefined
}

/** The lake feeds of the transaction topic, in the order they are committed. */
export const transactionFeeds = (topic: string) => [transactionStreamFeed, transactionFlattenedFeed, deadLetterFeed<Transaction>(topic)]

export const lakeSinkFor = (settings: SettingsShape) =>
  makeLakeSink<Transaction>(settings.topic, transactionFeeds(settings.topic), {
    lakeRoot: settings.lakeDir,
    compression: settings.compression,
    checkpointInterval: settings.checkpointInterval
  })

export interface ServiceResult {
  readonly summary: RunSummary
  readonly tables: ReadonlyArray<LakeTable<any>>
}

/**
 * Runs the service until caught up (with `untilIdleMs`) or until the first SIGINT/SIGTERM, which
 * stops fetching, writes and commits the open windows, and returns normally.
 */
export const runService = (settings: SettingsShape, options: ServiceOptions) =>
  Effect.scoped(
    Effect.gen(function*() {
      const partitions = yield* topicPartitions(settings.brokers, settings.topic)
      if (partitions === undefined) {
        return yield* new KafkaError({
          op: `subscribe to ${settings.topic}`,
          cause: new Error(`topic ${settings.topic} does not exist on ${settings.brokers.join(",")}; create it with: npx sluice produce --topic ${settings.topic} --messages 0 --partitions 4`)
        })
      }
      const lake = yield* lakeSinkFor(settings)
      const topology: Topology = {
        flows: [{ topic: settings.topic, decode: decodeTransaction, sinks: [lake] }],
        window: settings.window,
        decodePolicy: { maxMessageBytes: settings.maxMessageBytes }
      }
      const source = yield* makeSource({
        ...defaultSourceOptions,
        brokers: settings.brokers,
        groupId: settings.group,
        clientId: settings.clientId,
        groupInstanceId: settings.instanceId,
        sessionTimeoutMs: settings.sessionTimeoutMs,
        topics: [settings.topic]
      })
      const stop = yield* gracefulStop
      const summary = yield* runTopology(topology, source, {
        untilIdleMs: options.untilIdleMs,
        flushWhenCaughtUp: options.untilIdleMs !== undefined,
        drainTimeoutMs: settings.drainTimeoutMs,
        fencedBackoffMs: 1_000
      }, stop)
      return { summary, tables: lake.tables } satisfies ServiceResult
    })
  )
