/**
 * The maintenance scheduler behind `sluice schedule`: runs each lake task (snapshot, compaction,
 * retention, vacuum) every period of its own, as the seeds' orchestrator did, with a log line per
 * run. Each task has its own fiber, so a run never overlaps the previous run of the same task; the
 * tasks themselves may run at once, which their commit protocols allow (each is safe beside the
 * service's own writes).
 */
import { Cause, Clock, Duration, Effect, Exit } from "effect"
import { redactSecrets } from "../sinks/warehouse/ConnectionUrl.ts"

/**
 * One task: what it does, how often, and a one-line summary of what a run did.
 *
 * @category models
 */
export interface ScheduledTask<E = unknown, R = never> {
  readonly name: string
  /** Time from the start of one run to the start of the next; a run that takes longer delays the next, never doubles it. */
  readonly everyMs: number
  readonly run: Effect.Effect<string, E, R>
}

/**
 * How a run ended, as logged.
 *
 * @category models
 */
export interface TaskRun {
  readonly task: string
  readonly ok: boolean
  readonly summary: string
  readonly startedAt: number
  readonly durationMs: number
}

/**
 * Runs a task once and logs a line: its summary, or the reason it failed. A failure is returned,
 * not raised, so that the next period retries it; a defect (or an interruption) is raised, since a
 * bug fails the service for its supervisor to restart.
 *
 * @category running
 */
export const runOnce = <E, R>(task: ScheduledTask<E, R>): Effect.Effect<TaskRun, never, R> =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const exit = yield* Effect.exit(task.run)
    const durationMs = (yield* Clock.currentTimeMillis) - startedAt
    const took = Duration.format(Duration.millis(durationMs))
    if (Exit.isSuccess(exit)) {
      yield* Effect.logInfo(`${task.name}: ${exit.value} (${took})`)
      return { task: task.name, ok: true, summary: exit.value, startedAt, durationMs }
    }
    if (Cause.hasDies(exit.cause) || !Cause.hasFails(exit.cause)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
    const error = Cause.squash(exit.cause)
    const reason = redactSecrets((error instanceof Error ? error.message : String(error)).split("\n")[0]!)
    yield* Effect.logError(`${task.name} failed after ${took}: ${reason}; retried in ${Duration.format(Duration.millis(task.everyMs))}`)
    return { task: task.name, ok: false, summary: reason, startedAt, durationMs }
  }).pipe(Effect.annotateLogs({ task: task.name }))

/**
 * Runs every task at once, then each again every `everyMs` from the start of its previous run,
 * forever. `onRun` sees each run as it ends.
 *
 * @category running
 */
export const runSchedule = <R>(
  tasks: ReadonlyArray<ScheduledTask<unknown, R>>,
  onRun: (run: TaskRun) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<never, never, R> =>
  Effect.forEach(
    tasks,
    (task) =>
      Effect.forever(Effect.gen(function*() {
        const run = yield* runOnce(task)
        yield* onRun(run)
        const elapsed = (yield* Clock.currentTimeMillis) - run.startedAt
        yield* Effect.sleep(Duration.millis(Math.max(0, task.everyMs - elapsed)))
      })),
    { concurrency: "unbounded", discard: true }
  ).pipe(Effect.andThen(Effect.never))
