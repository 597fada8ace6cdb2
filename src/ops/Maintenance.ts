/**
 * Lake maintenance commands: `sluice vacuum` over every Delta table of the lake (streams, tables,
 * dead letters), safe to run while the service writes.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Clock, Effect } from "effect"
import { LakeIOError } from "../sinks/lake/LocalStore.ts"
import { vacuumTable, type VacuumReport } from "../sinks/lake/Vacuum.ts"

/** The folders of a lake that hold Delta tables. */
const TABLE_KINDS = ["streams", "tables", "_deadletter"] as const

/** The root of every Delta table in the lake (a folder holding `_delta_log`). */
export const lakeTables = (lakeDir: string): Effect.Effect<Array<string>, LakeIOError> =>
  Effect.tryPromise({
    try: async () => {
      const roots: Array<string> = []
      for (const kind of TABLE_KINDS) {
        const dir = path.join(lakeDir, kind)
        const entries = await fs.readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? [] : Promise.reject(e)))
        for (const e of entries) {
          if (!e.isDirectory()) continue
          const root = path.join(dir, e.name)
          if (await fs.stat(path.join(root, "_delta_log")).then(() => true, () => false)) roots.push(root)
        }
      }
      return roots.sort()
    },
    catch: (cause) => new LakeIOError({ op: "list tables", path: lakeDir, cause })
  })

/** Vacuums every table of the lake. */
export const vacuumLake = (lakeDir: string, options: { readonly retainHours: number; readonly dryRun: boolean }) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const retainMs = options.retainHours * 3_600_000
    return yield* Effect.forEach(yield* lakeTables(lakeDir), (root) => vacuumTable(root, { retainMs, now, dryRun: options.dryRun }))
  })

/** One line per table, and a total. */
export const formatVacuum = (lakeDir: string, reports: ReadonlyArray<VacuumReport>, dryRun: boolean): string => {
  const verb = dryRun ? "would delete" : "deleted"
  const lines = reports.map((r) => {
    const byReason = ["removed", "uncommitted", "temporary"].map((reason) => [reason, r.deleted.filter((f) => f.reason === reason).length] as const)
      .filter(([, n]) => n > 0).map(([reason, n]) => `${n} ${reason}`).join(", ")
    return `${path.relative(lakeDir, r.table)}: ${verb} ${r.deleted.length} files (${(r.bytes / 1024 / 1024).toFixed(1)} MiB)${byReason ? `: ${byReason}` : ""}`
  })
  const files = reports.reduce((n, r) => n + r.deleted.length, 0)
  const bytes = reports.reduce((n, r) => n + r.bytes, 0)
  return [...lines, `vacuum: ${verb} ${files} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB, in ${reports.length} tables`].join("\n")
}
