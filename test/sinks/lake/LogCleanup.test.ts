import { mkdtempSync, readdirSync, rmSync, unlinkSync, utimesSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { Add, MetaData } from "../../../src/sinks/lake/DeltaAction.ts"
import { cleanupLog, commitFileName, DeltaLogError, Fenced, openDeltaTable, readSnapshot } from "../../../src/sinks/lake/DeltaLog.ts"
import { checkpointFileName } from "../../../src/sinks/lake/Checkpoint.ts"
import { expiredLogFiles, type LogFile, logRetentionOf, parseInterval } from "../../../src/sinks/lake/LogCleanup.ts"
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { failureOf } from "../../support/Failure.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "sluice-logcleanup-"))
  dirs.push(d)
  return d
}
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

const DAY = 24 * 3_600_000
const metaData = (configuration: Record<string, string> = {}): MetaData => ({
  id: "00000000-0000-0000-0000-00000000000c",
  format: { provider: "parquet", options: {} },
  schemaString: JSON.stringify({ type: "struct", fields: [{ name: "x", type: "long", nullable: false, metadata: {} }] }),
  partitionColumns: [],
  configuration,
  createdTime: 0
})
const open = (root: string, checkpointInterval: number, configuration: Record<string, string> = {}) =>
  openDeltaTable({ store: makeLocalStore(root), root: "", checkpointInterval, protocol: { minReaderVersion: 1, minWriterVersion: 2 }, metaData: metaData(configuration) })
const add = (p: string): Add => ({ path: p, partitionValues: {}, size: 100, modificationTime: 1, dataChange: true, stats: JSON.stringify({ numRecords: 1 }) })

/** `n` commits by one writer (txn `w`), each adding `f<i>.parquet`; the writer's txn ends at n - 1. */
const writeCommits = async (root: string, n: number, checkpointInterval: number) => {
  const table = await run(open(root, checkpointInterval))
  for (let i = 0; i < n; i++) {
    await run(table.commit({ txns: [{ appId: "w", expected: i === 0 ? undefined : i - 1, version: i }], adds: [add(`f${i}.parquet`)], operation: "WRITE" }))
  }
  return table
}

const logDir = (root: string) => path.join(root, "_delta_log")
/** Sets the modification time of the log files of versions in [from, to] to `daysAgo` days ago. */
const age = (root: string, from: number, to: number, daysAgo: number) => {
  const when = new Date(Date.now() - daysAgo * DAY)
  for (const name of readdirSync(logDir(root))) {
    const version = /^(\d{20})\./.exec(name)?.[1]
    if (version !== undefined && Number(version) >= from && Number(version) <= to) utimesSync(path.join(logDir(root), name), when, when)
  }
}
const logNames = (root: string) => readdirSync(logDir(root)).filter((n) => !n.startsWith(".")).sort()
const commitsIn = (root: string) => logNames(root).filter((n) => n.endsWith(".json")).map((n) => Number(n.slice(0, 20)))
const checkpointsIn = (root: string) => logNames(root).filter((n) => n.endsWith(".checkpoint.parquet")).map((n) => Number(n.slice(0, 20)))
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
/** What a snapshot says about the table, without the per-file `dataChange` a checkpoint rewrites. */
const stateOf = (s: Effect.Success<ReturnType<typeof readSnapshot>>) => ({
  version: s.version,
  files: [...s.files.keys()].sort(),
  tombstones: [...s.tombstones.keys()].sort(),
  txns: Object.fromEntries(s.txns),
  metaData: s.metaData,
  protocol: s.protocol,
  totals: { files: s.totals.files, records: s.totals.records, bytes: s.totals.bytes }
})

