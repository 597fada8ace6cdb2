/**
 * The `latency-low` scenario: `sluice run` writing the lake and the warehouse with windows of
 * 100 ms, `sluice schedule` compacting beside it, an offered load; then produce → commit latency of
 * both sinks and the live files each day partition is left with.
 */
import { loadavg } from "node:os"
import { rmSync } from "node:fs"
import * as path from "node:path"
import { Consumer } from "@platformatic/kafka"
import { Effect } from "effect"
import { deleteTopics, ensureTopic } from "../../src/ops/KafkaAdmin.ts"
import { parseMetrics } from "../../src/ops/Live.ts"
import { lakeTables } from "../../src/ops/Maintenance.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { freePort } from "../chaos/Ports.ts"
import { type BenchContext, newGroup, nodeBinary, sluiceBin } from "../harness/Context.ts"
import { spawnMeasured } from "../harness/Measure.ts"
import { type Bucket, bucketPercentile, percentile, round } from "../harness/Stats.ts"
import { createDatabase, dropDatabase } from "../harness/Warehouse.ts"
import type { FeedFiles, LowWindowLatencyResult, SinkLatency } from "../report/Results.ts"
import { lagTrend, lakeCommitted, offerLoad, rowLatencies, sleep } from "./Latency.ts"
import { sluiceEnv } from "./Sluice.ts"

export interface LowWindowOptions {
  readonly rate: number
  readonly seconds: number
  readonly windowMaxAgeMs: number
  readonly targetP99Ms: number
  /** `sluice schedule --compact-every` (minutes, fractions allowed). */
  readonly compactEveryMinutes: number
  readonly targetFileMb: number
  /** `sluice produce --event-days`: how many days the event times (and so the day partitions) span. */
  readonly eventDays: number
}

const HISTOGRAM = "sluice_end_to_end_latency_seconds"

/** The service's end-to-end latency histogram of one sink, in ms. */
const serviceLatency = (metrics: string, sink: string, targetMs: number): SinkLatency => {
  const buckets: Array<Bucket> = parseMetrics(metrics)
    .filter((s) => s.name === `${HISTOGRAM}_bucket` && s.labels["sink"] === sink)
    .map((s) => ({ le: s.labels["le"] === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels["le"]) * 1000, count: s.value }))
  const total = buckets.find((b) => !Number.isFinite(b.le))?.count ?? 0
  const atTarget = buckets.find((b) => b.le === targetMs)
  if (atTarget === undefined) throw new Error(`${HISTOGRAM} has no bucket at ${targetMs} ms`)
  const highest = buckets.filter((b) => Number.isFinite(b.le)).sort((a, b) => a.le - b.le).find((b) => b.count === total)
  return {
    p50Ms: round(bucketPercentile(buckets, 50)),
    p95Ms: round(bucketPercentile(buckets, 95)),
    p99Ms: round(bucketPercentile(buckets, 99)),
    samples: total,
    maxMs: highest?.le ?? Number.POSITIVE_INFINITY,
    withinTargetPct: total === 0 ? 0 : round((atTarget.count / total) * 100, 2),
    measuredBy: `the service's ${HISTOGRAM}{sink="${sink}"} (its commit's end − Kafka timestamp, per record; percentiles interpolated in 25 ms buckets)`
  }
}

/** Sum of `sluice_partition_lag_messages` (Kafka's end − the slowest sink's commit) over the assigned partitions. */
const serviceLag = (metrics: string): number | undefined => {
  const lags = parseMetrics(metrics).filter((s) => s.name === "sluice_partition_lag_messages")
  return lags.length === 0 ? undefined : lags.reduce((n, s) => n + s.value, 0)
}

/** Live files per day partition of every stream table of the lake (dead letters included), from the logs. */
export const filesPerPartition = async (lakeDir: string): Promise<Record<string, FeedFiles>> => {
  const store = makeLocalStore(lakeDir)
  const out: Record<string, FeedFiles> = {}
  for (const root of await Effect.runPromise(lakeTables(store))) {
    if (root.startsWith("tables/")) continue
    const snapshot = await Effect.runPromise(readSnapshot(store, root))
    const partitions: Record<string, number> = {}
    for (const file of snapshot.files.keys()) {
      const folder = path.posix.dirname(decodeURIComponent(file))
      partitions[folder] = (partitions[folder] ?? 0) + 1
    }
    out[root] = { maxPerPartition: Math.max(0, ...Object.values(partitions)), partitions }
  }
  return out
}

