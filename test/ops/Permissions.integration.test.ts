/**
 * Folder permissions in both warehouses, MariaDB and the embedded SQLite, through the same code:
 * grants replace the one they renew, revocations keep the history, expiry counts from its instant,
 * and the CLI says who may do what, with exit codes a script can use. Each test has a database of
 * its own.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Redacted, type Scope } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { decide } from "../../src/domain/Permission.ts"
import { ensurePermissionsTable, grantPermission, grantsOf, listGrants, revokePermission } from "../../src/ops/Permissions.ts"
import { openMysqlWarehouse } from "../../src/sinks/warehouse/MysqlWarehouse.ts"
import { openSqliteWarehouse } from "../../src/sinks/warehouse/SqliteWarehouse.ts"
import type { Warehouse, WarehouseError } from "../../src/sinks/warehouse/Warehouse.ts"
import { dropDatabase, runSluice } from "../support/Sluice.ts"

const mysqlUrl = inject("mysqlUrl")
const databases: Array<string> = []
const folders: Array<string> = []
afterAll(async () => {
  await Promise.all(databases.map(dropDatabase))
  for (const f of folders) rmSync(f, { recursive: true, force: true })
})

interface Backend {
  readonly name: string
  /** A fresh, empty warehouse: how to open it, and the environment of a `sluice` run against it. */
  readonly fresh: () => { readonly open: Effect.Effect<Warehouse, WarehouseError, Scope.Scope>; readonly env: Record<string, string> }
}

let counter = 0
const backends: ReadonlyArray<Backend> = [
  {
    name: "MariaDB",
    fresh: () => {
      expect(mysqlUrl, "the integration tests need a MySQL/MariaDB").not.toBeNull()
      const url = new URL(mysqlUrl!)
      url.pathname = `/sluice_test_perm_${Date.now().toString(36)}_${counter++}`
      databases.push(url.toString())
      return { open: openMysqlWarehouse(Redacted.make(url.toString())), env: { MYSQL_URL: url.toString(), SLUICE_WAREHOUSE: "mysql" } }
    }
  },
  {
    name: "the embedded SQLite",
    fresh: () => {
      const dir = mkdtempSync(path.join(tmpdir(), "sluice-perm-"))
      folders.push(dir)
      const file = path.join(dir, "warehouse.sqlite")
      return { open: openSqliteWarehouse(file), env: { SLUICE_WAREHOUSE: "embedded", SLUICE_WAREHOUSE_FILE: file, SLUICE_LAKE_DIR: path.join(dir, "lake") } }
    }
  }
]

const NOW = Date.UTC(2026, 11, 1, 12)
const DAY = 86_400_000

const withWarehouse = <A>(open: Effect.Effect<Warehouse, WarehouseError, Scope.Scope>, use: (w: Warehouse) => Effect.Effect<A, WarehouseError>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(open, use)))

