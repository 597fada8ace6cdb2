/**
 * Who reads the lake through `sluice query`, `dashboard` and `report`: the operator (every feed)
 * or the user named by `--as`, whose grants in the warehouse decide which feeds they see. The
 * grants are read again at each read, so that a grant revoked or expired meanwhile counts.
 */
import { Clock, Effect, Option, Result } from "effect"
import { Flag } from "effect/cli"
import { decide, normalizeEmail } from "../domain/Permission.ts"
import type { FeedAccess } from "./Figures.ts"
import { grantsOf } from "./Permissions.ts"
import type { QueryUser } from "./Query.ts"
import type { SettingsShape } from "./Settings.ts"
import { openWarehouse } from "./WarehouseChoice.ts"

export const asFlag = (what: string) =>
  Flag.String("as").pipe(Flag.withDescription(`${what} as this user: only the feeds their grants let them read (default: the operator, every feed)`), Flag.optional)

/** The user of `--as`, validated, or none (the operator). */
export const readerEmail = (as: Option.Option<string>): Effect.Effect<string | undefined, Error> => {
  if (Option.isNone(as)) return Effect.succeed(undefined)
  const email = normalizeEmail(as.value)
  return Result.isFailure(email) ? Effect.fail(new Error(`--as: ${email.failure}`)) : Effect.succeed(email.success)
}

/**
 * What `email` may read: an effect that reads their grants and decides at that instant (the
 * warehouse is opened once, in the caller's scope).
 */
export const readDecisions = (s: SettingsShape, email: string) =>
  Effect.map(openWarehouse(s), (warehouse) =>
    Effect.gen(function*() {
      const grants = yield* grantsOf(warehouse, email)
      const now = yield* Clock.currentTimeMillis
      const decisions: QueryUser = { email, mayRead: (folder) => decide(grants, folder, "read", now) }
      return decisions
    }))

/** The feeds a reader may read, decided at each call; every feed for the operator. */
export const feedAccess = (s: SettingsShape, as: Option.Option<string>) =>
  Effect.gen(function*() {
    const email = yield* readerEmail(as)
    if (email === undefined) return undefined
    const decisions = yield* readDecisions(s, email)
    return Effect.map(decisions, (d): FeedAccess => (feed) => d.mayRead(feed).allowed)
  })
