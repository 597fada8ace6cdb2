/**
 * `npm run bench [-- --quick | --messages N | --runs R | --only a,b | …]`: starts the stack, fills the
 * bench topic once, runs every scenario on it in turn, and writes bench/results/ (JSON, Markdown, SVG).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Admin } from "@platformatic/kafka"
import { Effect } from "effect"
import * as Stack from "../src/ops/Stack.ts"
import { dropBenchTopic, prepareBenchTopic } from "./harness/BenchTopic.ts"
import { type BenchContext, projectRoot } from "./harness/Context.ts"
import { describeMachine, gitShortSha } from "./harness/Machine.ts"
import { round } from "./harness/Stats.ts"
import { warehouseSupport } from "./harness/Warehouse.ts"
import { BASELINE_INSERT_CAP, BASELINE_RATE_MEASURES, runBaseline } from "./scenarios/Baseline.ts"
import { CEILING_RATE_MEASURES, runCeiling } from "./scenarios/Ceiling.ts"
import { runLatency } from "./scenarios/Latency.ts"
import { runLowWindowLatency } from "./scenarios/LatencyLowWindow.ts"
import { runSluice, SLUICE_RATE_MEASURES, UNTIL_IDLE_MS } from "./scenarios/Sluice.ts"
import { buildSparkPeer, runSpark, SPARK_DESCRIPTION, SPARK_DRIVER_MEMORY, SPARK_RATE_MEASURES } from "./scenarios/Spark.ts"
import { writeResults } from "./report/Files.ts"
import {
  addLakeRatios,
  addRatios,
  type BenchResult,
  isPeerMeasured,
  type LatencyEntry,
  type LowWindowLatencyEntry,
  type PeerEntry,
  type ScenarioResult,
  summarize,
  summarizePeer,
  type ThroughputRun
} from "./report/Results.ts"

const THROUGHPUT = ["ceiling", "lake", "lake-p64", "lake-s3", "warehouse", "both", "baseline-lake", "baseline"] as const
/** Partitions of the topic `lake-p64` reads: the same messages, spread so that many windows are open at once. */
const WIDE_PARTITIONS = 64
/** Other programs doing the lake's job on the same topic, run in the same rounds. */
const PEERS = ["spark"] as const
const ROUNDS = [...THROUGHPUT, ...PEERS] as const
const ALL = [...ROUNDS, "latency", "latency-low"] as const
type ScenarioName = (typeof ALL)[number]

const USAGE = `usage: npm run bench -- [options]
  --quick                100,000 messages, 1 run per scenario, 15 s per latency load
  --messages N           messages in the bench topic (default 1,000,000; --quick 100,000)
  --runs R               runs per throughput scenario, the median is reported (default 3; --quick 1)
  --only a,b             only these scenarios: ${ALL.join(", ")} (results go to *-partial.*)
  --latency-seconds S    seconds per offered load (default 60; --quick 15)
  --latency-rates a,b    offered loads, msg/s (default 1000,5000)
                         (latency-low: 5,000 msg/s, 100 ms windows, lake + warehouse, compaction beside)
  --partitions P         partitions of the bench topic (default 4)
  --seed S               generator seed (default 42)
  --bad-ratio F          share of malformed messages (default 0.01)
  --drop-topic           delete the bench topic at the end (default: keep it for the next run)
  --profile [--messages N] [--sinks lake] [--summarize FILE]
                         instead: one sluice run under node --cpu-prof, and where its time went
  --render FILE.json     instead: rewrite the .md and .svg beside a results JSON`

const renderAt = process.argv.indexOf("--render")
if (renderAt >= 0) {
  // Re-renders the Markdown and SVG beside a results JSON (after a change to the report's code).
  const { rerender } = await import("./report/Files.ts")
  const file = process.argv[renderAt + 1]
  if (file === undefined) throw new Error("usage: npm run bench -- --render bench/results/<name>.json")
  for (const written of rerender(file)) console.error(`wrote ${written}`)
  process.exit(0)
}

if (process.argv.includes("--profile")) {
  const { profileMain } = await import("./profile.ts")
  await profileMain(process.argv.slice(2))
  process.exit(0)
}

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    messages: { type: "string" },
    runs: { type: "string" },
    only: { type: "string" },
    "latency-seconds": { type: "string" },
    "latency-rates": { type: "string" },
    partitions: { type: "string", default: "4" },
    seed: { type: "string", default: "42" },
    "bad-ratio": { type: "string", default: "0.01" },
    "drop-topic": { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
})
if (flags.help) {
  console.log(USAGE)
  process.exit(0)
}

