/**
 * One scenario's world: its own topic, consumer group, lake folder and MySQL database, the
 * supervised `sluice run` instances and load, the faults and recoveries, and at the end the final
 * `sluice run --until-idle` and the figures counted from the data.
 */
import { Admin } from "@platformatic/kafka"
import { Effect } from "effect"
import { ensureTopic } from "../../src/ops/KafkaAdmin.ts"
import { type Sandbox, sandbox, spawnSluice } from "../../test/support/Sluice.ts"
import { supervise, type Supervised } from "../../test/support/Supervisor.ts"
import { type RecordId, readCommitted } from "./CommittedReader.ts"
import { countRecords, type Counts, readLakeRows, warehouseCount } from "./Counting.ts"
import type { KafkaCluster } from "../../test/support/Containers.ts"
import type { PrivateBroker } from "./PrivateBroker.ts"
import type { PrivateMariaDb } from "./PrivateMariaDb.ts"
import { type CommitTarget, committedEverywhere, endOffsets, secondsUntilCommitted } from "./Progress.ts"

/** What every scenario gets from the orchestrator. */
export interface ChaosContext {
  readonly root: string
  /** The shared broker: never stopped. */
  readonly brokers: ReadonlyArray<string>
  /** The shared MySQL server (any database in the URL is ignored): never stopped. */
  readonly mysqlServer: string
  readonly quick: boolean
  /** Keep the topic, lake folder and database of a scenario that failed. */
  readonly keep: boolean
  readonly log: (line: string) => void
  /** The harness's own MariaDB, started on first use and shared by the scenarios that kill MySQL. */
  readonly privateMariaDb: () => Promise<PrivateMariaDb>
  /** The harness's own broker, started on first use, for the scenarios that stop Kafka. */
  readonly privateBroker: () => Promise<PrivateBroker>
  /**
   * Three brokers in containers (a container engine and `npm run test:images` or a registry needed),
   * started on first use, for the scenarios that stop brokers of a cluster.
   */
  readonly kafkaCluster: () => Promise<KafkaCluster>
}

/** One fault and how long the service took to commit past what was produced before it. */
export interface Recovery {
  readonly fault: string
  /** Seconds from the fault's end; null when not within the deadline. */
  readonly seconds: number | null
}

/** A scenario's figures (the first seven are the report's columns) and what happened. */
export interface ScenarioResult extends Omit<Counts, "examples"> {
  readonly recoverySeconds: number | null
  readonly description: string
  readonly ok: boolean
  /** Why it is not ok, one line each. */
  readonly problems: ReadonlyArray<string>
  readonly recoveries: ReadonlyArray<Recovery>
  /** Processes of the service that exited without the harness asking, and restarts in all. */
  readonly unplannedExits: number
  readonly serviceStarts: number
  /** The final `sluice run --until-idle`: its exit and duration. */
  readonly finalRun: { readonly exit: number | string | null; readonly seconds: number }
  /** The service's distinct warning and error lines, with how often each came. */
  readonly errors: ReadonlyArray<string>
  readonly examples: Counts["examples"]
  readonly notes: ReadonlyArray<string>
  readonly seconds: number
}

export interface LabOptions {
  readonly partitions: number
  /** Another broker than the shared one (the private broker). */
  readonly brokers?: ReadonlyArray<string>
  /** `mysql://…/` of another server than the shared one (the private MariaDB). */
  readonly mysqlServer?: string
  /** Settings of every `sluice run` of the scenario, over the defaults below. */
  readonly env?: Record<string, string | undefined>
}

/** Windows that close often: many commits, so faults land in every phase of one. */
const SERVICE_ENV = {
  SLUICE_WINDOW_MAX_AGE_MS: "1000",
  SLUICE_WINDOW_MAX_RECORDS: "5000",
  SLUICE_DRAIN_TIMEOUT_MS: "10000"
}

export const RESTART_DELAY_MS = 500
const FINAL_IDLE_MS = 2_000

export interface Lab extends CommitTarget {
  readonly name: string
  readonly sandbox: Sandbox
  readonly env: Record<string, string | undefined>
  readonly log: (line: string) => void
  /** A supervised `sluice run`, with `env` over the scenario's; stopped by `finish`. */
  readonly service: (env?: Record<string, string | undefined>) => Supervised
  /** A supervised `sluice produce --rate`, restarted with another seed if it fails. */
  readonly load: (rate: number, seed: number) => Supervised
  /**
   * Call at the fault's end: measures how long until every feed and the warehouse committed past
   * Kafka's end offsets of now (everything produced before the fault ended). With `newRecords`, for
   * a fault during which nothing could be produced: past the end offsets once the first records
   * produced after the fault are in, so that they must flow through.
   */
  readonly recover: (fault: string, options?: { readonly newRecords?: boolean }) => Promise<number | null>
  /** Records a recovery measured otherwise (e.g. counted from the data). */
  readonly recorded: (recovery: Recovery) => void
  /** Records of earlier generations of the topic (before a deletion), counted as produced. */
  readonly addProduced: (records: ReadonlyArray<RecordId>) => void
  readonly problem: (line: string) => void
  readonly note: (line: string) => void
  /** Stops the instances, runs `sluice run --until-idle` to completion and counts. */
  readonly finish: () => Promise<ScenarioResult>
  /** Runs `release` at cleanup, before the lake folder is deleted (e.g. to unmount it). */
  readonly atCleanup: (release: () => Promise<void> | void) => void
  /** Deletes the topic, lake folder and database (kept with --keep when the scenario failed). */
  readonly cleanup: (failed: boolean) => Promise<void>
}

