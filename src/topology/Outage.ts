/**
 * Waiting out a lost dependency (the broker, MySQL, the lake's disk): a transient failure is
 * retried with exponential back-off and a log line per attempt until a deadline, then fails.
 */
import { Cause, Clock, Effect, Exit, Option } from "effect"
import type { Observer } from "./Observer.ts"

/** How long the service waits for a lost dependency before it fails. */
export interface OutagePolicy {
  /** Total time an operation may keep failing transiently before its last error stops the service. */
  readonly deadlineMs: number
  readonly firstDelayMs: number
  readonly maxDelayMs: number
  /** Told of each retry and of the success that ends one (metrics, readiness). */
  readonly observer?: Pick<Observer, "retrying" | "restored"> | undefined
}

export const defaultOutagePolicy: OutagePolicy = { deadlineMs: 300_000, firstDelayMs: 250, maxDelayMs: 10_000 }

/**
 * Retries `effect` while its failure is transient, logging `<what>: <error>; retrying in N ms`
 * before each new attempt, for at most `policy.deadlineMs`; any other failure passes through at once.
 */
export const waitOut = <A, E extends { readonly message: string }, R>(
  what: string,
  effect: Effect.Effect<A, E, R>,
  isTransient: (e: E) => boolean,
  policy: OutagePolicy
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    let delay = policy.firstDelayMs
    for (let attempt = 1;; attempt++) {
      const exit = yield* Effect.exit(effect)
      if (Exit.isSuccess(exit)) {
        if (attempt > 1) yield* Effect.logInfo(`${what}: succeeded on attempt ${attempt}`)
        if (attempt > 1) policy.observer?.restored(what)
        return exit.value
      }
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isNone(error) || !isTransient(error.value)) return yield* Effect.failCause(exit.cause)
      const elapsed = (yield* Clock.currentTimeMillis) - started
      if (elapsed + delay > policy.deadlineMs) {
        yield* Effect.logError(`${what}: ${error.value.message}; giving up after ${attempt} attempts in ${Math.round(elapsed / 1000)} s`)
        return yield* Effect.failCause(exit.cause)
      }
      yield* Effect.logWarning(
        `${what}: ${error.value.message}; retrying in ${delay} ms (attempt ${attempt + 1}, ${Math.round(elapsed / 1000)} s of ${Math.round(policy.deadlineMs / 1000)} s)`
      )
      policy.observer?.retrying(what, error.value.message)
      yield* Effect.sleep(delay)
      delay = Math.min(delay * 2, policy.maxDelayMs)
    }
  })
