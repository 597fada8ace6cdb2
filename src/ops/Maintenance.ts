/**
 * Lake maintenance commands: `sluice vacuum` over every Delta table of the lake (streams, tables,
 * dead letters), safe to run while the service writes.
 */
import { Clock, Effect } from "effect"
import type { LakeIOError, Store } from "../sinks/lake/store/Store.ts"
import { vacuumTable, type VacuumReport } from "../sinks/lake/Vacuum.ts"

/** The folders of a lake that hold Delta tables. */
const TABLE_KINDS = ["streams", "tables", "_deadletter"] as const

/** The key of every Delta table in the lake (a "folder" holding `_delta_log/`), e.g. `streams/transaction_stream`. */
export const lakeTables = (store: Store): Effect.Effect<Array<string>, LakeIOError> =>
  Effect.gen(function*() {
    const roots: Array<string> = []
    for (const kind of TABLE_KINDS) {
      for (const table of yield* store.listFolders(`${kind}/`)) {
        if ((yield* store.listFolders(table)).includes(`${table}_delta_log/`)) roots.push(table.slice(0, -1))
      }
    }
    return roots.sort()
  })

/** Vacuums every table of the lake. */
export const vacuumLake = (store: Store, options: { readonly retainHours: number; readonly dryRun: boolean }) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const retainMs = options.retainHours * 3_600_000
    return yield* Effect.forEach(yield* lakeTables(store), (root) => vacuumTable(store, root, { retainMs, now, dryRun: options.dryRun }))
  })

/** One line per table, and a total. */
export const formatVacuum = (reports: ReadonlyArray<VacuumReport>, dryRun: boolean): string => {
  const verb = dryRun ? "would delete" : "deleted"
  const lines = reports.map((r) => {
    const byReason = ["removed", "uncommitted", "temporary"].map((reason) => [reason, r.deleted.filter((f) => f.reason === reason).length] as const)
      .filter(([, n]) => n > 0).map(([reason, n]) => `${n} ${reason}`).join(", ")
    return `${r.table}: ${verb} ${r.deleted.length} files (${(r.bytes / 1024 / 1024).toFixed(1)} MiB)${byReason ? `: ${byReason}` : ""}`
  })
  const files = reports.reduce((n, r) => n + r.deleted.length, 0)
  const bytes = reports.reduce((n, r) => n + r.bytes, 0)
  return [...lines, `vacuum: ${verb} ${files} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB, in ${reports.length} tables`].join("\n")
}
