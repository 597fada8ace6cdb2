/**
 * The service behind `sluice run`: builds the topology from the settings (source topic, decoder
 * and EUR valuation, lake and warehouse sinks), joins the consumer group and runs until stopped
 * or caught up, draining on SIGINT/SIGTERM.
 */
import { Console, Effect, Fiber, type Result } from "effect"
import type { EurTransaction } from "../domain/ExchangeRate.ts"
import { armCrashPoint } from "../sinks/CrashPoint.ts"
import { makeKafkaSink } from "../sinks/kafka/KafkaSink.ts"
import { lakeTargets, makeLakeSink } from "../sinks/lake/LakeSink.ts"
import { tableRoot } from "../sinks/lake/LakeTable.ts"
import { makeParquetEncoder } from "../sinks/lake/ParquetEncoder.ts"
import type { Sink } from "../topology/Sink.ts"
import { migrate } from "../sinks/warehouse/Migrator.ts"
import type { Warehouse } from "../sinks/warehouse/Warehouse.ts"
import { defaultWarehouseSinkOptions, makeWarehouseSink, warehouseTargets } from "../sinks/warehouse/WarehouseSink.ts"
import { describeTopology, type FlowDescription, type TableDescription } from "../topology/Describe.ts"
import { formatVersion } from "../topology/Decisions.ts"
import { defaultOutagePolicy } from "../topology/Outage.ts"
import { followStateTopic } from "../topology/StateTopic.ts"
import { MemoryBudget } from "../topology/MemoryBudget.ts"
import { runTopology } from "../topology/Runtime.ts"
import { defaultSourceOptions, makeSource } from "../topology/Source.ts"
import type { TopicFlow, Topology } from "../topology/Topology.ts"
import type { Vente } from "../domain/Vente.ts"
import { venteDecisions, venteFeeds, ventePartitionState } from "./VenteFlow.ts"
import { VENTE_TABLES, fenetresTable } from "./VenteTables.ts"
import { ensureTopic, topicId, topicPartitions } from "./KafkaAdmin.ts"
import { describeLake, lakeLocator, openLake } from "./LakeChoice.ts"
import { lakeFiles } from "./LakeFiles.ts"
import type { SettingsShape } from "./Settings.ts"
import { gracefulStop } from "./Signals.ts"
import { TABLES } from "./TableSnapshots.ts"
import { snapshotInProcess } from "./LakeSnapshot.ts"
import { loadAnonymizationKey } from "./AnonymizationKey.ts"
import {
  decodeBlacklistMessage,
  decodeRateMessage,
  transactionDecisions,
  transactionFeeds,
  transactionOutputs,
  transactionProcessors
} from "./TransactionFlow.ts"
import { describeWarehouse } from "./VerifyWarehouse.ts"
import { serveOperations } from "./Endpoints.ts"
import { makeMetrics } from "./Metrics.ts"
import { followProgress } from "./Progress.ts"
import { describeWarehouseChoice, openWarehouse } from "./WarehouseChoice.ts"

export interface ServiceOptions {
  readonly untilIdleMs?: number | undefined
  /** Apply pending warehouse migrations before starting (the default). */
  readonly migrate: boolean
}

export { transactionFeeds } from "./TransactionFlow.ts"

/**
 * Runs the service until caught up (with `untilIdleMs`) or until the first SIGINT/SIGTERM, which
 * stops fetching, writes and commits the open windows, and returns normally.
 */
