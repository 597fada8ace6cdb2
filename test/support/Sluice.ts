/**
 * Runs the `sluice` CLI as a child process, the way a user or a supervisor does, so that tests
 * can kill it with SIGKILL at any moment and restart it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Exit, Scope } from "effect"
import { createConnection } from "mysql2"
import { expect } from "vitest"
import { deleteTopics, topicsWithPrefix } from "../../src/ops/KafkaAdmin.ts"
import type { S3ProxyEndpoint } from "../../src/ops/Stack.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { makeS3Store, MIN_PART_SIZE } from "../../src/sinks/lake/store/S3Store.ts"
import type { TestLake } from "./Lake.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const bin = path.join(root, "bin", "sluice.js")

export interface SluiceProcess {
  readonly child: ChildProcess
  /** Everything printed so far, stdout and stderr interleaved. */
  readonly output: () => string
  /** Resolves when a line matching `pattern` has been printed. */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>
  /** Resolves with the exit code (or the signal that ended it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `sluice` with `args`; `cwd` is the project unless given (another machine's working folder, say). */
export const spawnSluice = (args: ReadonlyArray<string>, env: Record<string, string | undefined>, options: { readonly cwd?: string } = {}): SluiceProcess => {
  const merged: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? root,
    env: merged,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let text = ""
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = []
  const onData = (chunk: Buffer) => {
    text += chunk.toString("utf8")
    for (const w of waiters.splice(0)) {
      if (w.pattern.test(text)) w.resolve()
      else waiters.push(w)
    }
  }
  child.stdout!.on("data", onData)
  child.stderr!.on("data", onData)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      // SLUICE_TEST_RUN_LOGS keeps every run's output in a folder, for a post-mortem of a failed test.
      const logs = process.env.SLUICE_TEST_RUN_LOGS
      if (logs !== undefined && logs !== "") {
        mkdirSync(logs, { recursive: true })
        writeFileSync(path.join(logs, `${Date.now()}-${child.pid}-${args[0]}.log`), `$ sluice ${args.join(" ")}\n${text}\nexit ${code ?? signal}\n`)
      }
      resolve({ code, signal })
    }))
  return {
    child,
    output: () => text,
    exited,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(text)) return resolve()
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in:\n${text}`)), timeoutMs)
        waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) })
        void exited.then(({ code, signal }) => {
          clearTimeout(timer)
          if (pattern.test(text)) resolve()
          else reject(new Error(`sluice exited (${code ?? signal}) before ${pattern}:\n${text}`))
        })
      })
  }
}

/** Runs `sluice` to completion and returns its exit code and output. */
export const runSluice = async (args: ReadonlyArray<string>, env: Record<string, string | undefined>, options: { readonly cwd?: string } = {}) => {
  const p = spawnSluice(args, env, options)
  const { code, signal } = await p.exited
  return { code, signal, output: p.output() }
}

export interface Sandbox {
  readonly id: string
  readonly topic: string
  /** The lake's folder; for a lake in a bucket, where its objects are copied for DuckDB. */
  readonly lake: string
  /** `SLUICE_LAKE_URL` of a lake in a bucket; undefined for a lake in `lake`. */
  readonly lakeUrl: string | undefined
  /** The lake as the test reads it (a bucket's store is opened once, closed by cleanup). */
  readonly reader: () => Promise<TestLake>
  /** The sandbox's own MySQL database (dropped by cleanup), when the tests were given a MySQL. */
  readonly mysqlUrl: string | undefined
  /** The environment of a `sluice` run confined to this sandbox. */
  readonly env: Record<string, string | undefined>
  /** Deletes the lake (folder, or the objects under its prefix), the topic and the database. */
  readonly cleanup: () => Promise<void>
}

/** The environment that puts a `sluice` run's lake at `s3://<bucket>/<prefix>` on the tests' S3 server. */
export const s3LakeEnv = (s3: S3ProxyEndpoint, prefix: string, anonymizationKey: string) => ({
  SLUICE_LAKE_URL: `s3://${s3.bucket}/${prefix}`,
  AWS_ENDPOINT_URL: s3.endpoint,
  AWS_REGION: s3.region,
  AWS_ACCESS_KEY_ID: s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  // No key file stands in for a lake in a bucket: instances are given the key they share.
  SLUICE_ANONYMIZATION_KEY: anonymizationKey
})

/**
 * A topic, consumer group (with a static member id), lake (a folder, or with `s3` a prefix of the
 * tests' bucket), MySQL database and rates topic of their own, so that integration tests never see
 * each other's data.
 */
