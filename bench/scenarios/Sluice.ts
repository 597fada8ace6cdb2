/**
 * The `lake`, `lake-s3`, `warehouse` and `both` scenarios: `sluice run --until-idle` reading the
 * whole bench topic with a fresh consumer group (and a fresh lake folder, bucket prefix or
 * database) per run.
 */
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import type { S3ProxyEndpoint } from "../../src/ops/Stack.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { makeS3Store, MIN_PART_SIZE } from "../../src/sinks/lake/store/S3Store.ts"
import type { Store } from "../../src/sinks/lake/store/Store.ts"
import { type BenchContext, deadlineFor, newGroup, nodeBinary, sluiceBin } from "../harness/Context.ts"
import { spawnMeasured } from "../harness/Measure.ts"
import { countRows, createDatabase, dropDatabase } from "../harness/Warehouse.ts"
import { throughputRun, type ThroughputRun } from "../report/Results.ts"

/** Which sinks a run writes, as `SLUICE_SINKS` spells them. */
export type Sinks = "lake" | "warehouse" | "lake,warehouse"

/** How long `--until-idle` waits once caught up; it counts in the wall time, not in `msgPerSec`. */
export const UNTIL_IDLE_MS = 500

export const SLUICE_RATE_MEASURES = "sluice's own figure: first message fetched → last window committed (the run's \"msg/s\" line)"

/** The line `sluice run` ends with, e.g. "300,000 messages (296,955 valid, 3,045 dead letters) in 4 windows, 7.3 s … : 40,833 msg/s". */
const RUN_LINE = /([\d,]+) messages \(([\d,]+) valid, ([\d,]+) dead letters\) in ([\d,]+) windows, ([\d.]+) s from first fetch to last commit: ([\d,]+) msg\/s/

const int = (s: string) => Number(s.replaceAll(",", ""))

export interface RunLine {
  readonly total: number
  readonly valid: number
  readonly deadLetters: number
  readonly windows: number
  readonly busySeconds: number
  readonly msgPerSec: number
}

/** `sluice run`'s line on its memory, e.g. "peak RSS: 412 MB, snapshot process 268 MB" (src/ops/LakeSnapshot.ts). */
const PEAK_RSS_LINE = /peak RSS: (\d+) MB(?:, snapshot process (\d+) MB)?/

/**
 * The peak RSS of the service and of its snapshot processes, as `sluice run` reports them (each
 * process's own rusage); undefined for a build that does not report them.
 */
export const parsePeakRss = (output: string): { readonly serviceMB: number; readonly snapshotMB: number } | undefined => {
  const m = PEAK_RSS_LINE.exec(output)
  return m === null ? undefined : { serviceMB: Number(m[1]), snapshotMB: m[2] === undefined ? 0 : Number(m[2]) }
}

/** The figures of `sluice run`'s summary line, or undefined when it did not print one. */
export const parseRunLine = (output: string): RunLine | undefined => {
  const m = RUN_LINE.exec(output)
  if (m === null) return undefined
  return { total: int(m[1]!), valid: int(m[2]!), deadLetters: int(m[3]!), windows: int(m[4]!), busySeconds: Number(m[5]), msgPerSec: int(m[6]!) }
}

/** Rows committed to a Delta table (at `root` in `store`), from the `numRecords` of its live files' statistics. */
export const committedRows = async (store: Store, root: string): Promise<number> => {
  const snapshot = await Effect.runPromise(readSnapshot(store, root))
  let rows = 0
  for (const add of snapshot.files.values()) rows += (JSON.parse(add.stats ?? "{}") as { numRecords?: number }).numRecords ?? 0
  return rows
}

/** Where a run's lake is: a folder, or a prefix of the stack's S3 bucket. */
export type BenchLake = { readonly dir: string } | { readonly s3: S3ProxyEndpoint; readonly prefix: string }

/** The environment that points `sluice` at a lake in the stack's S3 server. */
const s3Env = (s3: S3ProxyEndpoint, prefix: string) => ({
  SLUICE_LAKE_URL: `s3://${s3.bucket}/${prefix}`,
  AWS_ENDPOINT_URL: s3.endpoint,
  AWS_REGION: s3.region,
  AWS_ACCESS_KEY_ID: s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  // A lake in a bucket has no default key file: instances must be given the key they share.
  SLUICE_ANONYMIZATION_KEY: randomBytes(32).toString("hex")
})

/** Runs `use` with the store of a bench lake. */
export const withBenchLake = <A>(lake: BenchLake, use: (store: Store) => Promise<A>): Promise<A> =>
  "dir" in lake
    ? use(makeLocalStore(lake.dir))
    : Effect.runPromise(Effect.scoped(Effect.flatMap(
      makeS3Store({
        bucket: lake.s3.bucket,
        prefix: `${lake.prefix}/`,
        endpoint: lake.s3.endpoint,
        region: lake.s3.region,
        forcePathStyle: true,
        partSize: MIN_PART_SIZE,
        credentials: { accessKeyId: lake.s3.accessKeyId, secretAccessKey: lake.s3.secretAccessKey }
      }),
      (store) => Effect.promise(() => use(store))
    )))

/** Deletes a bench lake: its folder, or every object under its prefix. */
const removeBenchLake = (lake: BenchLake): Promise<void> =>
  "dir" in lake
    ? Promise.resolve(rmSync(lake.dir, { recursive: true, force: true }))
    : withBenchLake(lake, (store) =>
      Effect.runPromise(Effect.flatMap(store.list(""), (objects) => Effect.forEach(objects, (o) => store.delete(o.key), { concurrency: 16, discard: true }))))