describe("log retention settings", () => {
  it("reads Delta intervals and refuses what is not one", () => {
    expect(parseInterval("interval 30 days")).toBe(30 * DAY)
    expect(parseInterval("7 days")).toBe(7 * DAY)
    expect(parseInterval("interval 1 day 12 hours")).toBe(1.5 * DAY)
    expect(parseInterval("INTERVAL 1 WEEK")).toBe(7 * DAY)
    expect(parseInterval("interval 0 seconds")).toBe(0)
    for (const bad of ["", "30", "interval 1 month", "interval -1 days", "thirty days", "interval 1 fortnight"]) expect(parseInterval(bad)).toBeUndefined()
  })

  it("takes delta.logRetentionDuration from the table's configuration, 30 days without it", () => {
    expect(logRetentionOf(metaData())).toBe(30 * DAY)
    expect(logRetentionOf(metaData({ "delta.logRetentionDuration": "interval 2 days" }))).toBe(2 * DAY)
    const bad = logRetentionOf(metaData({ "delta.logRetentionDuration": "soon" }))
    expect(bad).toBeInstanceOf(Error)
    expect((bad as Error).message).toContain(`delta.logRetentionDuration = "soon"`)
  })
})

describe("expiredLogFiles", () => {
  const file = (version: number, kind: LogFile["kind"], lastModified: number): LogFile => ({ key: `${version}.${kind}`, version, kind, lastModified, size: 1 })
  const log = (expiredUpTo: number) =>
    range(0, 25).flatMap((v) => [file(v, "commit", v <= expiredUpTo ? 0 : 100), ...(v % 10 === 0 && v > 0 ? [file(v, "checkpoint", v <= expiredUpTo ? 0 : 100)] : [])])

  it("cuts at the newest checkpoint before which everything is expired, keeping that checkpoint and its commit", () => {
    const deleted = expiredLogFiles(log(25), 20, 50)
    expect(deleted.map((f) => f.key)).toEqual([...range(0, 9).map((v) => `${v}.commit`), "10.commit", "10.checkpoint", ...range(11, 19).map((v) => `${v}.commit`)])
  })

  it("stops at a checkpoint when a later file is not expired, leaving every remaining version readable", () => {
    // Commits up to 15 expired: cutting past checkpoint 10 would leave 11..15 with no checkpoint to start from.
    expect(expiredLogFiles(log(15), 20, 50).map((f) => f.version)).toEqual([...range(0, 9)])
    // Everything before checkpoint 10 expired, checkpoint 10 itself not: it is the cut.
    expect(expiredLogFiles(log(9), 20, 50).map((f) => f.version)).toEqual([...range(0, 9)])
    expect(expiredLogFiles(log(8), 20, 50)).toEqual([])
  })

  it("never cuts past the checkpoint _last_checkpoint names", () => {
    expect(expiredLogFiles(log(25), 10, 50).at(-1)?.version).toBe(9)
    expect(expiredLogFiles(log(25), 5, 50)).toEqual([])
  })
})

describe("tombstones in checkpoints", () => {
  it("drop those older than delta.deletedFileRetentionDuration (a week by default), in the checkpoint and the writer's state", async () => {
    for (const [configuration, kept] of [
      [{}, ["recent.parquet"]],
      [{ "delta.deletedFileRetentionDuration": "interval 30 days" }, ["old.parquet", "recent.parquet"]],
      [{ "delta.deletedFileRetentionDuration": "soon" }, ["ancient.parquet", "old.parquet", "recent.parquet"]]
    ] as const) {
      const root = tempDir()
      const table = await run(open(root, 2, configuration))
      const removed = { ancient: Date.now() - 400 * DAY, old: Date.now() - 8 * DAY, recent: Date.now() - DAY }
      await run(table.commit({ txns: [], adds: Object.keys(removed).map((f) => add(`${f}.parquet`)).concat(add("live.parquet")), operation: "WRITE" }))
      await run(table.commit({
        txns: [],
        adds: [],
        removes: Object.entries(removed).map(([f, at]) => ({ path: `${f}.parquet`, deletionTimestamp: at, dataChange: true })),
        operation: "DELETE"
      }))
      await run(table.commit({ txns: [], adds: [add("more.parquet")], operation: "WRITE" })) // version 2: a checkpoint
      const fromCheckpoint = await run(readSnapshot(makeLocalStore(root), ""))
      expect([...fromCheckpoint.tombstones.keys()].sort()).toEqual(kept)
      expect([...(await run(table.snapshot)).tombstones.keys()].sort()).toEqual(kept)
      expect([...fromCheckpoint.files.keys()].sort()).toEqual(["live.parquet", "more.parquet"])
    }
  })
})