const positiveInt = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback
  const value = Number(text.replaceAll("_", "").replaceAll(",", ""))
  if (!Number.isInteger(value) || value < 1) {
    console.error(`bench: --${name} must be a positive integer, got ${text}\n${USAGE}`)
    process.exit(2)
  }
  return value
}

const quick = flags.quick
const messages = positiveInt("messages", flags.messages, quick ? 100_000 : 1_000_000)
const runs = positiveInt("runs", flags.runs, quick ? 1 : 3)
const latencySeconds = positiveInt("latency-seconds", flags["latency-seconds"], quick ? 15 : 60)
const latencyRates = (flags["latency-rates"] ?? "1000,5000").split(",").map((r) => positiveInt("latency-rates", r, 0))
const partitions = positiveInt("partitions", flags.partitions, 4)
const seed = positiveInt("seed", flags.seed, 42)
const badRatio = Number(flags["bad-ratio"])
if (!(badRatio >= 0 && badRatio < 1)) {
  console.error(`bench: --bad-ratio must be in [0, 1), got ${flags["bad-ratio"]}`)
  process.exit(2)
}
const only = flags.only?.split(",").map((s) => s.trim())
for (const name of only ?? []) {
  if (!(ALL as ReadonlyArray<string>).includes(name)) {
    console.error(`bench: unknown scenario ${name} in --only (known: ${ALL.join(", ")})`)
    process.exit(2)
  }
}
const selected = (name: ScenarioName) => only === undefined || only.includes(name)
const LATENCY_MAX_AGE_MS = 1_000
/**
 * `latency-low`: windows of 100 ms, lake and warehouse, p99 target 250 ms, compaction every 15 s beside;
 * event times within six hours, so that every window writes one day partition, as a live stream does.
 */
const LOW_WINDOW = { rate: 5_000, windowMaxAgeMs: 100, targetP99Ms: 250, compactEveryMinutes: 0.25, targetFileMb: 128, eventDays: 0.25 } as const

const startedAt = Date.now()
const log = (line: string) => process.stderr.write(`[bench ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${line}\n`)
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

// --- the stack and the input ---------------------------------------------------------------------
const stackOptions = await Effect.runPromise(Stack.stackOptions)
const brokers = (process.env["KAFKA_BROKERS"] || Stack.brokersOf(stackOptions)).split(",").map((b) => b.trim())
if (brokers.join(",") === Stack.brokersOf(stackOptions)) {
  log("sluice stack up")
  await Effect.runPromise(Stack.up(stackOptions))
} else {
  log(`using the Kafka at ${brokers.join(",")} (KAFKA_BROKERS)`)
}

const runId = Date.now().toString(36)
const tmpRoot = mkdtempSync(path.join(tmpdir(), "sluice-bench-"))
const groups: Array<string> = []

const cleanup = async (dropTopic: BenchContext["topic"] | undefined) => {
  rmSync(tmpRoot, { recursive: true, force: true })
  if (groups.length > 0) {
    const admin = new Admin({ clientId: "sluice-bench", bootstrapBrokers: [...brokers] })
    // One at a time: the group of a run that crashed stays non-empty until its session times out.
    for (const group of groups) {
      await admin.deleteGroups({ groups: [group] }).catch((e: Error) => log(`could not delete consumer group ${group}: ${e.message}`))
    }
    await admin.close().catch(() => undefined)
  }
  if (dropTopic !== undefined) await dropBenchTopic(dropTopic).catch((e: Error) => log(`could not delete ${dropTopic.name}: ${e.message}`))
}
process.once("SIGINT", () => {
  log("interrupted: cleaning up")
  void cleanup(undefined).finally(() => process.exit(130))
})

const topic = await prepareBenchTopic({ brokers, messages, partitions, seed, badRatio }, log)
const ctx: BenchContext = { root: projectRoot, brokers, topic, tmpRoot, runId, groups, log }
// `lake-p64` reads the same messages from a topic of its own with 64 partitions (kept between invocations too).
const wideCtx: BenchContext | undefined = selected("lake-p64")
  ? { ...ctx, topic: await prepareBenchTopic({ brokers, messages, partitions: WIDE_PARTITIONS, seed, badRatio }, log) }
  : undefined
