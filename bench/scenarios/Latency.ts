/**
 * The `latency` scenario: `sluice run` as a long-running service under an offered load (`sluice
 * produce --rate`), lag sampled every second, then produce → commit latency of every committed row.
 */
import { readdirSync, readFileSync, rmSync } from "node:fs"
import * as path from "node:path"
import { Consumer } from "@platformatic/kafka"
import { Effect } from "effect"
import { deleteTopics, ensureTopic, topicId } from "../../src/ops/KafkaAdmin.ts"
import { sqlString, withDuckDb } from "../../src/ops/DuckDb.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { parseOffsetsAppId } from "../../src/sinks/lake/TxnAppId.ts"
import { type BenchContext, newGroup, nodeBinary, sluiceBin } from "../harness/Context.ts"
import { spawnMeasured } from "../harness/Measure.ts"
import { percentile, round, slope } from "../harness/Stats.ts"
import type { LatencyResult } from "../report/Results.ts"
import { sluiceEnv } from "./Sluice.ts"

export interface LatencyOptions {
  readonly rate: number
  readonly seconds: number
  readonly windowMaxAgeMs: number
}

/** The lake's feeds of the transaction topic, in the order a window commits them. */
const feedRoots = (lakeDir: string, topic: string) => [
  path.join(lakeDir, "streams", "transaction_stream"),
  path.join(lakeDir, "streams", "transaction_flattened"),
  path.join(lakeDir, "_deadletter", topic)
]

/**
 * Per partition, the next offset every feed has committed (min over the feeds' txn + 1), for the
 * topic's current incarnation (its id asked of the broker).
 */
export const lakeCommitted = async (lakeDir: string, topic: string, partitions: number, brokers: ReadonlyArray<string>): Promise<Array<number>> => {
  const id = await Effect.runPromise(topicId(brokers, topic))
  const committed = Array.from({ length: partitions }, () => Number.POSITIVE_INFINITY)
  for (const root of feedRoots(lakeDir, topic)) {
    const feed = path.basename(root)
    const txns = (await Effect.runPromise(readSnapshot(makeLocalStore(root), ""))).txns
    const last = new Map<number, number>()
    for (const [appId, version] of txns) {
      const parsed = parseOffsetsAppId(appId)
      if (parsed?.feed === feed && parsed.topic === topic && parsed.topicId === id) last.set(parsed.partition, version)
    }
    for (let p = 0; p < partitions; p++) {
      const version = last.get(p)
      committed[p] = Math.min(committed[p]!, version === undefined ? 0 : version + 1)
    }
  }
  return committed
}

/**
 * Each data file a commit added → that commit's `commitInfo.timestamp`, from the JSON commits.
 * Files a compaction added (`dataChange: false`) hold rows committed earlier: they are left out
 * (the files they replaced stay on disk until a vacuum, and still name each row's own commit).
 */
export const commitTimesByFile = (tableRoot: string): Map<string, number> => {
  const logDir = path.join(tableRoot, "_delta_log")
  const times = new Map<string, number>()
  for (const name of readdirSync(logDir).filter((n) => /^\d{20}\.json$/.test(n)).sort()) {
    let timestamp: number | undefined
    const added: Array<string> = []
    for (const line of readFileSync(path.join(logDir, name), "utf8").split("\n")) {
      if (line.trim() === "") continue
      const action = JSON.parse(line) as { commitInfo?: { timestamp: number }; add?: { path: string; dataChange?: boolean } }
      if (action.commitInfo) timestamp = action.commitInfo.timestamp
      if (action.add && action.add.dataChange !== false) added.push(decodeURIComponent(action.add.path))
    }
    if (timestamp === undefined) throw new Error(`${path.join(logDir, name)} has no commitInfo`)
    for (const file of added) times.set(path.join(tableRoot, file), timestamp)
  }
  return times
}

