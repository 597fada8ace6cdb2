/**
 * `sluice doctor`: checks what the service needs (Node, Java, the broker, MySQL or the embedded
 * warehouse, the lake folder or bucket, the feed registry, the pseudonym key) and says how to fix
 * each problem. It reads and probes; the only thing it writes is a temporary file (or probe key) in
 * the lake, removed.
 */
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Duration, Effect, Option, Redacted, Result } from "effect"
import { MIN_KEY_BYTES } from "../domain/Anonymize.ts"
import { feedFolder } from "../feeds/FeedEntry.ts"
import { folderMode, OPEN_FOLDER_MODE, RAW_FOLDER_MODE } from "../sinks/lake/FolderModes.ts"
import { redactUrl } from "../sinks/warehouse/ConnectionUrl.ts"
import { builtInFeeds, feedRegistry } from "./FeedsCommand.ts"
import { topicPartitions } from "./KafkaAdmin.ts"
import { describeLake, openLake } from "./LakeChoice.ts"
import type { SettingsShape } from "./Settings.ts"
import { checkMysql } from "./stack/MysqlCheck.ts"
import { probeKafka } from "./stack/KafkaProbe.ts"
import { javaCommand } from "./stack/KafkaBroker.ts"
import { formatTable } from "./TextTable.ts"

export type CheckStatus = "ok" | "warn" | "fail"

/** One check: what it found, and for a problem, how to fix it. */
export interface Check {
  readonly check: string
  readonly status: CheckStatus
  readonly detail: string
  readonly fix?: string | undefined
}

const ok = (check: string, detail: string): Check => ({ check, status: "ok", detail })
const warn = (check: string, detail: string, fix: string): Check => ({ check, status: "warn", detail, fix })
const fail = (check: string, detail: string, fix: string): Check => ({ check, status: "fail", detail, fix })

/** Below this much free space the lake is short (a window holds up to 64 MiB per partition, then its Parquet): a warning. */
export const MIN_FREE_BYTES = 1024 * 1024 * 1024
/** Below this, a commit may fail any moment: a failure. */
export const MIN_USABLE_BYTES = 100 * 1024 * 1024

