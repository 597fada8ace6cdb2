/**
 * A MariaDB server of the harness's own (`mariadb-install-db`, then `mariadbd` with its own datadir,
 * port and socket on 127.0.0.1), so that scenarios can kill and restart MySQL without touching the
 * shared server.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdirSync, openSync, closeSync, readFileSync, rmSync } from "node:fs"
import * as path from "node:path"
import { createConnection } from "mysql2/promise"
import { freePort } from "./Ports.ts"

export interface PrivateMariaDb {
  readonly port: number
  /** `mysql://root@127.0.0.1:<port>/<database>`. */
  readonly url: (database: string) => string
  /** The running server's pid, if one runs. */
  readonly pid: () => number | undefined
  /** SIGKILL: no shutdown, InnoDB recovers at the next start. Resolves once the process is gone. */
  readonly kill: () => Promise<void>
  /** Starts the server on the same datadir and port; resolves once it answers. */
  readonly start: () => Promise<void>
  /** Stops the server (SIGTERM, then SIGKILL) and deletes its folder. */
  readonly destroy: () => Promise<void>
}

const READY_WITHIN_MS = 60_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const answers = async (port: number): Promise<boolean> => {
  try {
    const c = await createConnection({ host: "127.0.0.1", port, user: "root", connectTimeout: 1_000 })
    await c.query("SELECT 1")
    await c.end()
    return true
  } catch {
    return false
  }
}

/** Initialises a datadir under `dir` and starts a server on a free port. */
export const startPrivateMariaDb = async (dir: string, log: (line: string) => void): Promise<PrivateMariaDb> => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const datadir = path.join(dir, "data")
  const errorLog = path.join(dir, "mariadbd.err")
  const install = spawnSync(
    "mariadb-install-db",
    ["--no-defaults", `--datadir=${datadir}`, "--auth-root-authentication-method=normal", "--skip-test-db", "--user=root"],
    { encoding: "utf8" }
  )
  if (install.error !== undefined || install.status !== 0) {
    throw new Error(`mariadb-install-db failed (${install.error?.message ?? `exit ${install.status}`}): ${install.stderr?.slice(-500) ?? ""}`)
  }
  const port = await freePort()
  let child: ChildProcess | undefined

  const start = async () => {
    if (child !== undefined) return
    const out = openSync(errorLog, "a")
    const started = spawn(
      "mariadbd",
      [
        "--no-defaults",
        `--datadir=${datadir}`,
        `--port=${port}`,
        `--socket=${path.join(dir, "mariadbd.sock")}`,
        `--pid-file=${path.join(dir, "mariadbd.pid")}`,
        "--bind-address=127.0.0.1",
        "--user=root",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=128M",
        "--max-connections=200"
      ],
      { stdio: ["ignore", out, out] }
    )
    closeSync(out)
    child = started
    started.once("exit", () => {
      if (child === started) child = undefined
    })
    const deadline = Date.now() + READY_WITHIN_MS
    while (!(await answers(port))) {
      if (child !== started) throw new Error(`mariadbd exited at start: ${readFileSync(errorLog, "utf8").slice(-800)}`)
      if (Date.now() > deadline) throw new Error(`mariadbd did not answer on 127.0.0.1:${port} within ${READY_WITHIN_MS / 1000} s`)
      await sleep(100)
    }
  }

  const stopWith = async (signal: NodeJS.Signals, graceMs: number) => {
    const running = child
    if (running === undefined) return
    const gone = new Promise<void>((r) => running.once("exit", () => r()))
    running.kill(signal)
    const stopped = await Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref())])
    if (!stopped) {
      running.kill("SIGKILL")
      await gone
    }
  }

  await start()
  log(`private MariaDB on 127.0.0.1:${port} (datadir ${datadir})`)
  return {
    port,
    url: (database) => `mysql://root@127.0.0.1:${port}/${database}`,
    pid: () => child?.pid,
    kill: () => stopWith("SIGKILL", 10_000),
    start,
    destroy: async () => {
      await stopWith("SIGTERM", 20_000)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