const valueBytesPerMessage = topic.valueBytes / topic.messages

// --- throughput scenarios, in rounds so that a disturbance on the machine spreads over all of them --
const warehouse = warehouseSupport(projectRoot)
const samples = new Map<ScenarioName, Array<ThroughputRun>>()
const failures = new Map<ScenarioName, string>()
const skipped = new Map<ScenarioName, string>()
if (!warehouse.available) {
  skipped.set("warehouse", warehouse.reason)
  skipped.set("both", warehouse.reason)
}

// The lake in a bucket of the stack's S3 server (S3Proxy, on this machine), started before the rounds.
let s3: Stack.S3ProxyEndpoint | undefined
if (selected("lake-s3")) {
  log("sluice stack up --s3")
  await Effect.runPromise(Stack.upS3(stackOptions)).then(
    (endpoint) => (s3 = endpoint),
    (e: Error) => {
      failures.set("lake-s3", e.message)
      log(`lake-s3: FAILED: ${e.message}`)
    }
  )
}

const runOne = (name: (typeof ROUNDS)[number], index: number): Promise<ThroughputRun> => {
  switch (name) {
    case "ceiling":
      return runCeiling(ctx)
    case "lake":
      return runSluice(ctx, "lake", index)
    case "lake-p64":
      return runSluice(wideCtx!, "lake", index)
    case "lake-s3":
      return runSluice(ctx, "lake", index, s3)
    case "warehouse":
      return runSluice(ctx, "warehouse", index)
    case "both":
      return runSluice(ctx, "lake,warehouse", index)
    case "baseline-lake":
      return runBaseline(ctx, false, index)
    case "baseline":
      return runBaseline(ctx, true, index)
    case "spark":
      return runSpark(ctx, index)
  }
}

// Built before the rounds, so that no Maven build runs beside a measured process.
if (selected("spark")) {
  await buildSparkPeer(ctx).catch((e: Error) => {
    failures.set("spark", e.message)
    log(`spark: FAILED: ${e.message}`)
  })
}

for (let round_ = 0; round_ < runs; round_++) {
  for (const name of ROUNDS) {
    if (!selected(name) || skipped.has(name) || failures.has(name)) continue
    log(`${name}: run ${round_ + 1}/${runs} …`)
    try {
      const run = await runOne(name, round_)
      samples.set(name, [...(samples.get(name) ?? []), run])
      log(
        `${name}: ${fmt(run.msgPerSec)} msg/s (wall ${fmt(run.wallMsgPerSec)} msg/s, ${run.wallSeconds.toFixed(1)} s), ` +
          `${run.cpuSeconds.toFixed(1)} CPU s, peak RSS ${fmt(run.peakRssMB)} MB` +
          (run.extra?.["serviceRssMB"] === undefined ? "" : ` (service ${fmt(Number(run.extra["serviceRssMB"]))} MB, snapshot process ${fmt(Number(run.extra["snapshotRssMB"]))} MB)`)
      )
    } catch (e) {
      failures.set(name, (e as Error).message)
      log(`${name}: FAILED: ${(e as Error).message}`)
    }
  }
}

const measures: Record<(typeof THROUGHPUT)[number], string> = {
  ceiling: CEILING_RATE_MEASURES,
  lake: SLUICE_RATE_MEASURES,
  "lake-p64": SLUICE_RATE_MEASURES,
  "lake-s3": SLUICE_RATE_MEASURES,
  warehouse: SLUICE_RATE_MEASURES,
  both: SLUICE_RATE_MEASURES,
  "baseline-lake": BASELINE_RATE_MEASURES,
  baseline: BASELINE_RATE_MEASURES
}
const scenarios: Record<string, ScenarioResult> = {}
for (const name of THROUGHPUT) {
  const runsOf = samples.get(name)
  const failed = failures.get(name)
  const skip = skipped.get(name)
  if (skip !== undefined && selected(name)) scenarios[name] = { skipped: skip }
  else if (failed !== undefined) scenarios[name] = { failed }
  else if (runsOf !== undefined && runsOf.length > 0) {
    scenarios[name] = summarize(
      runsOf,
      valueBytesPerMessage,
      measures[name],
      name === "baseline" && runsOf[0]!.messages < messages
        ? `one INSERT per message: reads only the first ${fmt(runsOf[0]!.messages)} messages; its rates are over those`
        : undefined
    )
  }
}
addRatios(scenarios)
const peers: Record<string, PeerEntry> = {}
if (selected("spark")) {
  const failed = failures.get("spark")
  const runsOf = samples.get("spark") ?? []
  if (failed !== undefined) peers["spark"] = { failed }
  else if (runsOf.length > 0) peers["spark"] = summarizePeer(runsOf, valueBytesPerMessage, SPARK_DESCRIPTION, SPARK_RATE_MEASURES)
}
addLakeRatios(peers, scenarios)

