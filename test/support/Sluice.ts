/**
 * Runs the `sluice` CLI as a child process, the way a user or a supervisor does, so that tests
 * can kill it with SIGKILL at any moment and restart it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { createConnection } from "mysql2"
import { expect } from "vitest"
import { deleteTopics, topicsWithPrefix } from "../../src/ops/KafkaAdmin.ts"

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

export const spawnSluice = (args: ReadonlyArray<string>, env: Record<string, string | undefined>): SluiceProcess => {
  const merged: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
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
    child.on("exit", (code, signal) => resolve({ code, signal })))
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
export const runSluice = async (args: ReadonlyArray<string>, env: Record<string, string | undefined>) => {
  const p = spawnSluice(args, env)
  const { code, signal } = await p.exited
  return { code, signal, output: p.output() }
}

export interface Sandbox {
  readonly id: string
  readonly topic: string
  readonly lake: string
  /** The sandbox's own MySQL database (dropped by cleanup), when the tests were given a MySQL. */
  readonly mysqlUrl: string | undefined
  /** The environment of a `sluice` run confined to this sandbox. */
  readonly env: Record<string, string | undefined>
  /** Deletes the lake folder and the topic. */
  readonly cleanup: () => Promise<void>
}

/**
 * A topic, consumer group (with a static member id), lake folder, MySQL database and rates topic
 * of their own, so that integration tests never see each other's data.
 */
export const sandbox = (
  prefix: string,
  brokers: string,
  env: Record<string, string | undefined> = {},
  mysqlBaseUrl?: string | null
): Sandbox => {
  // The clock alone would give two sandboxes made in the same millisecond the same topic and database.
  const id = `${prefix}-${Date.now().toString(36)}${randomBytes(2).toString("hex")}`
  const topic = `transactions_${id}`
  const lake = mkdtempSync(path.join(tmpdir(), `sluice-${prefix}-`))
  const mysqlUrl = mysqlBaseUrl ? withDatabase(mysqlBaseUrl, `sluice_test_${id.replaceAll("-", "_")}`) : undefined
  return {
    id,
    topic,
    lake,
    mysqlUrl,
    env: {
      ...(mysqlUrl ? { MYSQL_URL: mysqlUrl } : { SLUICE_SINKS: "lake" }),
      KAFKA_BROKERS: brokers,
      SLUICE_TOPIC: topic,
      SLUICE_GROUP: id,
      SLUICE_INSTANCE_ID: id,
      SLUICE_LAKE_DIR: lake,
      // A rates topic nobody creates: the built-in table, whatever `exchange_rates` the shared broker holds.
      SLUICE_RATES_TOPIC: `exchange_rates_${id}`,
      SLUICE_BLACKLIST_TOPIC: `blacklist_${id}`,
      // A sales topic of its own, created by the tests that produce sales (missing otherwise: waited for).
      SLUICE_VENTES_TOPIC: `${id}_ventes`,
      SLUICE_ANONYMIZATION_KEY_FILE: `${lake}.key`,
      SLUICE_PUBLISH_PREFIX: `${id}_`,
      SLUICE_CRASH_AT: undefined,
      // Any free port for /metrics and /readyz: several instances of a test run side by side.
      SLUICE_HTTP_PORT: "0",
      SLUICE_LOG_FORMAT: undefined,
      ...env
    },
    cleanup: async () => {
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
