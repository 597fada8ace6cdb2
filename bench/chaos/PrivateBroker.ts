/**
 * A second Kafka broker for the scenarios that stop Kafka: started by the project's own
 * `sluice stack up` with another cache folder and other ports, so the shared broker is never touched.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import * as Stack from "../../src/ops/Stack.ts"
import { runSluice } from "../../test/support/Sluice.ts"
import { freePort } from "./Ports.ts"

export interface PrivateBroker {
  readonly brokers: ReadonlyArray<string>
  /** `sluice stack down`: SIGTERM, a controlled shutdown. */
  readonly stop: () => Promise<void>
  /** SIGKILL of the broker's JVM; resolves once it is gone. */
  readonly kill: () => Promise<void>
  /** `sluice stack up` on the same folder and ports; resolves once it answers. */
  readonly start: () => Promise<void>
  /** Stops it and deletes its data (its jars stay for the next run). */
  readonly destroy: () => Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Whether `pid` runs (a zombie waiting for init to reap it does not). */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return false
  }
}

/**
 * Starts a broker whose files live in `<cacheRoot>/kafka` (jars copied once and kept; data deleted
 * at every start and by `destroy`), on two free ports.
 */
export const startPrivateBroker = async (cacheRoot: string, log: (line: string) => void): Promise<PrivateBroker> => {
  const kafkaDir = path.join(cacheRoot, "kafka")
  mkdirSync(kafkaDir, { recursive: true })
  // The jars of the project's own stack, when complete, serve this broker too: no second Maven copy.
  const ownLibs = path.join((await Effect.runPromise(Stack.stackOptions)).cacheDir, "libs")
  const libs = path.join(kafkaDir, "libs")
  if (!existsSync(libs) && existsSync(path.join(ownLibs, ".sluice-libs.json"))) symlinkSync(ownLibs, libs)
  rmSync(path.join(kafkaDir, "data"), { recursive: true, force: true })
  const kafkaPort = await freePort()
  const controllerPort = await freePort()
  const env = {
    SLUICE_CACHE_DIR: cacheRoot,
    SLUICE_KAFKA_PORT: String(kafkaPort),
    SLUICE_KAFKA_CONTROLLER_PORT: String(controllerPort),
    KAFKA_HEAP_OPTS: "-Xms128m -Xmx512m"
  }
  const stack = async (args: ReadonlyArray<string>) => {
    const run = await runSluice(["stack", ...args], env)
    if (run.code !== 0) throw new Error(`sluice stack ${args.join(" ")} (private broker in ${kafkaDir}) exited ${run.code ?? run.signal}:\n${run.output}`)
    return run.output
  }
  const startedAt = Date.now()
  await stack(["up"])
  log(`private broker on 127.0.0.1:${kafkaPort} (${kafkaDir}) answering after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`)
  return {
    brokers: [`127.0.0.1:${kafkaPort}`],
    stop: async () => {
      await stack(["down"])
    },
    kill: async () => {
      const pid = Number(readFileSync(path.join(kafkaDir, "kafka.pid"), "utf8").trim())
      if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) throw new Error(`no private broker running (${kafkaDir}/kafka.pid)`)
      process.kill(pid, "SIGKILL")
      while (alive(pid)) await sleep(50)
    },
    start: async () => {
      await stack(["up"])
    },
    destroy: async () => {
      await stack(["down", "--purge"])
    }
  }
}
