/**
 * The `spark` peer: the lakehouse seed's bronze job (bench/peers/spark: Spark Structured Streaming +
 * Delta Lake) reading the bench topic, measured as `sluice run` is, and checked to hold every message.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { parquetRelation, sqlString, withDuckDb } from "../../src/ops/DuckDb.ts"
import { javaCommand } from "../../src/ops/stack/KafkaBroker.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import type { BenchTopic } from "../harness/BenchTopic.ts"
import { type BenchContext, deadlineFor } from "../harness/Context.ts"
import { spawnMeasured, tail } from "../harness/Measure.ts"
import { throughputRun, type ThroughputRun } from "../report/Results.ts"

export const SPARK_DESCRIPTION =
  "Spark 4.0.0 Structured Streaming (local[2], Trigger.AvailableNow) + Delta Lake 4.0.0: the lakehouse seed's bronze job, bench/peers/spark"

export const SPARK_RATE_MEASURES =
  "the job's own figure: first micro-batch triggered → the query's end (its last Delta commit); JVM and Spark start-up excluded"

/**
 * The heap `spark-submit` gives the driver by default (`spark.driver.memory` 1g): in local mode the
 * driver runs the whole job, as the seed's `spark-submit --packages …` would.
 */
export const SPARK_DRIVER_MEMORY = "1g"

/**
 * The JVM options `spark-submit` adds on Java 17 (Spark's launcher, `JavaModuleOptions`): Spark
 * reaches into the JDK's internals (direct buffers, Unsafe) and fails without them.
 */
const JAVA_MODULE_OPTIONS = [
  "-XX:+IgnoreUnrecognizedVMOptions",
  "--add-modules=jdk.incubator.vector",
  "--add-opens=java.base/java.lang=ALL-UNNAMED",
  "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
  "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
  "--add-opens=java.base/java.io=ALL-UNNAMED",
  "--add-opens=java.base/java.net=ALL-UNNAMED",
  "--add-opens=java.base/java.nio=ALL-UNNAMED",
  "--add-opens=java.base/java.util=ALL-UNNAMED",
  "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
  "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
  "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
  "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
  "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
  "--add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
  "-Dio.netty.tryReflectionSetAccessible=true",
  "-Dio.netty.allocator.type=pooled",
  "-Dio.netty.handler.ssl.defaultEndpointVerificationAlgorithm=NONE",
  "-Dio.netty.noUnsafe=false",
  "--enable-native-access=ALL-UNNAMED"
]

const MAIN_CLASS = "sluice.bench.SparkBronze"

const moduleDir = (root: string): string => path.join(root, "bench", "peers", "spark")

/** The newest modification time among the module's pom and sources. */
const newestSource = (dir: string): number => {
  let newest = statSync(path.join(dir, "pom.xml")).mtimeMs
  for (const entry of readdirSync(path.join(dir, "src"), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs)
  }
  return newest
}

let building: Promise<string> | undefined

/**
 * The job's classpath, built with `mvn package` unless target/spark-bronze.jar is newer than the pom
 * and every source (the jar is made after target/libs/ is filled, so a newer jar is a whole build).
 * Once per invocation; the first build on a machine fetches ~290 MB of jars from Maven Central.
 */