/** commit timestamp − `_kafka_timestamp` of every row of a feed's table, sorted ascending. */
export const rowLatencies = async (tableRoot: string): Promise<Float64Array> => {
  const commits = commitTimesByFile(tableRoot)
  if (commits.size === 0) return new Float64Array()
  const files = [...commits.keys()].map(sqlString).join(", ")
  const rows = await Effect.runPromise(
    withDuckDb((db) => db.query(`SELECT filename, epoch_ms(_kafka_timestamp) AS ts FROM read_parquet([${files}], filename = true)`))
  )
  const latencies = new Float64Array(rows.length)
  rows.forEach((row, i) => {
    const committedAt = commits.get(String(row["filename"]))
    if (committedAt === undefined) throw new Error(`no commit names ${String(row["filename"])}`)
    latencies[i] = committedAt - Number(row["ts"])
  })
  return latencies.sort()
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The lag over a load: sampled every second while producing, then every 100 ms until it is 0 (30 s at most). */
export interface OfferedLoad {
  /** [seconds since the producer started, lag]. */
  readonly samples: Array<readonly [number, number]>
  readonly producingSeconds: number
  /** From the producer's last message to a lag of 0, or null when it did not get there. */
  readonly caughtUpAfterMs: number | null
}

/** `sluice produce --rate` of `rate × seconds` messages to `topic`, the lag sampled as it goes. */
export const offerLoad = async (
  ctx: BenchContext,
  topic: string,
  rate: number,
  seconds: number,
  lag: () => Promise<number>,
  produceArgs: ReadonlyArray<string> = []
): Promise<OfferedLoad> => {
  const producer = spawnMeasured(
    nodeBinary(ctx.root),
    [
      sluiceBin(ctx.root), "produce",
      "--topic", topic,
      "--messages", String(rate * seconds),
      "--rate", String(rate),
      "--partitions", String(ctx.topic.partitions),
      "--bad-ratio", String(ctx.topic.badRatio),
      "--seed", String(ctx.topic.seed + rate),
      ...produceArgs
    ],
    { cwd: ctx.root, env: { KAFKA_BROKERS: ctx.brokers.join(",") }, timeoutMs: (seconds + 120) * 1000 }
  )
  const producedAt = Date.now()
  let producing = true
  void producer.done.finally(() => (producing = false)).catch(() => undefined)
  const samples: Array<readonly [number, number]> = []
  while (producing) {
    const next = Date.now() + 1_000
    samples.push([round((Date.now() - producedAt) / 1000, 1), await lag()])
    await sleep(Math.max(0, next - Date.now()))
  }
  const produced = await producer.done
  if (produced.exitCode !== 0) throw new Error(`sluice produce exited ${produced.exitCode ?? produced.signal}:\n${produced.output}`)
  const producerDoneAt = Date.now()

  // Let the last windows age out and commit.
  let caughtUpAfterMs: number | null = null
  while (Date.now() - producerDoneAt < 30_000) {
    const current = await lag()
    samples.push([round((Date.now() - producedAt) / 1000, 1), current])
    if (current === 0) {
      caughtUpAfterMs = Date.now() - producerDoneAt
      break
    }
    await sleep(100)
  }
  return { samples, producingSeconds: (producerDoneAt - producedAt) / 1000, caughtUpAfterMs }
}

/** Whether the lag trended up while the load was on (after a few seconds of warm-up), and its slope. */
export const lagTrend = (load: OfferedLoad, rate: number, windowMaxAgeMs: number) => {
  const steady = load.samples.filter(([t]) => t >= Math.min(5, load.producingSeconds / 4) && t <= load.producingSeconds)
  const lagSlope = slope(steady.map(([x, y]) => ({ x, y })))
  // Growth over the run of more than one window's worth of messages is a trend, not the sawtooth.
  return { lagSlope, lagGrew: lagSlope * load.producingSeconds > rate * (windowMaxAgeMs / 1000), lagMax: Math.max(...load.samples.map(([, l]) => l)) }
}

/** Runs the service on a fresh topic, offers `rate` msg/s for `seconds`, and measures. */
export const runLatency = async (ctx: BenchContext, options: LatencyOptions): Promise<LatencyResult> => {
  const { rate, seconds, windowMaxAgeMs } = options
  const partitions = ctx.topic.partitions
  const topic = `bench_latency_r${rate}_${ctx.runId}`
  const lakeDir = path.join(ctx.tmpRoot, `latency-${rate}`)
  await Effect.runPromise(ensureTopic(ctx.brokers, topic, partitions))
  const offsets = new Consumer({ clientId: "sluice-bench-lag", groupId: `bench_lag_${ctx.runId}`, bootstrapBrokers: [...ctx.brokers] })
  const service = spawnMeasured(nodeBinary(ctx.root), [sluiceBin(ctx.root), "run"], {
    cwd: ctx.root,
    env: {
      ...sluiceEnv(ctx, { lakeDir, group: newGroup(ctx, `latency${rate}`), sinks: "lake" }),
      SLUICE_TOPIC: topic,
      SLUICE_WINDOW_MAX_AGE_MS: String(windowMaxAgeMs)
    },
    timeoutMs: (seconds + 180) * 1000
  })
  let serviceExited = false
  void service.done.then(() => (serviceExited = true), () => (serviceExited = true))
  try {
    await service.waitFor(/assigned, resuming at offset/, { times: partitions, timeoutMs: 60_000 })

    const lag = async (): Promise<number> => {
      const ends = (await offsets.listOffsets({ topics: [topic], timestamp: -1n })).get(topic) ?? []
      const committed = await lakeCommitted(lakeDir, topic, partitions, ctx.brokers)
      let total = 0
      for (let p = 0; p < partitions; p++) total += Math.max(0, Number(ends[p] ?? 0n) - committed[p]!)
      return total
    }

    const load = await offerLoad(ctx, topic, rate, seconds, lag)
    await service.signal("SIGTERM")
    const stopped = await service.done
    if (stopped.exitCode !== 0) throw new Error(`sluice run exited ${stopped.exitCode ?? stopped.signal} after SIGTERM:\n${stopped.output}`)

    const { lagSlope, lagGrew, lagMax } = lagTrend(load, rate, windowMaxAgeMs)

    const stream = await rowLatencies(path.join(lakeDir, "streams", "transaction_stream"))
    const flattened = await rowLatencies(path.join(lakeDir, "streams", "transaction_flattened"))
    const targetP99Ms = windowMaxAgeMs + 250
    const p99Ms = round(percentile(stream, 99))
    return {
      rate,
      seconds,
      produced: rate * seconds,
      rows: stream.length,
      windowMaxAgeMs,
      targetP99Ms,
      p50Ms: round(percentile(stream, 50)),
      p95Ms: round(percentile(stream, 95)),
      p99Ms,
      maxMs: round(stream[stream.length - 1] ?? Number.NaN),
      metTarget: p99Ms <= targetP99Ms,
      lagGrew,
      lagMax,
      lagSlopePerSecond: round(lagSlope, 1),
      caughtUpAfterMs: load.caughtUpAfterMs,
      lastFeed: {
        feed: "transaction_flattened",
        p50Ms: round(percentile(flattened, 50)),
        p95Ms: round(percentile(flattened, 95)),
        p99Ms: round(percentile(flattened, 99))
      },
      drainExitCode: stopped.exitCode,
      cpuSeconds: round(stopped.cpuSeconds, 2),
      peakRssMB: round(stopped.peakRssMB),
      lagSamples: load.samples
    }
  } finally {
    if (!serviceExited) await service.signal("SIGKILL").catch(() => undefined)
    await offsets.close(true).catch(() => undefined)
    rmSync(lakeDir, { recursive: true, force: true })
    await Effect.runPromise(deleteTopics(ctx.brokers, [topic]).pipe(Effect.ignore))
  }
}