const LINE_OF_INTEREST = /^\[[\d:.]+\] (WARN|ERROR|FATAL)|^sluice: |Error:/

/** The distinct warning and error lines of `outputs` (numbers aside), most frequent first. */
export const distinctErrors = (outputs: ReadonlyArray<string>, limit = 8): Array<string> => {
  const seen = new Map<string, { first: string; count: number }>()
  for (const output of outputs) {
    for (const line of output.split("\n")) {
      if (!LINE_OF_INTEREST.test(line)) continue
      const text = line.replace(/^\[[\d:.]+\] /, "").replace(/ \(#\d+\)/, "").trim()
      const shape = text.replace(/\d+/g, "#")
      const entry = seen.get(shape)
      if (entry === undefined) seen.set(shape, { first: text.slice(0, 400), count: 1 })
      else entry.count++
    }
  }
  return [...seen.values()].sort((a, b) => b.count - a.count).slice(0, limit).map((e) => (e.count > 1 ? `${e.count}× ${e.first}` : e.first))
}

const maxOf = (recoveries: ReadonlyArray<Recovery>): number | null =>
  recoveries.length === 0 || recoveries.some((r) => r.seconds === null) ? null : Math.max(...recoveries.map((r) => r.seconds!))

/** Creates the scenario's topic and names its group, lake folder and database. */
export const openLab = async (ctx: ChaosContext, name: string, description: string, options: LabOptions): Promise<Lab> => {
  const startedAt = Date.now()
  const brokers = options.brokers ?? ctx.brokers
  const box = sandbox(`chaos-${name}`, brokers.join(","), { ...SERVICE_ENV, ...options.env }, options.mysqlServer ?? ctx.mysqlServer)
  await Effect.runPromise(ensureTopic(brokers, box.topic, options.partitions))
  const log = (line: string) => ctx.log(`${name}: ${line}`)
  const services: Array<Supervised> = []
  const loads: Array<Supervised> = []
  const recoveries: Array<Recovery> = []
  const earlier: Array<RecordId> = []
  const problems: Array<string> = []
  const notes: Array<string> = []
  const releases: Array<() => Promise<void> | void> = []
  const target: CommitTarget = {
    brokers,
    topic: box.topic,
    partitions: options.partitions,
    lakeDir: box.lake,
    group: box.id,
    mysqlUrl: box.mysqlUrl!
  }
  const recoveryDeadlineMs = ctx.quick ? 45_000 : 60_000

  const finish = async (): Promise<ScenarioResult> => {
    await Promise.all(loads.map((l) => l.stop()))
    await Promise.all(services.map((s) => s.stop()))
    log("final sluice run --until-idle …")
    const finalStartedAt = Date.now()
    const final = spawnSluice(["run", "--until-idle", String(FINAL_IDLE_MS)], box.env)
    // The short form runs inside the test suite, on a machine that may be busy with other work
    // (three broker containers among it): a final run slowed by that is not a hang.
    const timeoutMs = ctx.quick ? 120_000 : 90_000
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs).unref())
    const ended = await Promise.race([final.exited, timer])
    let finalExit: number | string | null
    if (ended === "timeout") {
      final.child.kill("SIGKILL")
      await final.exited
      finalExit = "SIGKILL at the deadline"
      problems.push(`the final sluice run --until-idle did not finish within ${timeoutMs / 1000} s: ${distinctErrors([final.output()], 1)[0] ?? "no error line"}`)
    } else {
      finalExit = ended.code ?? ended.signal
      if (ended.code !== 0) problems.push(`the final sluice run --until-idle exited ${finalExit}: ${distinctErrors([final.output()], 1)[0] ?? ""}`)
    }
    const finalOutput = final.output()
    const finalSeconds = (Date.now() - finalStartedAt) / 1000
    const produced = [...earlier, ...(await readCommitted(brokers, box.topic))]
    const counts = countRecords(produced, await readLakeRows(box.lake, box.topic), await warehouseCount(box.mysqlUrl!))
    if (counts.lost > 0) problems.push(`${counts.lost} produced records are in neither the stream nor the dead letters (e.g. ${counts.examples.lost.join(", ")})`)
    if (counts.duplicated > 0) problems.push(`${counts.duplicated} rows duplicate a record (e.g. ${counts.examples.duplicated.join(", ")})`)
    if (counts.extra > 0) problems.push(`${counts.extra} records in the lake were never delivered to a read_committed reader (e.g. ${counts.examples.extra.join(", ")})`)
    if (counts.inWarehouse !== counts.warehouseExpected) {
      problems.push(`the warehouse counts ${counts.inWarehouse} transactions, the lake's produced records ${counts.warehouseExpected} (${counts.inWarehouse - counts.warehouseExpected > 0 ? "+" : ""}${counts.inWarehouse - counts.warehouseExpected})`)
    }
    const late = recoveries.filter((r) => r.seconds === null)
    if (late.length > 0) problems.push(`not recovered in time after ${late.map((r) => r.fault).join(", ")}`)
    const loadExits = loads.flatMap((l) => l.exits()).filter((e) => !e.planned && e.code !== 0)
    if (loadExits.length > 0) notes.push(`the load generator exited ${loadExits.length} times and was restarted (${loadExits.at(-1)?.reason ?? "no reason printed"})`)
    const exits = services.flatMap((s) => s.exits())
    const { examples, ...figures } = counts
    return {
      produced: figures.produced,
      inLake: figures.inLake,
      inWarehouse: figures.inWarehouse,
      deadLettered: figures.deadLettered,
      duplicated: figures.duplicated,
      lost: figures.lost,
      recoverySeconds: maxOf(recoveries),
      extra: figures.extra,
      warehouseExpected: figures.warehouseExpected,
      description,
      ok: problems.length === 0,
      problems,
      recoveries,
      unplannedExits: exits.filter((e) => !e.planned && e.code !== 0).length,
      serviceStarts: services.reduce((n, s) => n + s.starts(), 0),
      finalRun: { exit: finalExit, seconds: Math.round(finalSeconds * 10) / 10 },
      errors: distinctErrors([...services.map((s) => s.output()), finalOutput]),
      examples,
      notes,
      seconds: Math.round((Date.now() - startedAt) / 100) / 10
    }
  }

  return {
    ...target,
    name,
    sandbox: box,
    env: box.env,
    log,
    service: (env = {}) => {
      const s = supervise(["run"], { ...box.env, ...env }, { restartDelayMs: RESTART_DELAY_MS })
      services.push(s)
      return s
    },
    load: (rate, seed) => {
      const l = supervise(
        (start) => [
          "produce", "--topic", box.topic, "--messages", "100000000", "--rate", String(rate),
          "--partitions", String(options.partitions), "--bad-ratio", "0.01", "--seed", String(seed + start * 1_000)
        ],
        box.env,
        { restartDelayMs: RESTART_DELAY_MS }
      )
      loads.push(l)
      return l
    },
    recover: async (fault, { newRecords = false } = {}) => {
      const since = Date.now()
      const total = (offsets: ReadonlyArray<number>) => offsets.reduce((n, o) => n + o, 0)
      let before = await endOffsets(target)
      if (newRecords) {
        const atEnd = total(before)
        while (total(before) === atEnd && Date.now() - since < recoveryDeadlineMs) {
          await new Promise((r) => setTimeout(r, 100))
          before = await endOffsets(target)
        }
      }
      const seconds = await secondsUntilCommitted(before, () => committedEverywhere(target), recoveryDeadlineMs, since)
      recoveries.push({ fault, seconds: seconds === null ? null : Math.round(seconds * 10) / 10 })
      log(`${fault}: ${seconds === null ? `not committed past ${before.join(",")} within ${recoveryDeadlineMs / 1000} s` : `recovered in ${seconds.toFixed(1)} s`}`)
      return seconds
    },
    recorded: (recovery) => {
      recoveries.push(recovery)
    },
    addProduced: (records) => {
      earlier.push(...records)
    },
    problem: (line) => {
      problems.push(line)
      log(line)
    },
    note: (line) => {
      notes.push(line)
    },
    finish,
    atCleanup: (release) => {
      releases.push(release)
    },
    cleanup: async (failed) => {
      await Promise.all([...loads, ...services].map((s) => s.stop(5_000)))
      if (failed && ctx.keep) {
        log(`kept: topic ${box.topic}, lake ${box.lake}, database ${box.mysqlUrl}`)
        return
      }
      for (const release of releases) await Promise.resolve(release()).catch((e: Error) => log(`cleanup: ${e.message}`))
      await box.cleanup().catch((e: Error) => log(`cleanup: ${e.message}`))
      // The group's members are gone by now; a member that died unseen keeps it until its session ends.
      const admin = new Admin({ clientId: "sluice-chaos-admin", bootstrapBrokers: [...brokers] })
      await admin.deleteGroups({ groups: [box.id] }).catch((e: Error) => log(`could not delete consumer group ${box.id}: ${e.message}`))
      await admin.close().catch(() => undefined)
    }
  }
}
