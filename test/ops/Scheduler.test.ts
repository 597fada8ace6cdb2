import { Effect, Exit, Fiber, Logger } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { runOnce, runSchedule, type ScheduledTask, type TaskRun } from "../../src/ops/Scheduler.ts"

const MINUTE = 60_000

/** Runs the schedule for `forMs` of test time and returns the runs it logged, in order. */
const scheduleFor = (tasks: ReadonlyArray<ScheduledTask<unknown>>, forMs: number) =>
  Effect.gen(function*() {
    const runs: Array<TaskRun> = []
    const fiber = yield* Effect.forkChild(runSchedule(tasks, (run) => Effect.sync(() => runs.push(run))))
    yield* TestClock.adjust(forMs)
    const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
    return { runs, exit }
  }).pipe(Effect.provide(TestClock.layer()), Effect.provide(Logger.layer([])), Effect.runPromise)

describe("the maintenance scheduler", () => {
  it("runs each task at start, then every period of its own", async () => {
    const { runs } = await scheduleFor([
      { name: "snapshot", everyMs: 10 * MINUTE, run: Effect.succeed("1 table") },
      { name: "vacuum", everyMs: 60 * MINUTE, run: Effect.succeed("0 files") }
    ], 65 * MINUTE)
    expect(runs.filter((r) => r.task === "snapshot").map((r) => r.startedAt / MINUTE)).toEqual([0, 10, 20, 30, 40, 50, 60])
    expect(runs.filter((r) => r.task === "vacuum").map((r) => r.startedAt / MINUTE)).toEqual([0, 60])
    expect(runs.every((r) => r.ok)).toBe(true)
  })

  it("never starts a run of a task while its previous run goes on: a slow run delays the next", async () => {
    let running = 0
    let most = 0
    const slow: ScheduledTask = {
      name: "compact",
      everyMs: 10 * MINUTE,
      run: Effect.gen(function*() {
        running += 1
        most = Math.max(most, running)
        yield* Effect.sleep(15 * MINUTE)
        running -= 1
        return "done"
      })
    }
    const { runs } = await scheduleFor([slow], 50 * MINUTE)
    expect(most).toBe(1)
    expect(runs.map((r) => [r.startedAt / MINUTE, r.durationMs / MINUTE])).toEqual([[0, 15], [15, 15], [30, 15]])
  })

  it("logs a failed run with its reason and tries again the next period", async () => {
    let calls = 0
    const flaky: ScheduledTask<Error> = {
      name: "retention",
      everyMs: 5 * MINUTE,
      run: Effect.suspend(() => (++calls === 1 ? Effect.fail(new Error("lake unreachable\nsecond line")) : Effect.succeed("2 partitions removed")))
    }
    const { runs } = await scheduleFor([flaky], 6 * MINUTE)
    expect(runs.map((r) => [r.ok, r.summary])).toEqual([[false, "lake unreachable"], [true, "2 partitions removed"]])
  })

  it("stops on a defect, which a supervisor must see, instead of logging it away", async () => {
    const broken: ScheduledTask = { name: "vacuum", everyMs: MINUTE, run: Effect.die(new Error("bug")) }
    const exit = await runSchedule([broken]).pipe(Effect.exit, Effect.provide(Logger.layer([])), Effect.runPromise)
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("bug")
  })

  it("keeps secrets out of a failure's reason", async () => {
    const run = await runOnce({ name: "snapshot", everyMs: MINUTE, run: Effect.fail(new Error("cannot reach mysql://root:pw@db:3306/x")) }).pipe(
      Effect.provide(Logger.layer([])),
      Effect.runPromise
    )
    expect(run).toMatchObject({ ok: false, summary: "cannot reach mysql://root:***@db:3306/x" })
  })
})