const GiB = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`

/** Node ≥ 22 runs the TypeScript sources; the project brings Node 24 for npm scripts and npx. */
export const checkNode = (version: string = process.versions.node): Check => {
  const major = Number(version.split(".")[0])
  return major >= 22
    ? ok("node", `Node ${version}`)
    : fail("node", `Node ${version} cannot run the TypeScript sources`, "run sluice through npx or npm scripts (they use the project's Node 24), or install Node >= 22")
}

/** The major version in `java -version`'s text (`"17.0.9"`, `"1.8.0_392"` is 8). */
export const javaMajor = (text: string): number | undefined => {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text)
  if (m === null) return undefined
  return m[1] === "1" ? Number(m[2]) : Number(m[1])
}

const checkJava = Effect.callback<Check>((resume) => {
  execFile(javaCommand(), ["-version"], { timeout: 10_000 }, (error, stdout, stderr) => {
    const fix = "install Java 17+ (apt-get install openjdk-17-jre-headless) or set JAVA_HOME: the local broker (sluice stack up), the Delta interop test and the bench's Spark peer need it"
    if (error !== null && (error as NodeJS.ErrnoException).code === "ENOENT") return resume(Effect.succeed(warn("java", `no ${javaCommand()}`, fix)))
    const major = javaMajor(`${stderr}${stdout}`)
    if (major === undefined) return resume(Effect.succeed(warn("java", `${javaCommand()} -version says nothing readable${error ? `: ${error.message}` : ""}`, fix)))
    resume(Effect.succeed(major >= 17 ? ok("java", `Java ${major} (${javaCommand()})`) : warn("java", `Java ${major} is older than 17`, fix)))
  })
})

const checkBroker = (settings: SettingsShape) =>
  Effect.gen(function*() {
    const brokers = settings.brokers.join(",")
    const cluster = yield* probeKafka(brokers, Duration.seconds(5))
    if (Option.isNone(cluster)) {
      return fail("broker", `no Kafka broker answers at ${brokers}`, "start the local one (npx sluice stack up) or point KAFKA_BROKERS (--brokers) at yours")
    }
    const partitions = yield* topicPartitions(settings.brokers, settings.topic).pipe(
      Effect.timeoutOption(Duration.seconds(10)),
      Effect.map((p) => (Option.isSome(p) ? p.value : ("unread" as const))),
      Effect.orElseSucceed(() => "unread" as const)
    )
    const topic = partitions === "unread"
      ? `; topic ${settings.topic} could not be read`
      : partitions === undefined
      ? `; topic ${settings.topic} does not exist yet (sluice produce creates it)`
      : `; topic ${settings.topic} has ${partitions} partitions`
    return ok("broker", `Kafka cluster ${cluster.value.clusterId} at ${brokers}, ${cluster.value.brokerCount} broker${cluster.value.brokerCount === 1 ? "" : "s"}${topic}`)
  })

/** Whether a folder (or the nearest one above it that exists) takes a new file. */
const writableFolder = async (dir: string): Promise<{ readonly folder: string; readonly error?: string }> => {
  let at = path.resolve(dir)
  while (!(await fs.stat(at).then((s) => s.isDirectory(), () => false))) {
    const up = path.dirname(at)
    if (up === at) break
    at = up
  }
  const probe = path.join(at, `.sluice-doctor-${randomBytes(6).toString("hex")}.tmp`)
  try {
    await fs.writeFile(probe, "")
    await fs.unlink(probe)
    return { folder: at }
  } catch (e) {
    return { folder: at, error: (e as Error).message }
  }
}

const checkWarehouse = (settings: SettingsShape) =>
  Effect.gen(function*() {
    const embedded = Effect.gen(function*() {
      const w = yield* Effect.promise(() => writableFolder(path.dirname(settings.warehouseFile)))
      return w.error === undefined
        ? null
        : `the embedded warehouse ${settings.warehouseFile} cannot be written (${w.error})`
    })
    if (settings.warehouse === "embedded") {
      const problem = yield* embedded
      return problem === null
        ? ok("warehouse", `embedded SQLite at ${settings.warehouseFile} (SLUICE_WAREHOUSE=embedded)`)
        : fail("warehouse", problem, "set SLUICE_WAREHOUSE_FILE to a file in a folder this user can write")
    }
    const url = Redacted.value(settings.mysqlUrl)
    const status = yield* checkMysql(url, { createDatabase: false })
    if (status.ok) return ok("warehouse", status.message)
    // The check's own words, without what `stack status` adds about falling back: whether it does is said here.
    const refused = status.message.replace(/; the app falls back to its embedded warehouse$/, "")
    if (settings.warehouse === "mysql" || settings.mysqlUrlExplicit) {
      return fail("warehouse", `${refused} (configured: no fallback)`, `start MySQL/MariaDB at ${redactUrl(url)} or correct MYSQL_URL (or SLUICE_WAREHOUSE=embedded for the embedded file)`)
    }
    const problem = yield* embedded
    return problem === null
      ? warn("warehouse", `${refused}; the embedded SQLite at ${settings.warehouseFile} stands in`, `start MySQL/MariaDB at ${redactUrl(url)} or set MYSQL_URL to use one`)
      : fail("warehouse", `${refused}, and ${problem}`, "start MySQL/MariaDB, or set SLUICE_WAREHOUSE_FILE to a writable file")
  })

/** How long the doctor waits for a bucket that does not answer (the service waits SLUICE_OUTAGE_TIMEOUT_MS). */
const BUCKET_WAIT_MS = 5_000

/** A lake in a bucket: it answers, and it refuses a second put-if-absent of one key (the probe `run` makes). */
const checkBucket = (settings: SettingsShape): Effect.Effect<ReadonlyArray<Check>> =>
  Effect.scoped(openLake({ ...settings, outageTimeoutMs: BUCKET_WAIT_MS }, { writes: true })).pipe(
    Effect.as([ok("lake", `${describeLake(settings.lake, settings.s3)} answers, and refuses a second put-if-absent of one key (conditional writes)`)]),
    Effect.catch((e) =>
      Effect.succeed([
        fail(
          "lake",
          e.message,
          e._tag === "StoreUnsupported"
            ? "use a store with conditional writes (If-None-Match: *): AWS S3, a recent MinIO or Ceph RGW; or a local folder (SLUICE_LAKE_DIR)"
            : "check SLUICE_LAKE_URL (the bucket must exist), AWS_ENDPOINT_URL, AWS_REGION and the credentials (GetObject, PutObject, DeleteObject, ListBucket on the prefix)"
        )
      ])
    )
  )

/** The lake's feed folders (`streams/x`, `_deadletter/x`, …) that others may read where their sensitivity says they may not. */
const tooOpenFolders = async (lake: string) => {
  const found: Array<{ key: string; mode: number; wanted: number }> = []
  for (const kind of await fs.readdir(lake).catch(() => [] as Array<string>)) {
    const tables = await fs.readdir(path.join(lake, kind), { withFileTypes: true }).catch(() => [])
    for (const key of [kind, ...tables.filter((t) => t.isDirectory()).map((t) => `${kind}/${t.name}`)]) {
      const stat = await fs.stat(path.join(lake, key)).catch(() => undefined)
      if (stat === undefined || !stat.isDirectory()) continue
      const mode = stat.mode & 0o777
      const wanted = folderMode(key)
      if ((mode & 0o007 & ~wanted) !== 0) found.push({ key, mode, wanted })
    }
  }
  return found
}

export const checkLake = (settings: SettingsShape, statfs: (dir: string) => Promise<{ bavail: number; bsize: number }> = (dir) => fs.statfs(dir)) =>
  settings.lake.kind === "s3" ? checkBucket(settings) : checkFolder(settings.lake.dir, statfs)

const checkFolder = (lake: string, statfs: (dir: string) => Promise<{ bavail: number; bsize: number }>) =>
  Effect.promise(async (): Promise<ReadonlyArray<Check>> => {
    const exists = await fs.stat(lake).then((s) => s.isDirectory(), () => false)
    const w = await writableFolder(lake)
    const checks: Array<Check> = []
    if (w.error !== undefined) {
      checks.push(fail("lake", `${exists ? lake : `${w.folder} (where ${lake} would be created)`} cannot be written: ${w.error}`, `give this user write access (chown/chmod), or set SLUICE_LAKE_DIR (--lake-dir) to a folder it can write`))
    } else {
      checks.push(ok("lake", exists ? `${lake} is writable` : `${lake} does not exist yet; ${w.folder} is writable, the first run creates it`))
    }
    const space = await statfs(w.folder)
    const free = space.bavail * space.bsize
    checks.push(
      free >= MIN_FREE_BYTES
        ? ok("lake space", `${GiB(free)} free on the lake's filesystem`)
        : (free >= MIN_USABLE_BYTES ? warn : fail)("lake space", `${GiB(free)} free on the lake's filesystem`, "free space there (sluice vacuum deletes files no table version names) or move SLUICE_LAKE_DIR")
    )
    if (exists) {
      const mode = (await fs.stat(lake)).mode & 0o777
      const open = await tooOpenFolders(lake)
      checks.push(
        (mode & 0o002) !== 0
          ? fail("lake modes", `${lake} is writable by every user (mode ${mode.toString(8)})`, `chmod o-w ${lake}: anyone could add or replace files of the lake`)
          : open.length > 0
          ? fail(
            "lake modes",
            `${open.map((f) => `${f.key} (mode ${f.mode.toString(8)})`).join(", ")} open to other users more than what they hold allows (raw feeds ${RAW_FOLDER_MODE.toString(8)}, others ${OPEN_FOLDER_MODE.toString(8)} at most)`,
            open.map((f) => `chmod ${f.wanted.toString(8)} ${path.join(lake, f.key)}`).join("; ")
          )
          : ok("lake modes", `${lake} mode ${mode.toString(8)}; raw feeds ${RAW_FOLDER_MODE.toString(8)}, anonymized feeds and tables ${OPEN_FOLDER_MODE.toString(8)}`)
      )
    }
    return checks
  })

