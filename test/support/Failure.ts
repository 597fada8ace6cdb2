/**
 * The typed error an effect failed with, so that tests assert its tag and fields. A success, a
 * defect or an interruption is not the failure a test expects: it throws, saying what happened.
 */
import { Cause, Exit, Option } from "effect"

export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (!Exit.isFailure(exit)) throw new Error(`expected a failure, but it succeeded with ${String(exit.value)}`)
  const error = Exit.findErrorOption(exit)
  if (Option.isNone(error)) throw new Error(`expected a typed failure, but got:\n${Cause.pretty(exit.cause)}`)
  return error.value
}