describe.each(backends)("permissions in $name", ({ fresh }) => {
  it("creates the table once, then grants, renews, expires and revokes, keeping every row", async () => {
    const { open } = fresh()
    await withWarehouse(open, (w) =>
      Effect.gen(function*() {
        const created = yield* ensurePermissionsTable(w)
        expect(created.grants).toBe(0)
        expect(created.migrations.applied.length).toBeGreaterThan(0)
        expect((yield* ensurePermissionsTable(w)).migrations.applied).toEqual([])

        const first = yield* grantPermission(w, { email: "alice@example.com", folder: "streams", permission: "read", grantedBy: "admin@example.com", expiresAt: NOW + DAY }, NOW)
        expect(first.replaced).toEqual([])
        expect(first.grant).toEqual({
          id: first.grant.id,
          email: "alice@example.com",
          folder: "streams",
          permission: "read",
          grantedBy: "admin@example.com",
          grantedAt: NOW,
          expiresAt: NOW + DAY,
          revokedAt: null
        })
        // Renewed before it expires: the new grant replaces the old one, which is kept revoked.
        const renewed = yield* grantPermission(w, { email: "alice@example.com", folder: "streams", permission: "read", grantedBy: "boss@example.com", expiresAt: NOW + 2 * DAY }, NOW + 1000)
        expect(renewed.replaced).toEqual([{ ...first.grant, revokedAt: NOW + 1000 }])
        expect(renewed.grant.id).toBeGreaterThan(first.grant.id)
        const admin = yield* grantPermission(w, { email: "alice@example.com", folder: "tables/payment_method_totals", permission: "admin", grantedBy: "boss@example.com", expiresAt: null }, NOW + 2000)
        const bob = yield* grantPermission(w, { email: "bob@example.com", folder: "/", permission: "write", grantedBy: "boss@example.com", expiresAt: NOW + DAY }, NOW + 3000)

        const alice = yield* grantsOf(w, "alice@example.com")
        expect(alice.map((g) => g.id)).toEqual([renewed.grant.id, admin.grant.id])
        expect(decide(alice, "streams/transaction_stream", "read", NOW + DAY + 1).allowed).toBe(true)
        expect(decide(alice, "streams/transaction_stream", "read", NOW + 2 * DAY).allowed).toBe(false)
        expect(decide(alice, "tables/payment_method_totals", "write", NOW + 10 * DAY).allowed).toBe(true)
        expect(decide(yield* grantsOf(w, "bob@example.com"), "tables/payment_method_totals", "read", NOW + DAY).allowed).toBe(false)

        const revoked = yield* revokePermission(w, { email: "alice@example.com", folder: "streams", permission: undefined }, NOW + 5000)
        expect(revoked).toEqual([{ ...renewed.grant, revokedAt: NOW + 5000 }])
        expect(yield* revokePermission(w, { email: "alice@example.com", folder: "streams", permission: undefined }, NOW + 6000)).toEqual([])
        // An expired grant is not revoked: it already counts as none.
        expect(yield* revokePermission(w, { email: "bob@example.com", folder: "/", permission: "write" }, NOW + 2 * DAY)).toEqual([])

        const all = yield* listGrants(w, {})
        expect(all.map((g) => [g.id, g.email, g.folder, g.permission, g.revokedAt])).toEqual([
          [first.grant.id, "alice@example.com", "streams", "read", NOW + 1000],
          [renewed.grant.id, "alice@example.com", "streams", "read", NOW + 5000],
          [admin.grant.id, "alice@example.com", "tables/payment_method_totals", "admin", null],
          [bob.grant.id, "bob@example.com", "/", "write", null]
        ])
        expect((yield* listGrants(w, { folder: "/" })).map((g) => g.id)).toEqual([bob.grant.id])
        expect((yield* listGrants(w, { email: "bob@example.com" })).map((g) => g.id)).toEqual([bob.grant.id])
      }))
  })

  it("keeps hostile text as data", async () => {
    const { open } = fresh()
    await withWarehouse(open, (w) =>
      Effect.gen(function*() {
        yield* ensurePermissionsTable(w)
        const hostile = "x'); DROP TABLE data_lake_permissions; --@example.com"
        yield* grantPermission(w, { email: hostile, folder: "streams/'quoted'", permission: "read", grantedBy: "é 😀", expiresAt: null }, NOW)
        const [g] = yield* grantsOf(w, hostile)
        expect([g?.email, g?.folder, g?.grantedBy]).toEqual([hostile, "streams/'quoted'", "é 😀"])
      }))
  })

  it("answers on the command line: reasons on one line, exit 1 when denied or not allowed to grant", async () => {
    const { env } = fresh()
    const sluice = (...args: Array<string>) => runSluice(["permissions", ...args], env)

    const early = await sluice("list")
    expect(early.code).toBe(1)
    expect(early.output).toMatch(/^sluice: warehouse list grants: .*data_lake_permissions.*: create it with sluice permissions create-table \(or sluice migrate\)\n$/m)

    const created = await sluice("create-table")
    expect(created.code, created.output).toBe(0)
    expect(created.output).toMatch(/data_lake_permissions is there \(0 grants\); applied 0001_star_schema\.sql/)

    const granted = await sluice("grant", "--email", "Alice@Example.com", "--folder", "/streams/", "--permission", "read", "--granted-by", "admin@example.com", "--expires", "2999-01-31")
    expect(granted.code, granted.output).toBe(0)
    expect(granted.output).toMatch(/^granted read on streams for alice@example\.com \(grant #1 by admin@example\.com, until 2999-02-01T00:00:00\.000Z\)$/m)
    expect((await sluice("grant", "--email", "bob@example.com", "--folder", "/", "--permission", "admin", "--granted-by", "admin@example.com")).code).toBe(0)

    const allowed = await sluice("check", "--email", "alice@example.com", "--folder", "streams/transaction_stream")
    expect(allowed.code, allowed.output).toBe(0)
    expect(allowed.output).toMatch(/^allowed: alice@example\.com may read streams\/transaction_stream through read on streams/m)
    const denied = await sluice("check", "--email", "alice@example.com", "--folder", "streams/transaction_stream", "--permission", "write")
    expect(denied.code).toBe(1)
    expect(denied.output).toMatch(/^denied: alice@example\.com may not write streams\/transaction_stream: the strongest grant in force covering it is read on streams/m)
    expect(JSON.parse((await sluice("check", "--email", "carol@example.com", "--folder", "tables", "--json")).output.split("\nsluice:")[0]!)).toEqual({
      allowed: false,
      email: "carol@example.com",
      folder: "tables",
      permission: "read",
      through: null
    })

    const notAdmin = await sluice("grant", "--email", "carol@example.com", "--folder", "streams/x", "--permission", "read", "--as", "alice@example.com")
    expect(notAdmin.code).toBe(1)
    expect(notAdmin.output).toContain("sluice: permission denied: alice@example.com needs admin on streams/x to change its grants (holds read through grant #1 on streams)")
    const byAdmin = await sluice("grant", "--email", "carol@example.com", "--folder", "streams/x", "--permission", "read", "--as", "bob@example.com")
    expect(byAdmin.code, byAdmin.output).toBe(0)
    expect(byAdmin.output).toContain("granted read on streams/x for carol@example.com (grant #3 by bob@example.com, no expiry)")

    const listed = JSON.parse((await sluice("list", "--json")).output) as Array<{ id: number; email: string; folder: string; state: string }>
    expect(listed.map((g) => [g.id, g.email, g.folder, g.state])).toEqual([
      [1, "alice@example.com", "streams", "in force"],
      [2, "bob@example.com", "/", "in force"],
      [3, "carol@example.com", "streams/x", "in force"]
    ])
    const revoked = await sluice("revoke", "--email", "carol@example.com", "--folder", "streams/x")
    expect(revoked.output).toMatch(/^revoked read on streams\/x for carol@example\.com \(grant #3/m)
    expect((JSON.parse((await sluice("list", "--all", "--json")).output) as Array<{ state: string }>).map((g) => g.state)).toEqual(["in force", "in force", "revoked"])

    for (const [args, reason] of [
      [["grant", "--email", "nobody", "--folder", "streams", "--permission", "read"], "sluice: --email: \"nobody\" is not an email address"],
      [["grant", "--email", "a@b", "--folder", "streams/../tables", "--permission", "read"], "sluice: --folder: \"streams/../tables\" is not a lake folder"],
      [["grant", "--email", "a@b", "--folder", "streams", "--permission", "read", "--expires", "2001-01-01"], "sluice: --expires: \"2001-01-01\" is already past"],
      [["grant", "--email", "a@b", "--folder", "streams", "--permission", "owner"], "sluice permissions grant: Invalid value for flag --permission"]
    ] as const) {
      const bad = await sluice(...args)
      expect(bad.code).toBe(1)
      expect(bad.output.trim().split("\n")).toHaveLength(1)
      expect(bad.output).toContain(reason)
    }
  })
})
