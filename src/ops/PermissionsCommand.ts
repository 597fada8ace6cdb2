/**
 * `sluice permissions create-table|grant|revoke|list|check`: who may read, write or administer which
 * lake folder, kept in the warehouse's `data_lake_permissions`. Without `--as`, a command runs as the
 * operator (as the seeds' scripts ran, as an admin); with `--as EMAIL`, granting and revoking need
 * admin on the folder.
 */
import * as os from "node:os"
import { Clock, Console, Effect, Option, Result } from "effect"
import { Command, Flag } from "effect/cli"
import { decide, type Grant, grantState, normalizeEmail, normalizeFolder, parseExpiry, type PermissionLevel, PermissionLevels } from "../domain/Permission.ts"
import type { Warehouse, WarehouseError } from "../sinks/warehouse/Warehouse.ts"
import { ensurePermissionsTable, grantPermission, grantsOf, listGrants, revokePermission } from "./Permissions.ts"
import type { SettingsShape } from "./Settings.ts"
import { formatTable } from "./TextTable.ts"
import { openWarehouse } from "./WarehouseChoice.ts"

const checked = <A>(flag: string, r: Result.Result<A, string>) =>
  Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(new Error(`--${flag}: ${r.failure}`))

/** A missing table is answered with its fix, any other warehouse error as it is. */
const withFix = (e: WarehouseError): Error =>
  /data_lake_permissions' doesn't exist|no such table: data_lake_permissions/i.test(e.message)
    ? new Error(`${e.message}: create it with sluice permissions create-table (or sluice migrate)`)
    : e

const until = (at: number | null) => (at === null ? "no expiry" : `until ${new Date(at).toISOString()}`)

/** One line on a grant: `read on streams for alice@example.com (grant #3 by admin@…, until …)`. */
export const describeGrant = (g: Grant): string =>
  `${g.permission} on ${g.folder} for ${g.email} (grant #${g.id} by ${g.grantedBy}, ${until(g.expiresAt)})`

const grantJson = (g: Grant, now: number) => ({
  id: g.id,
  email: g.email,
  folder: g.folder,
  permission: g.permission,
  grantedBy: g.grantedBy,
  grantedAt: new Date(g.grantedAt).toISOString(),
  expiresAt: g.expiresAt === null ? null : new Date(g.expiresAt).toISOString(),
  revokedAt: g.revokedAt === null ? null : new Date(g.revokedAt).toISOString(),
  state: grantState(g, now)
})

const json = Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON"), Flag.withDefault(false))
const email = Flag.String("email").pipe(Flag.withDescription("The user's email (case does not matter)"))
const folder = Flag.String("folder").pipe(Flag.withDescription("A lake folder: streams/transaction_stream, streams (and what is under it), or / (the whole lake)"))
const permission = Flag.Literals("permission", PermissionLevels)
const as = Flag.String("as").pipe(
  Flag.withDescription("Act as this user, who needs admin on the folder (default: the operator, unrestricted)"),
  Flag.optional
)