/** The environment of a `sluice run` against the bench topic (and nothing of the caller's config). */
export const sluiceEnv = (ctx: BenchContext, extra: { lakeDir: string; group: string; sinks: Sinks; mysqlUrl?: string }) => ({
  KAFKA_BROKERS: ctx.brokers.join(","),
  SLUICE_TOPIC: ctx.topic.name,
  SLUICE_LAKE_DIR: extra.lakeDir,
  SLUICE_LAKE_URL: undefined,
  SLUICE_GROUP: extra.group,
  SLUICE_SINKS: extra.sinks,
  // A topic that does not exist: the built-in EUR rates, whatever another run left in exchange_rates.
  SLUICE_RATES_TOPIC: "bench_no_exchange_rates",
  SLUICE_BLACKLIST_TOPIC: "bench_no_blacklist",
  // The transactions alone: no sales topic is read beside them.
  SLUICE_VENTES_TOPIC: "off",
  SLUICE_INSTANCE_ID: undefined,
  SLUICE_CRASH_AT: undefined,
  ...(extra.mysqlUrl === undefined ? {} : { MYSQL_URL: extra.mysqlUrl })
})

/**
 * One run: fresh lake folder, group (and database when the warehouse is written: \`sluice run\`
 * applies the migrations itself), the whole topic read, then checks that everything landed: exactly the topic's messages, in the lake's tables
 * (and offsets in the warehouse), before the figures are believed.
 */
export const runSluice = async (
  ctx: BenchContext,
  sinks: Sinks,
  index: number,
  s3?: S3ProxyEndpoint
): Promise<ThroughputRun> => {
  const label = `${sinks.replace(",", "_")}${s3 === undefined ? "" : "_s3"}`
  const lakeDir = path.join(ctx.tmpRoot, `lake-${label}-${index}`)
  const lake: BenchLake = s3 === undefined ? { dir: lakeDir } : { s3, prefix: `bench-${ctx.runId}-${index}` }
  const group = newGroup(ctx, label)
  const database = `sluice_bench_${label}_${ctx.runId}_${index}`
  const writesWarehouse = sinks !== "lake"
  const mysqlUrl = writesWarehouse ? await createDatabase(database) : undefined
  const env = {
    ...sluiceEnv(ctx, { lakeDir, group, sinks, ...(mysqlUrl === undefined ? {} : { mysqlUrl }) }),
    ...(s3 === undefined ? {} : s3Env(s3, (lake as { prefix: string }).prefix))
  }
  try {
    const run = await spawnMeasured(nodeBinary(ctx.root), [sluiceBin(ctx.root), "run", "--until-idle", String(UNTIL_IDLE_MS)], {
      cwd: ctx.root,
      env,
      timeoutMs: deadlineFor(ctx.topic.messages)
    }).done
    if (run.exitCode !== 0) throw new Error(`sluice run (${sinks}) exited ${run.exitCode ?? run.signal}:\n${run.output}`)
    const line = parseRunLine(run.output)
    if (line === undefined) throw new Error(`sluice run (${sinks}) printed no summary line:\n${run.output}`)
    if (line.total !== ctx.topic.messages || line.deadLetters !== ctx.topic.bad) {
      throw new Error(
        `sluice run (${sinks}) read ${line.total} messages (${line.deadLetters} dead letters), ` +
          `the topic holds ${ctx.topic.messages} (${ctx.topic.bad} malformed):\n${run.output}`
      )
    }
    if (sinks !== "warehouse") {
      const [valid, dead] = await withBenchLake(lake, async (store) => [
        await committedRows(store, "streams/transaction_stream"),
        await committedRows(store, `_deadletter/${ctx.topic.name}`)
      ])
      if (valid !== line.valid || dead !== line.deadLetters) {
        throw new Error(`lake holds ${valid} rows + ${dead} dead letters, the run reported ${line.valid} + ${line.deadLetters}`)
      }
    }
    if (writesWarehouse) {
      const offsets = await countRows(database, "sluice_offsets")
      if (offsets === undefined || offsets === 0) {
        throw new Error(`SLUICE_SINKS=${sinks} left no sluice_offsets rows in ${database}: did the warehouse run at all?\n${run.output}`)
      }
    }
    // The scenario's peak is the largest process's: the service's, or a snapshot process's. GNU time
    // already reports that (the kernel folds the peaks of waited-for children into it); sampling /proc
    // sees the service alone, so the snapshot processes' own figure is taken too.
    const rss = parsePeakRss(run.output)
    return throughputRun({ ...run, peakRssMB: Math.max(run.peakRssMB, rss?.snapshotMB ?? 0) }, {
      messages: line.total,
      msgPerSec: line.msgPerSec,
      busySeconds: line.busySeconds,
      extra: {
        windows: line.windows,
        valid: line.valid,
        deadLetters: line.deadLetters,
        ...(rss === undefined ? {} : { serviceRssMB: rss.serviceMB, snapshotRssMB: rss.snapshotMB })
      }
    })
  } finally {
    await removeBenchLake(lake).catch((e: Error) => ctx.log(`could not delete the lake of ${label} run ${index}: ${e.message}`))
    if (writesWarehouse) await dropDatabase(database).catch(() => undefined)
  }
}