export const sandbox = (
  prefix: string,
  brokers: string,
  env: Record<string, string | undefined> = {},
  mysqlBaseUrl?: string | null,
  options: { readonly s3?: S3ProxyEndpoint | null | undefined } = {}
): Sandbox => {
  // The clock alone would give two sandboxes made in the same millisecond the same topic and database.
  const id = `${prefix}-${Date.now().toString(36)}${randomBytes(2).toString("hex")}`
  const topic = `transactions_${id}`
  const lake = mkdtempSync(path.join(tmpdir(), `sluice-${prefix}-`))
  const mysqlUrl = mysqlBaseUrl ? withDatabase(mysqlBaseUrl, `sluice_test_${id.replaceAll("-", "_")}`) : undefined
  const s3 = options.s3 ?? undefined
  let opened: { readonly lake: TestLake; readonly close: () => Promise<void> } | undefined
  const reader = async (): Promise<TestLake> => {
    if (s3 === undefined) return { store: makeLocalStore(lake), copies: lake }
    if (opened === undefined) {
      const scope = await Effect.runPromise(Scope.make())
      const store = await Effect.runPromise(makeS3Store({
        bucket: s3.bucket,
        prefix: `${id}/`,
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        partSize: MIN_PART_SIZE,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
      }).pipe(Scope.provide(scope)))
      opened = { lake: { store, copies: path.join(lake, "copies") }, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
    }
    return opened.lake
  }
  return {
    id,
    topic,
    lake,
    lakeUrl: s3 === undefined ? undefined : `s3://${s3.bucket}/${id}`,
    reader,
    mysqlUrl,
    env: {
      ...(mysqlUrl ? { MYSQL_URL: mysqlUrl } : { SLUICE_SINKS: "lake" }),
      KAFKA_BROKERS: brokers,
      SLUICE_TOPIC: topic,
      SLUICE_GROUP: id,
      SLUICE_INSTANCE_ID: id,
      SLUICE_LAKE_DIR: lake,
      // Whatever lake the developer's environment names is not this test's.
      SLUICE_LAKE_URL: undefined,
      ...(s3 === undefined ? {} : s3LakeEnv(s3, id, randomBytes(32).toString("hex"))),
      // A rates topic nobody creates: the built-in table, whatever `exchange_rates` the shared broker holds.
      SLUICE_RATES_TOPIC: `exchange_rates_${id}`,
      SLUICE_BLACKLIST_TOPIC: `blacklist_${id}`,
      // A sales topic of its own, created by the tests that produce sales (missing otherwise: waited for).
      SLUICE_VENTES_TOPIC: `${id}_ventes`,
      // A lake in a bucket has its key in SLUICE_ANONYMIZATION_KEY (s3LakeEnv): no file stands in for it.
      ...(s3 === undefined ? { SLUICE_ANONYMIZATION_KEY_FILE: `${lake}.key` } : { SLUICE_ANONYMIZATION_KEY_FILE: undefined }),
      SLUICE_PUBLISH_PREFIX: `${id}_`,
      SLUICE_CRASH_AT: undefined,
      // Any free port for /metrics and /readyz: several instances of a test run side by side.
      SLUICE_HTTP_PORT: "0",
      SLUICE_LOG_FORMAT: undefined,
      ...env
    },
    cleanup: async () => {
      // SLUICE_TEST_KEEP keeps the topics, lake and database, for a post-mortem of a failed test.
      if (process.env.SLUICE_TEST_KEEP !== undefined && process.env.SLUICE_TEST_KEEP !== "") return
      if (s3 !== undefined) {
        const { store } = await reader()
        await Effect.runPromise(Effect.flatMap(store.list(""), (objects) => Effect.forEach(objects, (o) => store.delete(o.key), { concurrency: 16, discard: true })))
        await opened?.close()
      }
      rmSync(lake, { recursive: true, force: true })
      rmSync(`${lake}.key`, { force: true })
      // The source topic, and what the sandbox's runs and tests made beside it (rates, blacklist, output topics).
      const made = await Effect.runPromise(topicsWithPrefix([brokers], `${id}_`).pipe(Effect.orElseSucceed(() => [] as Array<string>)))
      await Effect.runPromise(deleteTopics([brokers], [topic, `exchange_rates_${id}`, `blacklist_${id}`, ...made]).pipe(Effect.ignore))
      if (mysqlUrl) await dropDatabase(mysqlUrl)
    }
  }
}

const withDatabase = (url: string, database: string): string => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/** Drops the database a MySQL URL names. */
export const dropDatabase = (url: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const u = new URL(url)
    const name = decodeURIComponent(u.pathname.slice(1))
    u.pathname = "/"
    const connection = createConnection({ uri: u.toString() })
    connection.query(`DROP DATABASE IF EXISTS \`${name}\``, (error) => {
      connection.end()
      if (error) reject(error)
      else resolve()
    })
  })

/** Runs `sluice run` once per crash point (`<point>[@n]`) and checks that each run died there. */
export const runToCrashPoints = async (env: Record<string, string | undefined>, points: ReadonlyArray<string>): Promise<void> => {
  for (const point of points) {
    const run = spawnSluice(["run"], { ...env, SLUICE_CRASH_AT: point })
    const exit = await run.exited
    expect(exit.signal, run.output()).toBe("SIGKILL")
    expect(run.output()).toContain(`crash point ${point.split("@")[0]} reached`)
  }
}

/** Starts `sluice run` `times` times and kills each with SIGKILL at a random moment after it resumed. */
export const killAtRandomMoments = async (env: Record<string, string | undefined>, times: number, maxDelayMs: number): Promise<void> => {
  for (let i = 0; i < times; i++) {
    const run = spawnSluice(["run"], env)
    await run.waitFor(/resuming at offset/)
    await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * maxDelayMs)))
    run.child.kill("SIGKILL")
    expect((await run.exited).signal, run.output()).toBe("SIGKILL")
  }
}