const checkRegistry = (settings: SettingsShape) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* Effect.result(openLake(settings, { writes: false }))
    if (Result.isFailure(store)) return [fail("feeds", `the lake cannot be opened: ${store.failure.message}`, "see the lake check")]
    const registry = feedRegistry(store.success)
    const listing = yield* Effect.result(registry.list)
    if (Result.isFailure(listing)) return [fail("feeds", `the registry ${registry.store.location} cannot be read: ${listing.failure.message}`, "give this user read access to it")]
    const { active, archived, problems } = listing.success
    const checks: Array<Check> = problems.map((p) => fail("feeds", `${p.file}: ${p.reason}`, "correct the entry (sluice feeds add writes valid ones) or delete the file"))
    const builtIn = builtInFeeds(settings)
    for (const e of active) {
      const clash = builtIn.find((b) => b.name === e.name || b.folder === feedFolder(e))
      if (clash !== undefined) checks.push(fail("feeds", `declared feed ${e.name} has the name of the built-in ${clash.folder}`, `delete it (sluice feeds delete --name ${e.name} --yes) and declare it under another name`))
      if ([settings.topic, settings.ratesTopic, settings.blacklistTopic].includes(e.topic)) {
        checks.push(fail("feeds", `declared feed ${e.name} reads ${e.topic}, which the service reads for itself`, `point it at its own topic (sluice feeds update --name ${e.name} --topic …) or delete it`))
      }
    }
    if (checks.length === 0) {
      checks.push(ok("feeds", `${active.length} declared feed${active.length === 1 ? "" : "s"} (${active.filter((e) => e.enabled).length} enabled), ${archived.length} archived, in ${registry.store.location}`))
    }
    return checks
  }))