describe("log cleanup on a local table", () => {
  it("deletes only expired files that a later checkpoint makes unneeded, and the table reads the same after", async () => {
    const root = tempDir()
    const store = makeLocalStore(root)
    await writeCommits(root, 14, 4) // checkpoints 4, 8, 12
    const before = stateOf(await run(readSnapshot(store, "")))
    age(root, 0, 9, 40) // commits 0..9 and checkpoints 4, 8 are past 30 days; 10..13 are not
    const report = await run(cleanupLog(store, "", { dryRun: false }))
    expect(report.retentionMs).toBe(30 * DAY)
    expect(report.checkpoint).toBe(12)
    expect(report.deleted.map((f) => `${f.version}:${f.kind}`)).toEqual([...range(0, 4).map((v) => `${v}:commit`), "4:checkpoint", ...range(5, 7).map((v) => `${v}:commit`)])
    expect(commitsIn(root)).toEqual(range(8, 13))
    expect(checkpointsIn(root)).toEqual([8, 12])
    expect(stateOf(await run(readSnapshot(store, "")))).toEqual(before)
    // Without its pointer the table is found again from a listing: the newest checkpoint, then the commits after it.
    unlinkSync(path.join(logDir(root), "_last_checkpoint"))
    expect(stateOf(await run(readSnapshot(store, "")))).toEqual(before)
  })

  it("keeps the latest checkpoint and everything after it, however old", async () => {
    const root = tempDir()
    const store = makeLocalStore(root)
    await writeCommits(root, 14, 4)
    const before = stateOf(await run(readSnapshot(store, "")))
    age(root, 0, 13, 400)
    const report = await run(cleanupLog(store, "", { dryRun: false }))
    expect(report.deleted.at(-1)?.version).toBe(11)
    expect(commitsIn(root)).toEqual(range(12, 13))
    expect(checkpointsIn(root)).toEqual([12])
    expect(stateOf(await run(readSnapshot(store, "")))).toEqual(before)
  })

  it("deletes nothing when the table has no checkpoint, or in a dry run", async () => {
    const root = tempDir()
    const store = makeLocalStore(root)
    await writeCommits(root, 6, 100)
    age(root, 0, 5, 400)
    const none = await run(cleanupLog(store, "", { dryRun: false }))
    expect(none).toMatchObject({ checkpoint: undefined, deleted: [] })
    expect(commitsIn(root)).toEqual(range(0, 5))

    const other = tempDir()
    await writeCommits(other, 6, 2)
    age(other, 0, 5, 400)
    const dry = await run(cleanupLog(makeLocalStore(other), "", { dryRun: true }))
    expect(dry.deleted.map((f) => f.version)).toEqual([0, 1, 2, 2, 3])
    expect(commitsIn(other)).toEqual(range(0, 5))
  })

  it("follows a retention given by the table property or by the caller", async () => {
    const root = tempDir()
    const store = makeLocalStore(root)
    const table = await run(open(root, 3, { "delta.logRetentionDuration": "interval 2 days", "delta.enableExpiredLogCleanup": "false" }))
    for (let i = 0; i < 7; i++) await run(table.commit({ txns: [], adds: [add(`f${i}.parquet`)], operation: "WRITE" }))
    age(root, 0, 6, 3)
    // The writer cleans nothing itself (delta.enableExpiredLogCleanup = false).
    expect(commitsIn(root)).toEqual(range(0, 6))
    expect((await run(cleanupLog(store, "", { dryRun: true }))).retentionMs).toBe(2 * DAY)
    expect((await run(cleanupLog(store, "", { retentionMs: 4 * DAY, dryRun: false }))).deleted).toEqual([])
    expect((await run(cleanupLog(store, "", { dryRun: false }))).deleted.at(-1)?.version).toBe(5)
    expect(commitsIn(root)).toEqual([6])
  })

  it("is done by the writer after each checkpoint, with the table's retention", async () => {
    const root = tempDir()
    const table = await run(open(root, 3, { "delta.logRetentionDuration": "interval 0 seconds" }))
    for (let i = 0; i < 8; i++) await run(table.commit({ txns: [], adds: [add(`f${i}.parquet`)], operation: "WRITE" }))
    // Checkpoint 6 let the writer delete everything before it.
    expect(commitsIn(root)).toEqual([6, 7])
    expect(checkpointsIn(root)).toEqual([6])
    expect((await run(readSnapshot(makeLocalStore(root), ""))).files.size).toBe(8)
  })

  it("is done by a writer at most hourly when the retention is longer: a cleanup lists the whole log", async () => {
    const root = tempDir()
    const table = await run(open(root, 3, { "delta.logRetentionDuration": "interval 2 days" }))
    for (let i = 0; i < 4; i++) await run(table.commit({ txns: [], adds: [add(`f${i}.parquet`)], operation: "WRITE" }))
    // Checkpoint 3 cleaned (nothing had expired); the files then age past the retention.
    age(root, 0, 3, 3)
    for (let i = 4; i < 7; i++) await run(table.commit({ txns: [], adds: [add(`f${i}.parquet`)], operation: "WRITE" }))
    // Checkpoint 6 came within the hour: the expired commits wait for a later one, or for vacuum.
    expect(checkpointsIn(root)).toEqual([3, 6])
    expect(commitsIn(root)).toEqual(range(0, 6))
    expect((await run(cleanupLog(makeLocalStore(root), "", { dryRun: false }))).deleted.map((f) => f.version)).toEqual([0, 1, 2])
  })

  it("lets a writer whose next commit was cleaned up reload from the newest checkpoint and commit the right next version", async () => {
    const root = tempDir()
    const store = makeLocalStore(root)
    const stale = await run(open(root, 4))
    await run(stale.commit({ txns: [{ appId: "s", expected: undefined, version: 1 }], adds: [add("s0.parquet")], operation: "WRITE" }))
    const writer = await run(open(root, 4))
    for (let i = 1; i <= 13; i++) await run(writer.commit({ txns: [], adds: [add(`f${i}.parquet`)], operation: "WRITE" }))
    age(root, 0, 13, 40)
    await run(cleanupLog(store, "", { dryRun: false }))
    expect(commitsIn(root)).toEqual([12, 13])
    // The stale writer's next file (1.json) is gone: it must not take version 1 again.
    expect(await run(stale.commit({ txns: [{ appId: "s", expected: 1, version: 2 }], adds: [add("s1.parquet")], operation: "WRITE" }))).toBe(14)
    const after = await run(readSnapshot(store, ""))
    expect(after.version).toBe(14)
    expect([...after.files.keys()].sort()).toEqual([...range(1, 13).map((i) => `f${i}.parquet`), "s0.parquet", "s1.parquet"].sort())
    expect(after.txns.get("s")).toBe(2)
    // Its txn fencing judged the reloaded state: a txn it no longer matches is refused.
    const exit = await Effect.runPromiseExit(stale.commit({ txns: [{ appId: "s", expected: 1, version: 3 }], adds: [], operation: "WRITE" }))
    expect(failureOf(exit)).toEqual(new Fenced({ table: store.locate(""), appId: "s", expected: 1, found: 2 }))
  })

  it("refuses a log whose first commits are gone with no checkpoint to start from, rather than read a smaller table", async () => {
    const root = tempDir()
    const store = makeLocalStore(root)
    await writeCommits(root, 3, 100)
    unlinkSync(path.join(logDir(root), commitFileName(0)))
    const exit = await Effect.runPromiseExit(readSnapshot(store, ""))
    expect(failureOf(exit)).toEqual(new DeltaLogError({
      table: store.locate(""),
      reason: "the log starts at version 1 and holds no checkpoint to start from (commits before it were deleted)"
    }))
    // A writer opening it fails the same way: it never writes a version 0 over a table it cannot read.
    expect(failureOf(await Effect.runPromiseExit(open(root, 100)))).toBeInstanceOf(DeltaLogError)
    expect(logNames(root)).not.toContain(commitFileName(0))
  })

  it("starts from the newest listed checkpoint when the one _last_checkpoint names is gone", async () => {
    const root = tempDir()
    const store = makeLocalStore(root)
    await writeCommits(root, 10, 4)
    const before = stateOf(await run(readSnapshot(store, "")))
    unlinkSync(path.join(logDir(root), checkpointFileName(8)))
    for (const v of range(0, 3)) unlinkSync(path.join(logDir(root), commitFileName(v)))
    expect(stateOf(await run(readSnapshot(store, "")))).toEqual(before)
  })
})
