/**
 * Compaction, as Delta's OPTIMIZE does it: the small files of each partition folder are rewritten
 * into few large ones, and ONE commit per partition removes the small files and adds the large ones
 * with `dataChange=false`, so a reader sees the old files or the new ones, never a gap or a double.
 * It runs while the service writes: an append that takes the version first is read and the commit
 * lands after it; a file removed meanwhile (another compaction, a retention) makes the commit fail
 * with `FileGone`, and the partition is planned again. The removed files stay until vacuum.
 */
import { randomBytes } from "node:crypto"
import { Clock, Effect, Option } from "effect"
import type { Table } from "apache-arrow"
import type { Add, Remove } from "./DeltaAction.ts"
import { DeltaLogError, type DeltaSnapshot, type Fenced, FileGone, openDeltaTable, recordsOf, stillLive } from "./DeltaLog.ts"
import { writeTableMetadata } from "./Metadata.ts"
import { type Compression, decodeParquet, encodeParquet } from "./ParquetFile.ts"
import { SNAPSHOTS_APP_ID } from "./Snapshot.ts"
import { joinKey, type LakeIOError, parentKey, type Store } from "./store/Store.ts"

export interface CompactionOptions {
  /** Files at or above this size are left as they are; the small ones are packed into files up to it. */
  readonly targetBytes: number
  readonly compression: Compression
  /** The service's: a commit landing on a multiple of it writes the checkpoint. */
  readonly checkpointInterval: number
  readonly dryRun: boolean
  /** Attempts per partition when files it rewrites are removed meanwhile. */
  readonly attempts?: number
  /** After each partition: how many are done of how many this table has to do. */
  readonly onPartition?: (done: number, total: number) => void
}

export interface PartitionCompaction {
  /** The partition folder, relative to the table (`year=2026/month=11/day=05`). */
  readonly partition: string
  readonly filesBefore: number
  /** Files written in their place (planned ones, in a dry run). */
  readonly filesAfter: number
  readonly rows: number
  readonly bytesBefore: number
  /** In a dry run, the bytes rewritten (the new files' sizes are not known). */
  readonly bytesAfter: number
  /** The table version of the commit; null in a dry run. */
  readonly version: number | null
}

export interface CompactionReport {
  /** The table's key in the lake (`streams/transaction_stream`). */
  readonly table: string
  readonly location: string
  readonly partitions: ReadonlyArray<PartitionCompaction>
  /** Partitions left as they were, and why (their files kept being removed by another writer). */
  readonly skipped: ReadonlyArray<{ readonly partition: string; readonly reason: string }>
  /** Live files of the table before and after (planned, in a dry run). */
  readonly filesBefore: number
  readonly filesAfter: number
}

const DEFAULT_ATTEMPTS = 3

/** How many of a bin's files are read from the store at once. */
const PARALLEL_READS = 8

/** Files that may be merged into one: same folder, partition values and tags (a topic incarnation). */
const groupKey = (add: Add): string => JSON.stringify([parentKey(add.path), add.partitionValues, add.tags ?? {}])

/**
 * Per partition folder, the bins of small files to merge: files sorted by path (so a partition's
 * offsets stay together), packed in order up to the target size; a bin of one file is left alone.
 */
