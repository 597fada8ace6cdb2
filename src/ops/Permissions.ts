/**
 * The lake's folder permissions in the warehouse's `data_lake_permissions`, through Kysely and the
 * `Warehouse` interface (MySQL/MariaDB or the embedded SQLite alike): grant, revoke, list, and a
 * user's grants for deciding (src/domain/Permission.ts decides).
 */
import { Effect } from "effect"
import { type Selectable, sql } from "kysely"
import type { Grant, PermissionLevel } from "../domain/Permission.ts"
import type { DataLakePermissions } from "../sinks/warehouse/Database.ts"
import { migrate, type MigrationReport } from "../sinks/warehouse/Migrator.ts"
import type { Warehouse, WarehouseError } from "../sinks/warehouse/Warehouse.ts"
import { toDateTime } from "../sinks/warehouse/WarehouseSink.ts"

/** The instant of a DATETIME(3) text, as `toDateTime` writes it and MySQL and SQLite give it back. */
export const fromDateTime = (text: string): number => Date.parse(`${text.replace(" ", "T")}Z`)

const grantOf = (row: Selectable<DataLakePermissions>): Grant => ({
  id: Number(row.id),
  email: row.user_email,
  folder: row.folder_path,
  permission: row.permission,
  grantedBy: row.granted_by,
  grantedAt: fromDateTime(row.granted_at),
  expiresAt: row.expires_at === null ? null : fromDateTime(row.expires_at),
  revokedAt: row.revoked_at === null ? null : fromDateTime(row.revoked_at)
})

const run = <A>(warehouse: Warehouse, op: string, f: () => Promise<A>): Effect.Effect<A, WarehouseError> =>
  Effect.tryPromise({ try: f, catch: (cause) => warehouse.toError(op, cause) })

/**
 * Makes sure `data_lake_permissions` exists: the warehouse's migrations create it, so this applies
 * any pending one (idempotent), then reads the table.
 */
export const ensurePermissionsTable = (warehouse: Warehouse): Effect.Effect<{ readonly migrations: MigrationReport; readonly grants: number }, WarehouseError> =>
  Effect.gen(function*() {
    const migrations = yield* migrate(warehouse)
    const count = yield* run(warehouse, "count data_lake_permissions", () =>
      warehouse.db.selectFrom("data_lake_permissions").select(sql<number | string>`COUNT(*)`.as("n")).executeTakeFirstOrThrow())
    return { migrations, grants: Number(count.n) }
  })

export interface GrantRequest {
  readonly email: string
  readonly folder: string
  readonly permission: PermissionLevel
  readonly grantedBy: string
  readonly expiresAt: number | null
}

/**
 * Grants a permission from `now`. A grant of the same permission on the same folder still in force
 * is revoked in the same transaction: the new one (its expiry, its grantor) replaces it, and the
 * table keeps the history.
 */
export const grantPermission = (
  warehouse: Warehouse,
  request: GrantRequest,
  now: number
): Effect.Effect<{ readonly grant: Grant; readonly replaced: ReadonlyArray<Grant> }, WarehouseError> =>
  run(warehouse, "grant", () =>
    warehouse.db.transaction().execute(async (trx) => {
      const at = toDateTime(now)
      const same = (await trx.selectFrom("data_lake_permissions").selectAll()
        .where("user_email", "=", request.email)
        .where("folder_path", "=", request.folder)
        .where("permission", "=", request.permission)
        .where("revoked_at", "is", null)
        .execute()).map(grantOf).filter((g) => g.expiresAt === null || now < g.expiresAt)
      if (same.length > 0) {
        await trx.updateTable("data_lake_permissions").set({ revoked_at: at }).where("id", "in", same.map((g) => g.id)).execute()
      }
      await trx.insertInto("data_lake_permissions").values({
        user_email: request.email,
        folder_path: request.folder,
        permission: request.permission,
        granted_by: request.grantedBy,
        granted_at: at,
        expires_at: request.expiresAt === null ? null : toDateTime(request.expiresAt),
        revoked_at: null
      }).execute()
      // The row just inserted: the highest id of this user's grants, read in the same transaction.
      const row = await trx.selectFrom("data_lake_permissions").selectAll()
        .where("user_email", "=", request.email)
        .orderBy("id", "desc")
        .limit(1)
        .executeTakeFirstOrThrow()
      return { grant: grantOf(row), replaced: same.map((g) => ({ ...g, revokedAt: fromDateTime(at) })) }
    }))

/** Revokes, at `now`, a user's grants in force on exactly `folder` (of one permission, or all); returns them. */
export const revokePermission = (
  warehouse: Warehouse,
  request: { readonly email: string; readonly folder: string; readonly permission: PermissionLevel | undefined },
  now: number
): Effect.Effect<ReadonlyArray<Grant>, WarehouseError> =>
  run(warehouse, "revoke", () =>
    warehouse.db.transaction().execute(async (trx) => {
      let query = trx.selectFrom("data_lake_permissions").selectAll()
        .where("user_email", "=", request.email)
        .where("folder_path", "=", request.folder)
        .where("revoked_at", "is", null)
      if (request.permission !== undefined) query = query.where("permission", "=", request.permission)
      const live = (await query.execute()).map(grantOf).filter((g) => g.expiresAt === null || now < g.expiresAt)
      if (live.length === 0) return []
      const at = toDateTime(now)
      await trx.updateTable("data_lake_permissions").set({ revoked_at: at }).where("id", "in", live.map((g) => g.id)).execute()
      return live.map((g) => ({ ...g, revokedAt: fromDateTime(at) }))
    }))

/** Grants, oldest first; with `email` or `folder`, only theirs (the folder exactly as granted). */
export const listGrants = (
  warehouse: Warehouse,
  filter: { readonly email?: string | undefined; readonly folder?: string | undefined }
): Effect.Effect<ReadonlyArray<Grant>, WarehouseError> =>
  run(warehouse, "list grants", async () => {
    let query = warehouse.db.selectFrom("data_lake_permissions").selectAll()
    if (filter.email !== undefined) query = query.where("user_email", "=", filter.email)
    if (filter.folder !== undefined) query = query.where("folder_path", "=", filter.folder)
    return (await query.orderBy("id").execute()).map(grantOf)
  })

/** A user's grants that are not revoked (expired ones included: deciding drops them at its own instant). */
export const grantsOf = (warehouse: Warehouse, email: string): Effect.Effect<ReadonlyArray<Grant>, WarehouseError> =>
  run(warehouse, `read the grants of ${email}`, async () =>
    (await warehouse.db.selectFrom("data_lake_permissions").selectAll()
      .where("user_email", "=", email)
      .where("revoked_at", "is", null)
      .orderBy("id")
      .execute()).map(grantOf))
