/**
 * Process signals for the CLI. The first SIGINT/SIGTERM asks a running service to stop gracefully
 * (drain and commit, then return normally); a second one, or one with no service running, interrupts.
 */
import { Deferred, Effect, Exit, Runtime, type Scope } from "effect"

const stopRequests = new Set<Deferred.Deferred<void>>()

/**
 * A deferred completed by the first SIGINT/SIGTERM while the scope is open: the service awaits it
 * instead of being interrupted.
 */
export const gracefulStop: Effect.Effect<Deferred.Deferred<void>, never, Scope.Scope> = Effect.acquireRelease(
  Effect.gen(function*() {
    const stop = yield* Deferred.make<void>()
    stopRequests.add(stop)
    return stop
  }),
  (stop) => Effect.sync(() => stopRequests.delete(stop))
)

/** Like `NodeRuntime.runMain`, with the graceful first signal described above. */
export const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  let signalled = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (!signalled && stopRequests.size > 0) {
      signalled = true
      process.stderr.write(`${signal}: draining (send it again to stop at once)\n`)
      for (const stop of stopRequests) Deferred.doneUnsafe(stop, Exit.void)
      return
    }
    signalled = true
    fiber.interruptUnsafe(fiber.id)
  }
  fiber.addObserver((exit) => {
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
    teardown(exit, (code) => process.exit(code))
  })
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
})