export const planCompaction = (files: Iterable<Add>, targetBytes: number): Map<string, Array<Array<Add>>> => {
  const groups = new Map<string, Array<Add>>()
  for (const add of files) {
    if (add.size >= targetBytes) continue
    const key = groupKey(add)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [add])
    else group.push(add)
  }
  const byFolder = new Map<string, Array<Array<Add>>>()
  for (const group of groups.values()) {
    group.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    const bins: Array<Array<Add>> = []
    let bin: Array<Add> = []
    let bytes = 0
    for (const add of group) {
      if (bin.length > 0 && bytes + add.size > targetBytes) {
        bins.push(bin)
        bin = []
        bytes = 0
      }
      bin.push(add)
      bytes += add.size
    }
    bins.push(bin)
    const merged = bins.filter((b) => b.length > 1)
    if (merged.length === 0) continue
    const folder = parentKey(group[0]!.path)
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), ...merged])
  }
  return new Map([...byFolder].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

interface Stats {
  readonly numRecords?: number
  readonly minValues?: Record<string, unknown>
  readonly maxValues?: Record<string, unknown>
  readonly nullCount?: Record<string, unknown>
}

const lower = (a: unknown, b: unknown): boolean => (typeof a === typeof b && (typeof a === "number" || typeof a === "string") ? (a as number) < (b as number) : false)

/**
 * The statistics of a file holding the rows of `adds`: counts added up, min of the minima and max
 * of the maxima (numbers, and ISO-8601 timestamps, which sort as text), for the columns every file
 * has a bound of, so that no reader skips the merged file wrongly.
 */
export const mergeStats = (adds: ReadonlyArray<Add>, numRecords: number): string => {
  const all = adds.map((a) => (a.stats ? (JSON.parse(a.stats) as Stats) : {}))
  const bound = (pick: (s: Stats) => Record<string, unknown> | undefined, better: (a: unknown, b: unknown) => boolean) => {
    const out: Record<string, unknown> = {}
    for (const column of Object.keys(pick(all[0] ?? {}) ?? {})) {
      let value: unknown = undefined
      let everywhere = true
      for (const s of all) {
        const v = pick(s)?.[column]
        if (v === undefined || v === null) {
          everywhere = false
          break
        }
        if (value === undefined || better(v, value)) value = v
      }
      if (everywhere) out[column] = value
    }
    return out
  }
  const nullCount: Record<string, number> = {}
  for (const column of Object.keys(all[0]?.nullCount ?? {})) {
    const counts = all.map((s) => s.nullCount?.[column])
    if (counts.every((c) => typeof c === "number")) nullCount[column] = (counts as Array<number>).reduce((n, c) => n + c, 0)
  }
  return JSON.stringify({
    numRecords,
    minValues: bound((s) => s.minValues, lower),
    maxValues: bound((s) => s.maxValues, (a, b) => lower(b, a)),
    nullCount
  })
}

/** The fields of an Arrow schema as text: files merge only when theirs are the same. */
const schemaKey = (table: Table): string => table.schema.fields.map((f) => `${f.name}:${String(f.type)}:${f.nullable}`).join(",")

/** Reads the files of a bin and writes them as one file (or several, when their schemas differ); returns the adds. */
const rewriteBin = (store: Store, root: string, bin: ReadonlyArray<Add>, compression: Compression, written: Array<string>) =>
  Effect.gen(function*() {
    const bySchema = new Map<string, { tables: Array<Table>; adds: Array<Add> }>()
    // Small files are read side by side (a round trip each from an object store), decoded in turn.
    const contents = yield* Effect.forEach(bin, (add) => store.get(joinKey(root, add.path)), { concurrency: PARALLEL_READS })
    for (const [n, add] of bin.entries()) {
      const bytes = contents[n]!
      if (Option.isNone(bytes)) return yield* new DeltaLogError({ table: store.locate(root), reason: `${add.path} is live in the log but missing from the store` })
      const table = yield* Effect.try({
        try: () => decodeParquet(bytes.value),
        catch: (e) => new DeltaLogError({ table: store.locate(root), reason: `${add.path}: not a readable Parquet file (${(e as Error).message})` })
      })
      const s = schemaKey(table)
      const entry = bySchema.get(s) ?? { tables: [], adds: [] }
      entry.tables.push(table)
      entry.adds.push(add)
      bySchema.set(s, entry)
    }
    const adds: Array<Add> = []
    const removed: Array<Add> = []
    const folder = parentKey(bin[0]!.path)
    for (const { tables, adds: sources } of bySchema.values()) {
      if (sources.length < 2) continue
      const merged = tables[0]!.concat(...tables.slice(1))
      const expected = sources.reduce((n, a) => n + recordsOf(a), 0)
      // The statistics are what readers count rows by: a file that disagrees is not rewritten.
      if (sources.every((a) => a.stats) && merged.numRows !== expected) {
        return yield* new DeltaLogError({
          table: store.locate(root),
          reason: `${folder}: the files to merge hold ${merged.numRows} rows, their statistics say ${expected}`
        })
      }
      const bytes = yield* Effect.try({
        try: () => encodeParquet(merged, compression),
        catch: (e) => new DeltaLogError({ table: store.locate(root), reason: `${folder}: encoding the merged file failed (${(e as Error).message})` })
      })
      const relative = `${folder === "" ? "" : `${folder}/`}compacted-${randomBytes(8).toString("hex")}.parquet`
      written.push(relative)
      yield* store.put(joinKey(root, relative), bytes)
      const first = sources[0]!
      adds.push({
        path: relative,
        partitionValues: first.partitionValues,
        size: bytes.length,
        modificationTime: yield* Clock.currentTimeMillis,
        dataChange: false,
        stats: mergeStats(sources, merged.numRows),
        ...(first.tags ? { tags: first.tags } : {})
      })
      removed.push(...sources)
    }
    return { adds, removed }
  })

/** Compacts the table at `root` of the store (or, with `dryRun`, says what it would do). */
export const compactTable = (
  store: Store,
  root: string,
  options: CompactionOptions
): Effect.Effect<CompactionReport, LakeIOError | DeltaLogError | Fenced> =>
  Effect.gen(function*() {
    const table = store.locate(root)
    const first = yield* openDeltaTable({
      store,
      root,
      checkpointInterval: options.checkpointInterval,
      // Never used: compaction only commits to a table that exists.
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      metaData: { id: "", format: { provider: "parquet", options: {} }, schemaString: "{}", partitionColumns: [], configuration: {} }
    })
    const before = yield* first.snapshot
    // The snapshot is the table's live state, changed by every refresh: its figures are taken now.
    const filesBefore = before.totals.files
    const report = { table: root, location: table, partitions: [] as Array<PartitionCompaction>, skipped: [] as Array<{ partition: string; reason: string }> }
    if (before.version < 0) return { ...report, filesBefore, filesAfter: filesBefore }
    const plan = planCompaction(before.files.values(), options.targetBytes)
    let done = 0
    options.onPartition?.(0, plan.size)
    for (const [folder, plannedBins] of plan) {
      let bins = plannedBins
      for (let attempt = 1;; attempt++) {
        const rewritten = bins.flat()
        const bytesBefore = rewritten.reduce((n, a) => n + a.size, 0)
        const rows = rewritten.reduce((n, a) => n + recordsOf(a), 0)
        if (options.dryRun) {
          report.partitions.push({ partition: folder, filesBefore: rewritten.length, filesAfter: bins.length, rows, bytesBefore, bytesAfter: bytesBefore, version: null })
          break
        }
        const written: Array<string> = []
        const outcome = yield* Effect.gen(function*() {
          const adds: Array<Add> = []
          const removed: Array<Add> = []
          for (const bin of bins) {
            const out = yield* rewriteBin(store, root, bin, options.compression, written)
            adds.push(...out.adds)
            removed.push(...out.removed)
          }
          if (adds.length === 0) return undefined
          const now = yield* Clock.currentTimeMillis
          const removes: Array<Remove> = removed.map((a) => ({
            path: a.path,
            deletionTimestamp: now,
            dataChange: false,
            extendedFileMetadata: true,
            partitionValues: a.partitionValues,
            size: a.size
          }))
          const version = yield* Effect.uninterruptible(first.commit({
            txns: [],
            adds,
            removes,
            operation: "OPTIMIZE",
            operationParameters: { predicate: JSON.stringify(folder === "" ? [] : [folder]), targetSize: String(options.targetBytes) },
            precondition: stillLive(table, removes.map((r) => r.path))
          }))
          return {
            partition: folder,
            filesBefore: removed.length,
            filesAfter: adds.length,
            rows: adds.reduce((n, a) => n + recordsOf(a), 0),
            bytesBefore: removed.reduce((n, a) => n + a.size, 0),
            bytesAfter: adds.reduce((n, a) => n + a.size, 0),
            version
          } satisfies PartitionCompaction
        }).pipe(
          // Files of a commit that did not land are nobody's: removed now rather than left to vacuum.
          // Whether it landed is read from the log (a failure after the commit, or of its answer,
          // may hide one that did); when the log cannot be read, vacuum decides later.
          Effect.tapError(() =>
            first.snapshot.pipe(
              Effect.flatMap((s) => Effect.forEach(written.filter((f) => !s.files.has(f)), (f) => store.delete(joinKey(root, f)), { discard: true })),
              Effect.ignore
            )
          ),
          Effect.catchTag("FileGone", (e: FileGone) => Effect.succeed(e))
        )
        if (outcome === undefined) break
        if (!(outcome instanceof FileGone)) {
          report.partitions.push(outcome)
          break
        }
        const attempts = options.attempts ?? DEFAULT_ATTEMPTS
        if (attempt >= attempts) {
          yield* Effect.logWarning(`compact ${table}/${folder}: skipped after ${attempts} attempts: ${outcome.message}`)
          report.skipped.push({ partition: folder, reason: outcome.message })
          break
        }
        yield* Effect.logInfo(`compact ${table}/${folder}: ${outcome.path} left the table meanwhile; planning the partition again`)
        bins = planCompaction(yield* first.snapshot.pipe(Effect.map((s) => s.files.values())), options.targetBytes).get(folder) ?? []
        if (bins.length === 0) break
      }
      options.onPartition?.(++done, plan.size)
    }
    const after: DeltaSnapshot = yield* first.snapshot
    if (!options.dryRun && report.partitions.length > 0) yield* writeTableMetadata(store, root, after, snapshotNumberOf(root, after))
    const filesAfter = options.dryRun
      ? filesBefore - report.partitions.reduce((n, p) => n + p.filesBefore - p.filesAfter, 0)
      : after.totals.files
    return { ...report, filesBefore, filesAfter }
  })

/** The fields a versioned table's `_metadata.json` has besides a feed's: its snapshot number. */
export const snapshotNumberOf = (root: string, snapshot: DeltaSnapshot): Record<string, unknown> => {
  const n = snapshot.txns.get(SNAPSHOTS_APP_ID)
  return root.startsWith("tables/") && n !== undefined ? { snapshot: n } : {}
}
