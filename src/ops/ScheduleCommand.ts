/**
 * `sluice schedule`: the lake's maintenance as a service (see Scheduler.ts), each task every N
 * minutes of its own until SIGINT/SIGTERM; `--once` runs each task once, for cron.
 */
import { Console, Deferred, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { describeLake, openLake } from "./LakeChoice.ts"
import { formatVacuum, vacuumLake } from "./Maintenance.ts"
import { runOnce, runSchedule, type ScheduledTask } from "./Scheduler.ts"
import { snapshotLake } from "./Service.ts"
import type { SettingsShape } from "./Settings.ts"
import { gracefulStop } from "./Signals.ts"
import type { Store } from "../sinks/lake/store/Store.ts"

const MINUTE = 60_000

const minutes = (name: string, task: string, every: number) =>
  Flag.Int(name).pipe(
    Flag.withDescription(`Minutes between two runs of ${task} (0: never)`),
    Flag.filter((n: number) => n >= 0, (n) => `must be >= 0 minutes, got ${n}`),
    Flag.withDefault(every)
  )

/** What the flags ask for, with each period in ms (0: the task is off). */
export interface SchedulePlan {
  readonly snapshotEveryMs: number
  readonly vacuumEveryMs: number
  readonly retainHours: number
}

/** The enabled tasks of a plan over one lake. */
export const scheduledTasks = (settings: SettingsShape, store: Store, plan: SchedulePlan): Array<ScheduledTask<unknown>> => {
  const tasks: Array<ScheduledTask<unknown>> = [
    { name: "snapshot", everyMs: plan.snapshotEveryMs, run: snapshotLake(settings, store).pipe(Effect.as("aggregate and sales tables up to date")) },
    {
      name: "vacuum",
      everyMs: plan.vacuumEveryMs,
      run: vacuumLake(store, { retainHours: plan.retainHours, dryRun: false }).pipe(Effect.map((reports) => formatVacuum(reports, false).split("\n").at(-1)!.replace(/^vacuum: /, "")))
    }
  ]
  return tasks.filter((t) => t.everyMs > 0)
}

export const scheduleCommand = <E, R>(settings: Effect.Effect<SettingsShape, E, R>) =>
  Command.make(
    "schedule",
    {
      snapshotEvery: minutes("snapshot-every", "the table snapshot", 10),
      vacuumEvery: minutes("vacuum-every", "vacuum", 24 * 60),
      retainHours: Flag.Finite("retain-hours").pipe(
        Flag.withDescription("Vacuum keeps files that left the table less than this many hours ago"),
        Flag.filter((h: number) => h >= 1, (h) => `must be >= 1 hour (a writer still committing could lose its files), got ${h}`),
        Flag.withDefault(168)
      ),
      once: Flag.Boolean("once").pipe(Flag.withDescription("Run each enabled task once, then exit (non-zero if one failed)"), Flag.withDefault(false))
    },
    Effect.fn(function*(f) {
      const s = yield* settings
      const plan: SchedulePlan = { snapshotEveryMs: f.snapshotEvery * MINUTE, vacuumEveryMs: f.vacuumEvery * MINUTE, retainHours: f.retainHours }
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* openLake(s, { writes: true })
        const tasks = scheduledTasks(s, store, plan)
        if (tasks.length === 0) return yield* Effect.fail(new Error("every task is off (each --…-every is 0): nothing to schedule"))
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
  ).pipe(Command.withDescription("Run the lake's maintenance every N minutes each (snapshot, vacuum), one run of a task at a time, a log line per run"))