/** Runs the service (lake + warehouse) and the scheduler on a fresh topic, offers `rate` msg/s for `seconds`, and measures. */
export const runLowWindowLatency = async (ctx: BenchContext, options: LowWindowOptions): Promise<LowWindowLatencyResult> => {
  const { rate, seconds, windowMaxAgeMs, targetP99Ms } = options
  const partitions = ctx.topic.partitions
  const topic = `bench_latency_low_r${rate}_${ctx.runId}`
  const lakeDir = path.join(ctx.tmpRoot, `latency-low-${rate}`)
  const database = `bench_latency_low_${ctx.runId}`
  const loadBefore = loadavg()[0]!
  await Effect.runPromise(ensureTopic(ctx.brokers, topic, partitions))
  const mysqlUrl = await createDatabase(database)
  const port = await freePort()
  const env = {
    ...sluiceEnv(ctx, { lakeDir, group: newGroup(ctx, `latencylow${rate}`), sinks: "lake,warehouse", mysqlUrl }),
    SLUICE_TOPIC: topic,
    SLUICE_WINDOW_MAX_AGE_MS: String(windowMaxAgeMs),
    SLUICE_HTTP_PORT: String(port)
  }
  const exited = { service: false, schedule: false }
  // On a loaded machine the service may answer late: a few attempts, then the reason and its output.
  const metrics = async (): Promise<string> => {
    let failure: unknown
    for (let attempt = 0; attempt < 10; attempt++) {
      if (exited.service) break
      try {
        const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) })
        if (response.ok) return await response.text()
        failure = new Error(`answered ${response.status}`)
      } catch (e) {
        failure = e
      }
      await sleep(1_000)
    }
    const reason = (failure as Error | undefined)?.message ?? "the service exited"
    throw new Error(`GET http://127.0.0.1:${port}/metrics of sluice run: ${reason}\n${service.output()}`)
  }
  const offsets = new Consumer({ clientId: "sluice-bench-lag", groupId: `bench_lag_low_${ctx.runId}`, bootstrapBrokers: [...ctx.brokers] })
  const service = spawnMeasured(nodeBinary(ctx.root), [sluiceBin(ctx.root), "run"], { cwd: ctx.root, env, timeoutMs: (seconds + 240) * 1000 })
  const scheduleArgs = [
    "schedule",
    "--compact-every", String(options.compactEveryMinutes),
    "--target-file-mb", String(options.targetFileMb),
    "--snapshot-every", "0",
    "--vacuum-every", "0"
  ]
  let schedule: ReturnType<typeof spawnMeasured> | undefined
  void service.done.then(() => (exited.service = true), () => (exited.service = true))
  try {
    await service.waitFor(/assigned, resuming at offset/, { times: partitions, timeoutMs: 60_000 })
    // The tables exist once the service is up; compaction runs at once, then every period.
    schedule = spawnMeasured(nodeBinary(ctx.root), [sluiceBin(ctx.root), ...scheduleArgs], { cwd: ctx.root, env, timeoutMs: (seconds + 240) * 1000 })
    void schedule.done.then(() => (exited.schedule = true), () => (exited.schedule = true))

    const lag = async (): Promise<number> => {
      const ends = (await offsets.listOffsets({ topics: [topic], timestamp: -1n })).get(topic) ?? []
      const committed = await lakeCommitted(lakeDir, topic, partitions, ctx.brokers)
      let total = 0
      for (let p = 0; p < partitions; p++) total += Math.max(0, Number(ends[p] ?? 0n) - committed[p]!)
      // The warehouse is behind when the service says so (it knows both sinks' commits).
      return Math.max(total, serviceLag(await metrics()) ?? 0)
    }
    const load = await offerLoad(ctx, topic, rate, seconds, lag, ["--event-days", String(options.eventDays)])
    const { lagSlope, lagGrew, lagMax } = lagTrend(load, rate, windowMaxAgeMs)
    // Everything is committed by both sinks: the histograms hold every record.
    const text = await metrics()
    await service.signal("SIGTERM")
    const stopped = await service.done
    if (stopped.exitCode !== 0) throw new Error(`sluice run exited ${stopped.exitCode ?? stopped.signal} after SIGTERM:\n${stopped.output}`)
    await schedule.signal("SIGTERM")
    const scheduled = await schedule.done
    if (scheduled.exitCode !== 0) throw new Error(`sluice schedule exited ${scheduled.exitCode ?? scheduled.signal} after SIGTERM:\n${scheduled.output}`)

    const stream = await rowLatencies(path.join(lakeDir, "streams", "transaction_stream"))
    const lake: SinkLatency = {
      p50Ms: round(percentile(stream, 50)),
      p95Ms: round(percentile(stream, 95)),
      p99Ms: round(percentile(stream, 99)),
      samples: stream.length,
      maxMs: round(stream[stream.length - 1] ?? Number.NaN),
      withinTargetPct: stream.length === 0 ? 0 : round((stream.filter((l) => l <= targetP99Ms).length / stream.length) * 100, 2),
      measuredBy: "the Delta log: commitInfo.timestamp of the commit adding a row's file − the row's _kafka_timestamp, every row of transaction_stream"
    }
    const warehouse = serviceLatency(text, "warehouse", targetP99Ms)
    return {
      rate,
      seconds,
      produced: rate * seconds,
      eventDays: options.eventDays,
      windowMaxAgeMs,
      sinks: "lake,warehouse",
      targetP99Ms,
      lake,
      lakeService: serviceLatency(text, "lake", targetP99Ms),
      warehouse,
      metTarget: lake.p99Ms <= targetP99Ms && warehouse.p99Ms <= targetP99Ms,
      lagGrew,
      lagMax,
      lagSlopePerSecond: round(lagSlope, 1),
      caughtUpAfterMs: load.caughtUpAfterMs,
      cpuSeconds: round(stopped.cpuSeconds, 2),
      peakRssMB: round(stopped.peakRssMB),
      compaction: {
        command: `sluice ${scheduleArgs.join(" ")}`,
        runs: scheduled.output.split("\n").filter((l) => /compact(: | failed)/.test(l)).map((l) => l.replace(/^.*?(compact(: | failed))/, "$1").trim()),
        cpuSeconds: round(scheduled.cpuSeconds, 2),
        peakRssMB: round(scheduled.peakRssMB)
      },
      files: await filesPerPartition(lakeDir),
      loadAverage: [round(loadBefore, 2), round(loadavg()[0]!, 2)],
      lagSamples: load.samples
    }
  } finally {
    if (!exited.service) await service.signal("SIGKILL").catch(() => undefined)
    if (schedule !== undefined && !exited.schedule) await schedule.signal("SIGKILL").catch(() => undefined)
    await offsets.close(true).catch(() => undefined)
    // A moment for the killed processes to let go of the folder and the database.
    await sleep(200)
    rmSync(lakeDir, { recursive: true, force: true })
    await dropDatabase(database).catch(() => undefined)
    await Effect.runPromise(deleteTopics(ctx.brokers, [topic]).pipe(Effect.ignore))
  }
}