export const runService = (settings: SettingsShape, options: ServiceOptions) =>
  Effect.scoped(
    Effect.gen(function*() {
      armCrashPoint(settings.crashAt)
      const metrics = makeMetrics({ group: settings.group })
      // Opened (and its conditional writes checked) before anything is written there.
      const lake = settings.sinks.includes("lake") ? yield* openLake(settings, { writes: true }) : undefined
      yield* serveOperations(settings.http, metrics, lake === undefined ? undefined : { lake: { store: lake, files: yield* lakeFiles(lake) }, topic: settings.topic })
      const follow = <V>(topic: string, decode: (key: string, value: Buffer) => Result.Result<V, string>) =>
        followStateTopic({ brokers: settings.brokers, topic, decode, pollMs: 1_000, loadDeadlineMs: 60_000 })
      const [rates, blacklist] = yield* Effect.all([follow(settings.ratesTopic, decodeRateMessage), follow(settings.blacklistTopic, decodeBlacklistMessage)], {
        concurrency: 2
      })
      const decisions = transactionDecisions({ rates, blacklist }, settings.maxMessageBytes)
      const first = decisions.current()
      yield* Console.log(`decisions ${formatVersion(first.version)}: ${first.summary}`)
      const key = yield* loadAnonymizationKey({ key: settings.anonymizationKey, file: settings.anonymizationKeyFile })
      yield* Console.log(`anonymization key: ${key.origin}`)
      const processors = transactionProcessors(settings.topic, key.key)
      const outage = { ...defaultOutagePolicy, deadlineMs: settings.outageTimeoutMs, observer: metrics.observer }
      const sinks: Array<Sink<EurTransaction>> = []
      if (lake !== undefined) {
        sinks.push(
          yield* makeLakeSink<EurTransaction>(settings.topic, transactionFeeds(settings.topic, processors), {
            store: lake,
            compression: settings.compression,
            checkpointInterval: settings.checkpointInterval,
            encoder: yield* makeParquetEncoder(settings.encodeWorkers),
            outage,
            observer: metrics.observer
          })
        )
        yield* Console.log(`lake: ${describeLake(settings.lake, settings.s3)}`)
      }
      let warehouse: Warehouse | undefined
      if (settings.sinks.includes("warehouse")) {
        warehouse = yield* openWarehouse(settings)
        yield* Console.log(`warehouse: ${warehouse.description}`)
        if (options.migrate) {
          const report = yield* migrate(warehouse)
          if (report.applied.length > 0) yield* Console.log(`warehouse: applied ${report.applied.map((m) => m.file).join(", ")}`)
        }
        sinks.push(makeWarehouseSink(warehouse, settings.topic, { ...defaultWarehouseSinkOptions, group: settings.group, outage }))
      }
      const streams = settings.publish.filter((p): p is "anonymized" | "blacklisted" => p !== "tables")
      if (streams.length > 0) {
        // The output topics mirror the source's partitions: a missing source is waited for (said once).
        let partitions = yield* topicPartitions(settings.brokers, settings.topic)
        if (partitions === undefined) {
          yield* Console.log(`topic ${settings.topic} does not exist on ${settings.brokers.join(",")} yet; waiting for it before publishing (sluice produce creates it)`)
          while (partitions === undefined) {
            yield* Effect.sleep("1 second")
            partitions = yield* topicPartitions(settings.brokers, settings.topic)
          }
        }
        const outputs = transactionOutputs(processors, settings.publishPrefix)
        for (const p of streams) yield* ensureTopic(settings.brokers, outputs[p].topic, partitions)
        sinks.push(yield* makeKafkaSink({ brokers: settings.brokers, group: settings.group, topic: settings.topic, outputs: streams.map((p) => outputs[p]), outage }))
        yield* Console.log(`publishing: ${streams.map((p) => outputs[p].topic).join(", ")} (transactional)`)
      }
      // The sales flow: bronze and late sales in the lake, judged against each partition's watermark.
      const ventes = settings.ventes !== undefined && lake !== undefined ? settings.ventes : undefined
      const flows: Array<TopicFlow<any>> = [{ topic: settings.topic, decisions, sinks }]
      if (ventes !== undefined && lake !== undefined) {
        const venteSink = yield* makeLakeSink<Vente>(ventes.topic, venteFeeds(ventes.topic), {
          store: lake,
          compression: settings.compression,
          checkpointInterval: settings.checkpointInterval,
          encoder: yield* makeParquetEncoder(settings.encodeWorkers),
          outage,
          observer: metrics.observer
        })
        const venteDecisionSource = venteDecisions(settings.maxMessageBytes, ventes.watermarkMs)
        flows.push({ topic: ventes.topic, decisions: venteDecisionSource, sinks: [venteSink], partitionState: ventePartitionState })
        yield* Console.log(`sales: ${ventes.topic} (${venteDecisionSource.current().summary}; windows of ${ventes.windowMs / 60_000} min)`)
      }
      const topology: Topology = { flows, window: settings.window }
      metrics.watchSinks([...new Set(flows.flatMap((f) => f.sinks.map((s) => s.name)))])
      // One budget for the fetched batches and the open windows of every partition of every flow.
      const budget = new MemoryBudget(settings.memoryMb * 1024 * 1024)
      metrics.watchBudget(budget)
      const source = yield* makeSource({
        ...defaultSourceOptions,
        brokers: settings.brokers,
        groupId: settings.group,
        clientId: settings.clientId,
        groupInstanceId: settings.instanceId,
        sessionTimeoutMs: settings.sessionTimeoutMs,
        topics: flows.map((f) => f.topic),
        onOffsetOutOfRange: settings.onOffsetOutOfRange,
        outage,
        budget
      })
      const stop = yield* gracefulStop
      if (options.untilIdleMs !== undefined) yield* followProgress("sluice run", metrics.backlog)
      const snapshots = lake !== undefined ? snapshotInProcess(settings) : undefined
      // The aggregate tables, every SLUICE_SNAPSHOT_EVERY while the service runs: a failure is logged and the next period retries.
      const periodic = snapshots === undefined ? undefined : yield* Effect.forkScoped(
        Effect.forever(Effect.sleep(settings.snapshotEveryMs).pipe(Effect.andThen(snapshots), Effect.catchCause((c) => Effect.logError("snapshot failed", c))))
      )
      const summary = yield* runTopology(topology, source, {
        untilIdleMs: options.untilIdleMs,
        flushWhenCaughtUp: options.untilIdleMs !== undefined,
        drainTimeoutMs: settings.drainTimeoutMs,
        stalledAfterMs: settings.stalledAfterMs,
        fencedBackoffMs: 1_000,
        observer: metrics.observer,
        budget
      }, stop)
      // A catch-up run ends with tables that reflect everything it committed. The periodic job stops
      // first, its run in progress finished: two runs at once fence each other's table commits and
      // publications.
      if (periodic !== undefined) yield* Fiber.interrupt(periodic)
      if (snapshots !== undefined && summary.reason === "idle") yield* snapshots
      const warehouseLine = warehouse === undefined
        ? undefined
        : yield* describeWarehouse(warehouse, settings.group, settings.topic, yield* topicId(settings.brokers, settings.topic))
      return { ...summary, warehouseLine }
    })
  )