export const buildSparkPeer = (ctx: BenchContext): Promise<string> => {
  building ??= (async () => {
    const dir = moduleDir(ctx.root)
    const jar = path.join(dir, "target", "spark-bronze.jar")
    const classpath = [jar, path.join(dir, "target", "libs", "*")].join(path.delimiter)
    if (existsSync(jar) && statSync(jar).mtimeMs > newestSource(dir)) {
      ctx.log("spark: reusing the build in bench/peers/spark/target")
      return classpath
    }
    ctx.log("spark: mvn package in bench/peers/spark (the first time, Maven fetches ~290 MB of jars) …")
    const startedAt = Date.now()
    await new Promise<void>((resolve, reject) =>
      execFile("mvn", ["-q", "-B", "-f", path.join(dir, "pom.xml"), "package"], { timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
        error === null
          ? resolve()
          : reject(new Error(`mvn package in bench/peers/spark failed (${String(error.code ?? error.signal)}):\n${tail(`${stdout}\n${stderr}`)}`))
      )
    )
    ctx.log(`spark: built in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`)
    return classpath
  })()
  building.catch(() => {
    building = undefined
  })
  return building
}

/** What the seeded generator that filled the topic sent: the malformed messages' keys and the valid ones' totals. */
interface Sent {
  readonly valid: number
  readonly amountCents: number
  readonly eventTimeMs: bigint
  /** Every message's key is its transaction id; these are the malformed messages'. */
  readonly malformedIds: ReadonlyArray<string>
}

const sentCache = new Map<string, Sent>()

/** Replays the topic's generator (deterministic under its seed), as BenchTopic does for its sizes. */
const sentTo = (topic: BenchTopic): Sent => {
  const cached = sentCache.get(topic.name)
  if (cached !== undefined) return cached
  const next = makeMessageGenerator({ seed: topic.seed, badRatio: topic.badRatio })
  let valid = 0
  let amountCents = 0
  let eventTimeMs = 0n
  const malformedIds: Array<string> = []
  for (let i = 0; i < topic.messages; i++) {
    const m = next()
    if (m.bad !== undefined) {
      malformedIds.push(m.key)
      continue
    }
    const wire = JSON.parse(m.value.toString("utf8")) as { amount: number; event_time: string }
    valid++
    amountCents += Math.round(wire.amount * 100)
    eventTimeMs += BigInt(Date.parse(wire.event_time))
  }
  const sent = { valid, amountCents, eventTimeMs, malformedIds }
  sentCache.set(topic.name, sent)
  return sent
}

/** How the job's table holds the topic: files, and where from_json put the malformed messages. */
interface Landed {
  readonly files: number
  /** Malformed messages from_json read as complete enough to date (negative amount, unknown type…). */
  readonly malformedDated: number
  /** Rows without an event_time: the `__HIVE_DEFAULT_PARTITION__` folders. */
  readonly undated: number
}

interface FileStats {
  readonly numRecords?: number
  readonly minValues?: { readonly event_time?: string }
  readonly maxValues?: { readonly event_time?: string }
  readonly nullCount?: { readonly event_time?: number }
}

const int = (v: unknown): number => Number(v ?? 0)

/**
 * Reads the table through its Delta log (Sluice's own reader) and its files with DuckDB, and throws
 * unless: every message of the topic is one row (by partition and offset); every valid message is
 * a row with its transaction id, event time, user and payment method, whose amounts and event
 * times add up to what the generator sent; and every dated file's event times are of its folder's
 * UTC date.
 */
const checkTable = async (table: string, topic: BenchTopic, sent: Sent): Promise<Landed> => {
  const snapshot = await Effect.runPromise(readSnapshot(makeLocalStore(table), ""))
  const problems: Array<string> = []
  const files: Array<string> = []
  let logRows = 0
  for (const add of snapshot.files.values()) {
    files.push(path.join(table, decodeURIComponent(add.path)))
    const stats = JSON.parse(add.stats ?? "{}") as FileStats
    const rows = stats.numRecords ?? 0
    logRows += rows
    const { year, month, day } = add.partitionValues
    if (year === null || year === undefined) {
      if (stats.nullCount?.event_time !== rows) problems.push(`${add.path}: undated, yet ${rows - (stats.nullCount?.event_time ?? 0)} of its ${rows} rows have an event_time`)
      continue
    }
    const date = `${year.padStart(4, "0")}-${(month ?? "").padStart(2, "0")}-${(day ?? "").padStart(2, "0")}`
    for (const bound of [stats.minValues?.event_time, stats.maxValues?.event_time]) {
      if (bound === undefined || new Date(bound).toISOString().slice(0, 10) !== date) {
        problems.push(`${add.path}: event_time ${bound ?? "without statistics"} is not of ${date} (UTC)`)
      }
    }
  }
  if (files.length === 0) throw new Error(`spark: ${table} has no live file at version ${snapshot.version}`)
  if (logRows !== topic.messages) problems.push(`the Delta log counts ${logRows} rows, the topic holds ${topic.messages} messages`)

  const counted = await Effect.runPromise(withDuckDb((db) =>
    Effect.gen(function*() {
      const relation = parquetRelation(files, "")
      const [all] = yield* db.query(`
        SELECT count(*) AS n, count(DISTINCT (_kafka_partition, _kafka_offset)) AS messages, count(event_time) AS dated
        FROM ${relation}`)
      yield* db.query("CREATE TEMP TABLE malformed (id VARCHAR PRIMARY KEY)")
      for (let i = 0; i < sent.malformedIds.length; i += 1_000) {
        const chunk = sent.malformedIds.slice(i, i + 1_000)
        yield* db.query(`INSERT INTO malformed VALUES ${chunk.map((id) => `(${sqlString(id)})`).join(", ")}`)
      }
      const [valid] = yield* db.query(`
        SELECT count(*) AS n, count(DISTINCT transaction_id) AS ids, count(event_time) AS times,
               count("user".id) AS users, count(payment_method.id) AS methods,
               CAST(sum(amount * 100) AS BIGINT) AS cents, sum(epoch_ms(event_time)) AS ms
        FROM ${relation}
        WHERE transaction_id IS NOT NULL AND transaction_id NOT IN (SELECT id FROM malformed)`)
      return { all: all!, valid: valid! }
    })
  ))
  const { all, valid } = counted
  if (int(all.n) !== topic.messages || int(all.messages) !== topic.messages) {
    problems.push(`${int(all.n)} rows for ${int(all.messages)} distinct (partition, offset); the topic holds ${topic.messages} messages`)
  }
  for (const [what, n] of [["rows", valid.n], ["transaction ids", valid.ids], ["event times", valid.times], ["users", valid.users], ["payment methods", valid.methods]] as const) {
    if (int(n) !== sent.valid) problems.push(`valid messages: ${int(n)} ${what}, the producer sent ${sent.valid} valid messages`)
  }
  if (int(valid.cents) !== sent.amountCents) problems.push(`valid messages: amounts add up to ${int(valid.cents)} cents, the producer sent ${sent.amountCents}`)
  if (BigInt(String(valid.ms ?? 0)) !== sent.eventTimeMs) problems.push(`valid messages: event times add up to ${String(valid.ms)} ms, the producer sent ${sent.eventTimeMs}`)
  if (problems.length > 0) throw new Error(`spark: the Delta table at ${table} does not hold the topic:\n- ${problems.join("\n- ")}`)
  return { files: files.length, malformedDated: int(all.dated) - sent.valid, undated: topic.messages - int(all.dated) }
}

/** The job's JSON line (bench/peers/spark/…/SparkBronze.java). */
interface SparkReport {
  readonly rows: number
  readonly batches: number
  readonly elapsedMs: number
  readonly startupMs: number
}

/** One run: a fresh table and checkpoint folder, the whole topic read, then the table checked. */
export const runSpark = async (ctx: BenchContext, index: number): Promise<ThroughputRun> => {
  const classpath = await buildSparkPeer(ctx)
  const dir = path.join(ctx.tmpRoot, `spark-${index}`)
  const table = path.join(dir, "table")
  mkdirSync(dir, { recursive: true })
  try {
    const run = await spawnMeasured(
      javaCommand(),
      [
        ...JAVA_MODULE_OPTIONS,
        `-Xmx${SPARK_DRIVER_MEMORY}`,
        "-cp",
        classpath,
        MAIN_CLASS,
        ctx.brokers.join(","),
        ctx.topic.name,
        table,
        path.join(dir, "checkpoint")
      ],
      // The run's folder as working directory: what Spark leaves there (artifacts/) goes with it.
      { cwd: dir, env: { SPARK_LOCAL_IP: "127.0.0.1" }, timeoutMs: deadlineFor(ctx.topic.messages) }
    ).done
    const line = /^(\{"rows":.*\})$/m.exec(run.output)?.[1]
    if (run.exitCode !== 0 || line === undefined) throw new Error(`spark job exited ${run.exitCode ?? run.signal}:\n${tail(run.output, 40)}`)
    const report = JSON.parse(line) as SparkReport
    if (report.rows !== ctx.topic.messages) throw new Error(`spark job read ${report.rows} messages, the topic holds ${ctx.topic.messages}`)
    const landed = await checkTable(table, ctx.topic, sentTo(ctx.topic))
    return throughputRun(run, {
      messages: report.rows,
      msgPerSec: report.rows / (report.elapsedMs / 1000),
      busySeconds: report.elapsedMs / 1000,
      extra: {
        batches: report.batches,
        startupSeconds: report.startupMs / 1000,
        files: landed.files,
        malformedDated: landed.malformedDated,
        undatedRows: landed.undated
      }
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
