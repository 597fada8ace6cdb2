/**
 * Lake maintenance over the Delta tables of the lake (streams, tables, dead letters), each safe to
 * run while the service writes: `sluice vacuum`, `sluice compact` and `sluice retention`.
 */
import { Clock, Effect } from "effect"
import { Flag } from "effect/cli"
import { compactTable, type CompactionOptions, type CompactionReport } from "../sinks/lake/Compaction.ts"
import type { StreamRetentionReport, TableRetentionReport } from "../sinks/lake/Retention.ts"
import { baseName, type LakeIOError, type Store } from "../sinks/lake/store/Store.ts"
import { vacuumTable, type VacuumReport } from "../sinks/lake/Vacuum.ts"
import { formatCount, formatMiB } from "./TextTable.ts"

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

/** `--log-retention-hours H`, of `sluice vacuum` and `sluice schedule`: the log retention of every table, instead of each one's `delta.logRetentionDuration`. */
export const logRetentionHoursFlag = Flag.Finite("log-retention-hours").pipe(
  Flag.withDescription("Log commits and checkpoints older than this go once a later checkpoint makes them unneeded (default: each table's delta.logRetentionDuration, 30 days without it)"),
  Flag.filter((h: number) => h >= 0, (h) => `must be >= 0, got ${h}`),
  Flag.optional
)

/** Vacuums every table of the lake. */
export const vacuumLake = (
  store: Store,
  options: { readonly retainHours: number; readonly dryRun: boolean; readonly logRetentionHours?: number | undefined }
) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const retainMs = options.retainHours * 3_600_000
    const logRetentionMs = options.logRetentionHours === undefined ? undefined : options.logRetentionHours * 3_600_000
    return yield* Effect.forEach(yield* lakeTables(store), (root) => vacuumTable(store, root, { retainMs, now, dryRun: options.dryRun, logRetentionMs }))
  })

/** One line per table, and a total. */
export const formatVacuum = (reports: ReadonlyArray<VacuumReport>, dryRun: boolean): string => {
  const verb = dryRun ? "would delete" : "deleted"
  const lines = reports.map((r) => {
    const byReason = ["removed", "uncommitted", "temporary", "log"].map((reason) => [reason, r.deleted.filter((f) => f.reason === reason).length] as const)
      .filter(([, n]) => n > 0).map(([reason, n]) => (reason === "log" ? `${n} expired log files` : `${n} ${reason}`)).join(", ")
    return `${r.table}: ${verb} ${r.deleted.length} files (${(r.bytes / 1024 / 1024).toFixed(1)} MiB)${byReason ? `: ${byReason}` : ""}`
  })
  const files = reports.reduce((n, r) => n + r.deleted.length, 0)
  const bytes = reports.reduce((n, r) => n + r.bytes, 0)
  return [...lines, `vacuum: ${verb} ${files} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB, in ${reports.length} tables`].join("\n")
}

/** The tables `--feed` names (a feed's name, or its folder such as `_deadletter/<topic>`); every table without it. */
export const chooseTables = (tables: ReadonlyArray<string>, feed: string | undefined): Array<string> => {
  if (feed === undefined) return [...tables]
  const wanted = feed.replace(/^\/+|\/+$/g, "")
  return tables.filter((t) => t === wanted || baseName(t) === wanted)
}

/** Compacts every table of `roots`; `progress` hears partitions done of those planned so far. */
export const compactLake = (
  store: Store,
  roots: ReadonlyArray<string>,
  options: Omit<CompactionOptions, "onPartition">,
  progress?: (done: number, total: number) => void
) =>
  Effect.gen(function*() {
    let doneBefore = 0
    let totalBefore = 0
    const reports: Array<CompactionReport> = []
    for (const root of roots) {
      let planned = 0
      reports.push(yield* compactTable(store, root, { ...options, onPartition: (done, total) => {
        planned = total
        progress?.(doneBefore + done, totalBefore + total)
      } }))
      doneBefore += planned
      totalBefore += planned
    }
    return reports
  })

/** One line per table that has something to compact, and a total. */
export const formatCompaction = (reports: ReadonlyArray<CompactionReport>, dryRun: boolean, seconds: number): string => {
  const verb = dryRun ? "would rewrite" : "rewrote"
  const lines: Array<string> = []
  for (const r of reports) {
    const before = r.partitions.reduce((n, p) => n + p.filesBefore, 0)
    const after = r.partitions.reduce((n, p) => n + p.filesAfter, 0)
    const bytes = r.partitions.reduce((n, p) => n + p.bytesBefore, 0)
    const rows = r.partitions.reduce((n, p) => n + p.rows, 0)
    if (r.partitions.length > 0) {
      lines.push(`${r.table}: ${verb} ${formatCount(before)} files as ${formatCount(after)} in ${formatCount(r.partitions.length)} partitions (${formatMiB(bytes)}, ${formatCount(rows)} rows); ${formatCount(r.filesBefore)} live files before, ${formatCount(r.filesAfter)} after`)
    }
    for (const s of r.skipped) lines.push(`${r.table}/${s.partition}: skipped: ${s.reason}`)
  }
  const before = reports.reduce((n, r) => n + r.filesBefore, 0)
  const after = reports.reduce((n, r) => n + r.filesAfter, 0)
  const partitions = reports.reduce((n, r) => n + r.partitions.length, 0)
  lines.push(`compact: ${formatCount(before)} live files ${dryRun ? "would become" : "became"} ${formatCount(after)} in ${reports.length} tables (${formatCount(partitions)} partitions ${dryRun ? "to rewrite" : "rewritten"}) in ${seconds.toFixed(1)} s`)
  return lines.join("\n")
}

/** What a stream's retention removed (or would), partition by partition. */
export const formatStreamRetention = (r: StreamRetentionReport, dryRun: boolean): string => {
  const verb = dryRun ? "would remove" : "removed"
  const lines = r.partitions.map((p) => `${r.table}/${p.partition}: ${formatCount(p.files)} files, ${formatCount(p.rows)} rows, ${formatMiB(p.bytes)}`)
  lines.push(
    `retention: ${r.table}: ${verb} ${formatCount(r.partitions.length)} partitions dated before ${r.before} (${formatCount(r.files)} files, ${formatCount(r.rows)} rows, ${formatMiB(r.bytes)})` +
      (r.version === null ? "" : ` in version ${r.version}; sluice vacuum deletes the files after its retention`)
  )
  return lines.join("\n")
}

/** What a table's retention deleted (or would), file by file. */
export const formatTableRetention = (r: TableRetentionReport, dryRun: boolean): string => {
  const verb = dryRun ? "would delete" : "deleted"
  const kept = r.snapshot === null ? "no snapshot yet" : `keeping snapshots ${Math.max(1, r.snapshot - r.keepVersions + 1)}..${r.snapshot}`
  const lines = r.deleted.map((f) => `${r.table}/${f.path}: snapshot ${f.snapshot}, ${formatMiB(f.bytes)}`)
  lines.push(`retention: ${r.table}: ${kept}; ${verb} ${formatCount(r.deleted.length)} files of older snapshots (${formatMiB(r.bytes)})`)
  return lines.join("\n")
}
