/**
 * `sluice schedule`: the lake's maintenance as a service (see Scheduler.ts), snapshot, compaction,
 * retention and vacuum each every N minutes of its own until SIGINT/SIGTERM; `--once` runs each
 * task once, for cron.
 */
import { Console, Deferred, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { describeLake, openLake } from "./LakeChoice.ts"
import { compactLake, formatVacuum, lakeTables, logRetentionHoursFlag, vacuumLake } from "./Maintenance.ts"
import { runOnce, runSchedule, type ScheduledTask } from "./Scheduler.ts"
import { snapshotLake } from "./LakeSnapshot.ts"
import type { SettingsShape } from "./Settings.ts"
import { gracefulStop } from "./Signals.ts"
import { expireSnapshots, expireStream } from "../sinks/lake/Retention.ts"
import type { Store } from "../sinks/lake/store/Store.ts"

const MINUTE = 60_000

const minutes = (name: string, task: string, every: number) =>
  Flag.Finite(name).pipe(
    Flag.withDescription(`Minutes between two runs of ${task}, fractions allowed (0.25: 15 s; 0: never)`),
    Flag.filter((n: number) => n >= 0, (n) => `must be >= 0 minutes, got ${n}`),
    Flag.withDefault(every)
  )

/** What the flags ask for, with each period in ms (0: the task is off). */
export interface SchedulePlan {
  readonly snapshotEveryMs: number
  readonly compactEveryMs: number
  readonly targetFileBytes: number
  /** 0 when neither a stream's nor a table's retention is asked for. */
  readonly retentionEveryMs: number
  /** Day partitions of every stream (dead letters included) older than this many days go. */
  readonly retentionDays: number | undefined
  /** Every versioned table keeps the files of its last K snapshots. */
  readonly keepVersions: number | undefined
  readonly vacuumEveryMs: number
  readonly retainHours: number
  /** Overrides each table's `delta.logRetentionDuration` in vacuum's log cleanup. */
  readonly logRetentionHours?: number | undefined
}

const sum = <A>(items: ReadonlyArray<A>, f: (a: A) => number) => items.reduce((n, a) => n + f(a), 0)

/** Compaction of every table of the lake, summed up in one line. */
const compactAll = (settings: SettingsShape, store: Store, targetBytes: number) =>
  Effect.gen(function*() {
    const reports = yield* compactLake(store, yield* lakeTables(store), {
      targetBytes,
      compression: settings.compression,
      checkpointInterval: settings.checkpointInterval,
      dryRun: false
    })
    const partitions = sum(reports, (r) => r.partitions.length)
    const skipped = sum(reports, (r) => r.skipped.length)
    return `${sum(reports, (r) => r.filesBefore)} live files became ${sum(reports, (r) => r.filesAfter)} in ${reports.length} tables ` +
      `(${partitions} partitions rewritten${skipped > 0 ? `, ${skipped} skipped: files removed meanwhile` : ""})`
  })

/** The retention of every stream (by days) and every versioned table (by snapshots), in one line. */
const expireAll = (settings: SettingsShape, store: Store, days: number | undefined, keep: number | undefined) =>
  Effect.gen(function*() {
    const tables = yield* lakeTables(store)
    const parts: Array<string> = []
    if (days !== undefined) {
      const streams = tables.filter((t) => !t.startsWith("tables/"))
      const reports = yield* Effect.forEach(streams, (root) => expireStream(store, root, { days, dryRun: false, checkpointInterval: settings.checkpointInterval }))
      parts.push(`${sum(reports, (r) => r.partitions.length)} day partitions older than ${days} days removed (${sum(reports, (r) => r.files)} files) from ${streams.length} streams`)
    }
    if (keep !== undefined) {
      const versioned = tables.filter((t) => t.startsWith("tables/"))
      const reports = yield* Effect.forEach(versioned, (root) => expireSnapshots(store, root, { keep, dryRun: false }))
      parts.push(`${sum(reports, (r) => r.deleted.length)} files of snapshots before the last ${keep} deleted from ${versioned.length} tables`)
    }
    return parts.join("; ")
  })

/** The enabled tasks of a plan over one lake. */
export const scheduledTasks = (settings: SettingsShape, store: Store, plan: SchedulePlan): Array<ScheduledTask<unknown>> => {
  const tasks: Array<ScheduledTask<unknown>> = [
    { name: "snapshot", everyMs: plan.snapshotEveryMs, run: snapshotLake(settings, store).pipe(Effect.as("aggregate and sales tables up to date")) },
    { name: "compact", everyMs: plan.compactEveryMs, run: compactAll(settings, store, plan.targetFileBytes) },
    { name: "retention", everyMs: plan.retentionEveryMs, run: expireAll(settings, store, plan.retentionDays, plan.keepVersions) },
    {
      name: "vacuum",
      everyMs: plan.vacuumEveryMs,
      run: vacuumLake(store, { retainHours: plan.retainHours, dryRun: false, logRetentionHours: plan.logRetentionHours }).pipe(Effect.map((reports) => formatVacuum(reports, false).split("\n").at(-1)!.replace(/^vacuum: /, "")))
    }
  ]
  return tasks.filter((t) => t.everyMs > 0)
}

export const scheduleCommand = <E, R>(settings: Effect.Effect<SettingsShape, E, R>) =>
  Command.make(
    "schedule",
    {
      snapshotEvery: minutes("snapshot-every", "the table snapshot", 10),
      compactEvery: minutes("compact-every", "compaction", 60),
      targetFileMb: Flag.Finite("target-file-mb").pipe(
        Flag.withDescription("Compaction packs files below this size into files of up to this size"),
        Flag.filter((mb: number) => mb > 0, (mb) => `must be > 0, got ${mb}`),
        Flag.withDefault(128)
      ),
      retentionEvery: minutes("retention-every", "retention (with --retention-days or --keep-versions)", 24 * 60),
      retentionDays: Flag.Int("retention-days").pipe(
        Flag.withDescription("Retention removes every stream's day partitions dated before today (UTC) minus this many days (default: streams are kept)"),
        Flag.filter((d: number) => d >= 0, (d) => `must be >= 0, got ${d}`),
        Flag.optional
      ),
      keepVersions: Flag.Int("keep-versions").pipe(
        Flag.withDescription("Retention deletes the files of every table's snapshots before its last K (default: the service's own SLUICE_SNAPSHOT_KEEP applies)"),
        Flag.filter((k: number) => k >= 1, (k) => `must be >= 1, got ${k}`),
        Flag.optional
      ),
      vacuumEvery: minutes("vacuum-every", "vacuum", 24 * 60),
      retainHours: Flag.Finite("retain-hours").pipe(
        Flag.withDescription("Vacuum keeps files that left the table less than this many hours ago"),
        Flag.filter((h: number) => h >= 1, (h) => `must be >= 1 hour (a writer still committing could lose its files), got ${h}`),
        Flag.withDefault(168)
      ),
      logRetentionHours: logRetentionHoursFlag,
      once: Flag.Boolean("once").pipe(Flag.withDescription("Run each enabled task once, then exit (non-zero if one failed)"), Flag.withDefault(false))
    },
    Effect.fn(function*(f) {
      const s = yield* settings
      const retentionDays = Option.getOrUndefined(f.retentionDays)
      const keepVersions = Option.getOrUndefined(f.keepVersions)
      const plan: SchedulePlan = {
        snapshotEveryMs: Math.round(f.snapshotEvery * MINUTE),
        compactEveryMs: Math.round(f.compactEvery * MINUTE),
        targetFileBytes: Math.round(f.targetFileMb * 1024 * 1024),
        retentionEveryMs: retentionDays === undefined && keepVersions === undefined ? 0 : Math.round(f.retentionEvery * MINUTE),
        retentionDays,
        keepVersions,
        vacuumEveryMs: Math.round(f.vacuumEvery * MINUTE),
        retainHours: f.retainHours,
        logRetentionHours: Option.getOrUndefined(f.logRetentionHours)
      }
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* openLake(s, { writes: true })
        const tasks = scheduledTasks(s, store, plan)
        if (tasks.length === 0) return yield* Effect.fail(new Error("every task is off (each --…-every is 0, and retention needs --retention-days or --keep-versions): nothing to schedule"))
        const every = tasks.map((t) => `${t.name} every ${t.everyMs / MINUTE} min`).join(", ")
        if (f.once) {
          yield* Console.log(`sluice schedule --once: ${tasks.map((t) => t.name).join(", ")} on ${describeLake(s.lake, s.s3)}`)
          const runs = yield* Effect.forEach(tasks, runOnce)
          const failed = runs.filter((r) => !r.ok)
          if (failed.length > 0) return yield* Effect.fail(new Error(`${failed.map((r) => `${r.task}: ${r.summary}`).join("; ")}`))
          return
        }
        yield* Console.log(`sluice schedule: ${every}, on ${describeLake(s.lake, s.s3)}; Ctrl-C stops it`)
        const stop = yield* gracefulStop
        yield* Effect.raceFirst(runSchedule(tasks), Deferred.await(stop))
      }))
    })
  ).pipe(Command.withDescription("Run the lake's maintenance every N minutes each (snapshot, compaction, retention, vacuum), one run of a task at a time, a log line per run"))