/** The pseudonym key as `run` would load it, without creating it. */
export const checkAnonymizationKey = (settings: Pick<SettingsShape, "anonymizationKey" | "anonymizationKeyFile">) =>
  Effect.promise(async (): Promise<Check> => {
    const valid = (text: string) => /^[0-9a-fA-F]+$/.test(text.trim()) && text.trim().length % 2 === 0 && text.trim().length >= MIN_KEY_BYTES * 2
    const hexRule = `at least ${MIN_KEY_BYTES * 2} hex digits (${MIN_KEY_BYTES} random bytes): openssl rand -hex ${MIN_KEY_BYTES}`
    if (settings.anonymizationKey !== undefined) {
      return valid(Redacted.value(settings.anonymizationKey))
        ? ok("pseudonym key", "from SLUICE_ANONYMIZATION_KEY")
        : fail("pseudonym key", "SLUICE_ANONYMIZATION_KEY is not a key", `set it to ${hexRule}`)
    }
    const file = settings.anonymizationKeyFile
    if (file === undefined) {
      return fail(
        "pseudonym key",
        "the lake is in a bucket and no key is given: no key file is made for it, since every instance writing it must pseudonymize alike",
        `set SLUICE_ANONYMIZATION_KEY to ${hexRule}, the same for every instance (or SLUICE_ANONYMIZATION_KEY_FILE to a file holding it)`
      )
    }
    const stat = await fs.stat(file).catch(() => undefined)
    if (stat === undefined) {
      const w = await writableFolder(path.dirname(file))
      return w.error === undefined
        ? ok("pseudonym key", `${file} does not exist yet: the first run creates it (mode 600)`)
        : fail("pseudonym key", `${file} does not exist and ${w.folder} cannot be written: ${w.error}`, "set SLUICE_ANONYMIZATION_KEY_FILE to a file this user can create, or SLUICE_ANONYMIZATION_KEY")
    }
    if ((stat.mode & 0o077) !== 0) {
      return fail("pseudonym key", `${file} can be read by other users (mode ${(stat.mode & 0o777).toString(8)})`, `chmod 600 ${file}`)
    }
    const text = await fs.readFile(file, "utf8").catch((e: Error) => e)
    if (text instanceof Error) return fail("pseudonym key", `${file} cannot be read: ${text.message}`, "give the service's user read access to it")
    return valid(text)
      ? ok("pseudonym key", `${file} (mode 600)`)
      : fail("pseudonym key", `${file} does not hold a key`, `write ${hexRule} into it (pseudonyms made with another key will differ)`)
  })

/** Every check, in order. */
export const runDoctor = (settings: SettingsShape): Effect.Effect<ReadonlyArray<Check>> =>
  Effect.gen(function*() {
    const [java, broker, warehouse, lake, feeds, key] = yield* Effect.all(
      [checkJava, checkBroker(settings), checkWarehouse(settings), checkLake(settings), checkRegistry(settings), checkAnonymizationKey(settings)],
      { concurrency: "unbounded" }
    )
    return [checkNode(), java, broker, warehouse, ...lake, ...feeds, key]
  })

/** The checks as a table, each problem followed by its fix. */
export const formatChecks = (checks: ReadonlyArray<Check>): string =>
  formatTable(["", "check", "found"], checks.flatMap((c) => [[c.status, c.check, c.detail], ...(c.fix === undefined ? [] : [["", "", `fix: ${c.fix}`]])]))