/** The topology `run` would build from these settings, described without opening anything. */
export const describeService = (settings: SettingsShape): string => {
  const processors = transactionProcessors(settings.topic)
  const outputs = transactionOutputs(processors, settings.publishPrefix)
  const locate = lakeLocator(settings.lake)
  const targets = [
    ...(settings.sinks.includes("lake") ? lakeTargets(transactionFeeds(settings.topic, processors), locate).map((t) => ({ ...t, sink: "lake" })) : []),
    ...(settings.sinks.includes("warehouse") ? warehouseTargets(settings.topic, describeWarehouseChoice(settings)).map((t) => ({ ...t, sink: "warehouse" })) : []),
    ...settings.publish.filter((p) => p !== "tables").map((p) => ({
      name: outputs[p as "anonymized" | "blacklisted"].topic,
      location: `on ${settings.brokers.join(",")}, transactional`,
      input: outputs[p as "anonymized" | "blacklisted"].input,
      sink: "kafka"
    }))
  ]
  const period = settings.snapshotEveryMs % 60_000 === 0 ? `${settings.snapshotEveryMs / 60_000} min` : `${settings.snapshotEveryMs / 1000} s`
  const every = `every ${period} and at the end of a catch-up run, last ${settings.snapshotKeep} kept`
  const tables: Array<TableDescription> = settings.sinks.includes("lake")
    ? TABLES.map((t) => ({
      name: `tables/${t.name}`,
      location: locate(tableRoot({ kind: "tables", name: t.name })),
      from: "streams/transaction_flattened",
      schedule: settings.publish.includes("tables") ? `${every}, its changes published to topic ${settings.publishPrefix}${t.name} (compacted, transactional)` : every
    }))
    : []
  const flows: Array<FlowDescription> = [{
    topic: settings.topic,
    // Nothing is read here: what the topics hold now is said by `run` when it starts.
    decisions: `from ${settings.ratesTopic} (or the built-in table while it does not exist), ${settings.blacklistTopic} (empty while it does not exist) and the size cap of ${settings.maxMessageBytes} bytes`,
    deadLetterReasons: "empty, too large, not UTF-8, not JSON, not the schema, no rate",
    targets
  }]
  const ventes = settings.ventes !== undefined && settings.sinks.includes("lake") ? settings.ventes : undefined
  if (ventes !== undefined) {
    flows.push({
      topic: ventes.topic,
      decisions: `fixed by configuration: ${venteDecisions(settings.maxMessageBytes, ventes.watermarkMs).current().summary}`,
      targets: lakeTargets(venteFeeds(ventes.topic), locate).map((t) => ({ ...t, sink: "lake" }))
    })
    const from = "streams/ventes_stream"
    for (const t of VENTE_TABLES) tables.push({ name: `tables/${t.name}`, location: locate(tableRoot({ kind: "tables", name: t.name })), from, schedule: every })
    tables.push({
      name: `streams/${fenetresTable.name}`,
      location: locate(tableRoot({ kind: "streams", name: fenetresTable.name })),
      from: `${from} (on-time sales, windows of ${ventes.windowMs / 60_000} min per country)`,
      schedule: "appended with the tables, once every partition's watermark has passed a window's end"
    })
  }
  return describeTopology(flows, tables)
}