export const permissionsCommand = <E, R>(settings: Effect.Effect<SettingsShape, E, R>) => {
  /** Runs `use` on the warehouse of the settings. */
  const withWarehouse = <A, E2>(use: (w: Warehouse) => Effect.Effect<A, E2>) =>
    Effect.scoped(Effect.flatMap(settings, (s) => Effect.flatMap(openWarehouse(s), use)))

  /** With `--as`, the acting user must hold admin on the folder. */
  const mayAdminister = (w: Warehouse, actor: Option.Option<string>, target: string, now: number) =>
    Effect.gen(function*() {
      if (Option.isNone(actor)) return undefined
      const who = yield* checked("as", normalizeEmail(actor.value))
      const decision = decide(yield* grantsOf(w, who).pipe(Effect.mapError(withFix)), target, "admin", now)
      if (!decision.allowed) {
        return yield* Effect.fail(new Error(`permission denied: ${who} needs admin on ${target} to change its grants${decision.through === undefined ? "" : ` (holds ${decision.through.permission} through grant #${decision.through.id} on ${decision.through.folder})`}`))
      }
      return who
    })

  const createTable = Command.make("create-table", {}, () =>
    withWarehouse((w) =>
      Effect.gen(function*() {
        const { migrations, grants } = yield* ensurePermissionsTable(w)
        yield* Console.log(`warehouse: ${w.description}`)
        yield* Console.log(
          `data_lake_permissions is there (${grants} grants)${migrations.applied.length === 0 ? "" : `; applied ${migrations.applied.map((m) => m.file).join(", ")}`}`
        )
      }))).pipe(Command.withDescription("Create the data_lake_permissions table (by applying the warehouse's migrations; safe to run twice)"))

  const grant = Command.make(
    "grant",
    {
      email,
      folder,
      permission: permission.pipe(Flag.withDescription("read, write (implies read) or admin (implies write)")),
      grantedBy: Flag.String("granted-by").pipe(Flag.withDescription("Who grants it (default: the --as user, else the operator's login)"), Flag.optional),
      expires: Flag.String("expires").pipe(
        Flag.withDescription("When it stops counting: an ISO-8601 date-time with an offset, a date (through that day, UTC) or a duration (90d, 12h, 30m); default never"),
        Flag.optional
      ),
      as
    },
    (f) =>
      withWarehouse((w) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const user = yield* checked("email", normalizeEmail(f.email))
          const target = yield* checked("folder", normalizeFolder(f.folder))
          const expiresAt = Option.isNone(f.expires) ? null : yield* checked("expires", parseExpiry(f.expires.value, now))
          const actor = yield* mayAdminister(w, f.as, target, now)
          const grantedBy = Option.isSome(f.grantedBy) ? f.grantedBy.value.trim() : actor ?? os.userInfo().username
          if (grantedBy === "" || grantedBy.length > 255) return yield* Effect.fail(new Error("--granted-by: 1 to 255 characters"))
          const { grant, replaced } = yield* grantPermission(w, { email: user, folder: target, permission: f.permission, grantedBy, expiresAt }, now).pipe(Effect.mapError(withFix))
          yield* Console.log(`granted ${describeGrant(grant)}${replaced.length === 0 ? "" : `; it replaces grant ${replaced.map((g) => `#${g.id}`).join(", ")}`}`)
        }))
  ).pipe(Command.withDescription("Grant a user read, write or admin on a lake folder and what is under it"))

  const revoke = Command.make(
    "revoke",
    {
      email,
      folder: folder.pipe(Flag.withDescription("The folder exactly as granted (a grant on a folder above it is another grant)")),
      permission: permission.pipe(Flag.withDescription("Only this permission (default: all of the user's on the folder)"), Flag.optional),
      as
    },
    (f) =>
      withWarehouse((w) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const user = yield* checked("email", normalizeEmail(f.email))
          const target = yield* checked("folder", normalizeFolder(f.folder))
          yield* mayAdminister(w, f.as, target, now)
          const revoked = yield* revokePermission(w, { email: user, folder: target, permission: Option.getOrUndefined(f.permission) }, now).pipe(Effect.mapError(withFix))
          if (revoked.length === 0) {
            yield* Console.log(`nothing to revoke: ${user} holds no grant in force ${Option.isSome(f.permission) ? `of ${f.permission.value} ` : ""}on ${target}`)
          }
          for (const g of revoked) yield* Console.log(`revoked ${describeGrant(g)}`)
        }))
  ).pipe(Command.withDescription("Revoke a user's grants on a folder (the rows stay, marked revoked)"))

  const list = Command.make(
    "list",
    {
      email: email.pipe(Flag.withDescription("Only this user's grants"), Flag.optional),
      folder: folder.pipe(Flag.withDescription("Only the grants on this folder, exactly"), Flag.optional),
      all: Flag.Boolean("all").pipe(Flag.withDescription("Also expired and revoked grants"), Flag.withDefault(false)),
      json
    },
    (f) =>
      withWarehouse((w) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const user = Option.isSome(f.email) ? yield* checked("email", normalizeEmail(f.email.value)) : undefined
          const target = Option.isSome(f.folder) ? yield* checked("folder", normalizeFolder(f.folder.value)) : undefined
          const grants = (yield* listGrants(w, { email: user, folder: target }).pipe(Effect.mapError(withFix))).filter((g) => f.all || grantState(g, now) === "in force")
          if (f.json) return yield* Console.log(JSON.stringify(grants.map((g) => grantJson(g, now)), null, 2))
          if (grants.length === 0) return yield* Console.log(`no grant${f.all ? "" : " in force"}${user === undefined ? "" : ` for ${user}`}${target === undefined ? "" : ` on ${target}`}`)
          yield* Console.log(formatTable(
            ["id", "email", "folder", "permission", "granted by", "granted at", "expires", "state"],
            grants.map((g) => {
              const j = grantJson(g, now)
              return [String(g.id), g.email, g.folder, g.permission, g.grantedBy, j.grantedAt, j.expiresAt ?? "never", j.state]
            })
          ))
        }))
  ).pipe(Command.withDescription("List the grants in force (with --all, expired and revoked ones too)"))

  const check = Command.make(
    "check",
    {
      email,
      folder,
      permission: permission.pipe(Flag.withDescription("The permission needed"), Flag.withDefault("read" as PermissionLevel)),
      json
    },
    (f) =>
      withWarehouse((w) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const user = yield* checked("email", normalizeEmail(f.email))
          const target = yield* checked("folder", normalizeFolder(f.folder))
          const decision = decide(yield* grantsOf(w, user).pipe(Effect.mapError(withFix)), target, f.permission, now)
          if (f.json) {
            yield* Console.log(JSON.stringify({ allowed: decision.allowed, email: user, folder: target, permission: f.permission, through: decision.through === undefined ? null : grantJson(decision.through, now) }, null, 2))
          } else if (decision.allowed) {
            yield* Console.log(`allowed: ${user} may ${f.permission} ${target} through ${describeGrant(decision.through!)}`)
          } else {
            yield* Console.log(
              `denied: ${user} may not ${f.permission} ${target}: ${decision.through === undefined ? "no grant in force covers it" : `the strongest grant in force covering it is ${describeGrant(decision.through)}`}`
            )
          }
          if (!decision.allowed) return yield* Effect.fail(new Error(`permission denied: ${user} may not ${f.permission} ${target}`))
        }))
  ).pipe(Command.withDescription("Say whether a user may read (or write, or administer) a folder, and through which grant; exit 1 when not"))

  return Command.make("permissions").pipe(
    Command.withSubcommands([createTable, grant, revoke, list, check]),
    Command.withDescription("Folder permissions of the lake, kept in the warehouse's data_lake_permissions")
  )
}