// --- latency ----------------------------------------------------------------------------------------
const latency: Record<string, LatencyEntry> = {}
if (selected("latency")) {
  for (const rate of latencyRates) {
    log(`latency: ${fmt(rate)} msg/s for ${latencySeconds} s (SLUICE_WINDOW_MAX_AGE_MS=${LATENCY_MAX_AGE_MS}) …`)
    try {
      const result = await runLatency(ctx, { rate, seconds: latencySeconds, windowMaxAgeMs: LATENCY_MAX_AGE_MS })
      latency[String(rate)] = result
      log(
        `latency ${fmt(rate)} msg/s: p50 ${fmt(result.p50Ms)} ms, p95 ${fmt(result.p95Ms)} ms, p99 ${fmt(result.p99Ms)} ms ` +
          `(target ${fmt(result.targetP99Ms)}), lag ${result.lagGrew ? "GREW" : "flat"} (max ${fmt(result.lagMax)})`
      )
    } catch (e) {
      latency[String(rate)] = { failed: (e as Error).message }
      log(`latency ${fmt(rate)} msg/s: FAILED: ${(e as Error).message}`)
    }
  }
}

const latencyLowWindow: Record<string, LowWindowLatencyEntry> = {}
if (selected("latency-low")) {
  const { rate } = LOW_WINDOW
  if (!warehouse.available) latencyLowWindow[String(rate)] = { skipped: warehouse.reason }
  else {
    log(`latency-low: ${fmt(rate)} msg/s for ${latencySeconds} s (SLUICE_WINDOW_MAX_AGE_MS=${LOW_WINDOW.windowMaxAgeMs}, lake + warehouse, compaction every ${LOW_WINDOW.compactEveryMinutes * 60} s) …`)
    try {
      const r = await runLowWindowLatency(ctx, { ...LOW_WINDOW, seconds: latencySeconds })
      latencyLowWindow[String(rate)] = r
      const files = Object.entries(r.files).map(([feed, f]) => `${feed} ${f.maxPerPartition}`).join(", ")
      log(
        `latency-low ${fmt(rate)} msg/s: lake p50/p95/p99 ${r.lake.p50Ms}/${r.lake.p95Ms}/${r.lake.p99Ms} ms, ` +
          `warehouse ${r.warehouse.p50Ms}/${r.warehouse.p95Ms}/${r.warehouse.p99Ms} ms (target ${r.targetP99Ms}), ` +
          `lag ${r.lagGrew ? "GREW" : "flat"} (max ${fmt(r.lagMax)}), load ${r.loadAverage.join(" → ")}; most files per day partition: ${files}`
      )
    } catch (e) {
      latencyLowWindow[String(rate)] = { failed: (e as Error).message }
      log(`latency-low ${fmt(rate)} msg/s: FAILED: ${(e as Error).message}`)
    }
  }
}

// --- results ----------------------------------------------------------------------------------------
const sluiceRss = [
  ...(["lake", "lake-p64", "warehouse", "both"] as const).flatMap((name) => (samples.get(name) ?? []).map((r) => r.peakRssMB)),
  ...Object.values(latency).flatMap((e) => ("peakRssMB" in e ? [e.peakRssMB] : [])),
  ...Object.values(latencyLowWindow).flatMap((e) => ("peakRssMB" in e ? [e.peakRssMB] : []))
]
/** What the spark peer runs, how it is checked, and what from_json made of the malformed messages. */
function sparkNote(runsOf: ReadonlyArray<ThroughputRun>): string {
  const first = runsOf[0]?.extra ?? {}
  const startup = runsOf.map((r) => Number(r.extra?.["startupSeconds"] ?? 0))
  return `spark: \`java -Xmx${SPARK_DRIVER_MEMORY}\` (spark-submit's default driver memory, and the module options it adds) running bench/peers/spark, ` +
    `a fresh Delta table and checkpoint per run; each run is checked to hold every message once (by partition and offset) and every valid ` +
    `message whole (ids, event times, amounts against the seeded producer), in the folder of its UTC date. ` +
    `JVM and Spark start-up, excluded from its msg/s, took ${startup.map((s) => s.toFixed(1)).join(", ")} s. ` +
    `from_json (PERMISSIVE) keeps every malformed message as a row: ${fmt(Number(first["malformedDated"] ?? 0))} of the ${fmt(topic.bad)} ` +
    `in date folders (a negative amount, an unknown transaction type, an amount written as text, no transaction_id: it checks JSON types only), ` +
    `${fmt(Number(first["undatedRows"] ?? 0))} in the __HIVE_DEFAULT_PARTITION__ folders (not JSON, not UTF-8 or empty: nulls; an unreadable event_time: that field null).`
}
const notes = [
  `The broker runs on the same ${describeMachine(stackOptions.cacheDir, brokers.join(",")).cores}-core machine and competes for its CPU; other work on the machine (tests on the same broker) is not excluded.`,
  `sluice runs: \`sluice run --until-idle ${UNTIL_IDLE_MS}\`, default windows (100,000 records / 64 MiB / 5 s) and memory budget (SLUICE_MEMORY_MB=64), ZSTD, a fresh lake folder and consumer group per run; each run is checked to have committed every message.`,
  ...(selected("lake-p64") ? [`lake-p64: the same run on a topic of ${WIDE_PARTITIONS} partitions holding the same messages (${wideCtx!.topic.name}).`] : []),
  ...(selected("lake-s3")
    ? ["lake-s3: the same run with SLUICE_LAKE_URL=s3://sluice/<fresh prefix>, on the stack's S3Proxy 4.1.0 (filesystem backend, on this machine and competing for its CPU and disk); every object goes through HTTP with AWS signatures, the log through conditional PUTs."]
    : []),
  ...(warehouse.available ? [] : [`warehouse and both: ${warehouse.reason}; they run once \`sluice run\` reads SLUICE_SINKS (bench/harness/Warehouse.ts).`]),
  ...(existsSync("/usr/bin/time") && process.env["SLUICE_BENCH_SAMPLED"] !== "1"
    ? []
    : ["No /usr/bin/time (Debian package `time`): CPU and peak RSS were sampled from /proc every 100 ms."]),
  ...(isPeerMeasured(peers["spark"]) ? [sparkNote(peers["spark"].samples)] : []),
  ...(topic.reused ? [`Topic reused from an earlier invocation (checked complete).`] : [`Topic filled in ${topic.produceSeconds.toFixed(1)} s.`])
]
const result: BenchResult = {
  date: new Date().toISOString().slice(0, 10),
  commit: gitShortSha(projectRoot),
  quick,
  machine: describeMachine(stackOptions.cacheDir, brokers.join(",")),
  messages,
  topic: { name: topic.name, partitions, seed, badRatio, valueBytes: topic.valueBytes, avgValueBytes: round(valueBytesPerMessage, 1) },
  settings: {
    runs,
    untilIdleMs: UNTIL_IDLE_MS,
    baselineInsertCap: BASELINE_INSERT_CAP,
    latencySeconds,
    latencyWindowMaxAgeMs: LATENCY_MAX_AGE_MS
  },
  scenarios,
  peers,
  latency,
  ...(selected("latency-low") ? { latencyLowWindow } : {}),
  rssMaxMB: sluiceRss.length === 0 ? 0 : round(Math.max(...sluiceRss)),
  elapsedSeconds: round((Date.now() - startedAt) / 1000),
  notes
}
const kind = only !== undefined ? "partial" : quick ? "quick" : "full"
const written = writeResults(path.join(projectRoot, "bench", "results"), result, kind)
await cleanup(flags["drop-topic"] ? topic : undefined)
log(`wrote ${written.files.map((f) => path.relative(projectRoot, f)).join(", ")}`)
process.stdout.write(written.markdown)
const broken = [
  ...failures.keys(),
  ...Object.entries(latency).filter(([, e]) => "failed" in e).map(([r]) => `latency ${r}`),
  ...Object.entries(latencyLowWindow).filter(([, e]) => "failed" in e).map(([r]) => `latency-low ${r}`)
]
if (broken.length > 0) {
  log(`failed: ${broken.join(", ")}`)
  process.exitCode = 1
}
