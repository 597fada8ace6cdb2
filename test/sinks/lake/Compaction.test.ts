import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { parquetRelation, withDuckDb } from "../../../src/ops/DuckDb.ts"
import { RowGroup, scalar, source, sourcesOf } from "../../../src/sinks/lake/Columns.ts"
import { compactTable, mergeStats, planCompaction } from "../../../src/sinks/lake/Compaction.ts"
import type { Add } from "../../../src/sinks/lake/DeltaAction.ts"
import { decodeCommit } from "../../../src/sinks/lake/DeltaAction.ts"
import { commitFileName, openDeltaTable, readSnapshot } from "../../../src/sinks/lake/DeltaLog.ts"
import type { LakeFeed } from "../../../src/sinks/lake/Feeds.ts"
import { datePartition } from "../../../src/sinks/lake/HivePartition.ts"
import { type FilePart, type LakeTable, openLakeTable, TOPIC_ID_TAG } from "../../../src/sinks/lake/LakeTable.ts"
import { inlineEncoder } from "../../../src/sinks/lake/ParquetEncoder.ts"
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { LakeIOError, type Store } from "../../../src/sinks/lake/store/Store.ts"
import { offsetsAppId } from "../../../src/sinks/lake/TxnAppId.ts"
import { records } from "../../../src/topology/Processor.ts"

interface Row {
  readonly offset: number
  readonly time: number
  readonly label: string
}

const feed: LakeFeed<Row> = {
  name: "things",
  kind: "streams",
  description: "test rows",
  input: records<Row>("things"),
  columns: [
    scalar("_kafka_offset", source.int64<Row>("_kafka_offset", (r) => r.offset)),
    scalar("time", source.timestamp<Row>("time", (r) => r.time)),
    scalar("label", source.string<Row>("label", (r) => r.label))
  ],
  offsetOf: (r) => r.offset,
  partitionTime: (r) => r.time
}

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const lake = () => {
  const d = mkdtempSync(path.join(tmpdir(), "sluice-compact-"))
  dirs.push(d)
  return d
}
const open = (store: Store) => openLakeTable(feed, { store, compression: "zstd", checkpointInterval: 10, encoder: inlineEncoder })
const ROOT = "streams/things"

/** Rows `from..to` on day `day` of November 2026. */
const part = (from: number, to: number, day: number): FilePart => {
  const group = new RowGroup(sourcesOf(feed.columns))
  for (let o = from; o <= to; o++) group.add({ offset: o, time: Date.UTC(2026, 10, day, 12, 0, o), label: `r${o}` })
  return { date: datePartition(Date.UTC(2026, 10, day)), table: group.table(feed.columns), stats: group.stats(feed.columns) }
}

const sp = { topic: "t", topicId: "AAAAAAAAAAAAAAAAAAAAAA", partition: 0 }

/** Six windows of ten offsets, each with rows on the 21st and the 22nd: twelve small files. */
const writeWindows = async (table: LakeTable<Row>, windows = 6) => {
  for (let w = 0; w < windows; w++) {
    const from = w * 10
    await Effect.runPromise(table.write({
      sp,
      from,
      to: from + 9,
      expected: w === 0 ? undefined : from - 1,
      decisions: 1,
      parts: [part(from, from + 4, 21), part(from + 5, from + 9, 22)]
    }))
  }
}

/** Every row of the live files, as `offset:label:time`, sorted. */
const liveRows = async (dir: string) => {
  const snapshot = await Effect.runPromise(readSnapshot(makeLocalStore(dir), ROOT))
  const files = [...snapshot.files.keys()].map((f) => path.join(dir, ROOT, f))
  const rows = await Effect.runPromise(withDuckDb((db) =>
    db.query(`SELECT _kafka_offset AS o, label, time::VARCHAR AS t FROM ${parquetRelation(files, "0::BIGINT AS _kafka_offset, '' AS label, '' AS t")} ORDER BY 1`)))
  return rows.map((r) => `${r.o}:${r.label}:${r.t}`)
}

const compact = (store: Store, options: { attempts?: number; dryRun?: boolean } = {}) =>
  Effect.runPromise(compactTable(store, ROOT, { targetBytes: 128 * 1024 * 1024, compression: "zstd", checkpointInterval: 10, dryRun: false, ...options }))

/**
 * A store that runs `meanwhile` once, right after compaction writes its first merged file: what
 * another writer does between compaction's planning and its commit.
 */
const interleaved = (store: Store, meanwhile: () => Promise<unknown>): Store => {
  let done = false
  return {
    ...store,
    put: (key, data, options) =>
      Effect.flatMap(store.put(key, data, options), () => {
        if (done || !key.includes("/compacted-")) return Effect.void
        done = true
        return Effect.promise(meanwhile)
      })
  }
}

describe("compaction", () => {
  it("rewrites each partition's small files as one file in one OPTIMIZE commit: rows, stats, txns and _metadata.json stay right", async () => {
    const dir = lake()
    const store = makeLocalStore(dir)
    const table = await Effect.runPromise(open(store))
    await writeWindows(table)
    const rowsBefore = await liveRows(dir)
    const before = await Effect.runPromise(readSnapshot(store, ROOT))
    const txnsBefore = new Map(before.txns)
    expect(before.totals.files).toBe(12)

    const dry = await compact(store, { dryRun: true })
    expect(dry).toMatchObject({ filesBefore: 12, filesAfter: 2 })
    expect(dry.partitions.map((p) => [p.partition, p.filesBefore, p.filesAfter, p.rows, p.version])).toEqual([
      ["year=2026/month=11/day=21", 6, 1, 30, null],
      ["year=2026/month=11/day=22", 6, 1, 30, null]
    ])
    expect((await Effect.runPromise(readSnapshot(store, ROOT))).version).toBe(before.version)

    const report = await compact(store)
    expect(report).toMatchObject({ filesBefore: 12, filesAfter: 2, skipped: [] })
    expect(report.partitions.map((p) => p.version)).toEqual([before.version + 1, before.version + 2])
    const after = await Effect.runPromise(readSnapshot(store, ROOT))
    expect(after.totals).toMatchObject({ files: 2, records: 60 })
    expect(await liveRows(dir)).toEqual(rowsBefore)
    expect(after.txns).toEqual(txnsBefore)
    const merged = [...after.files.values()].find((a) => a.path.startsWith("year=2026/month=11/day=21/"))!
    expect(merged.path).toMatch(/\/compacted-[0-9a-f]{16}\.parquet$/)
    expect(merged).toMatchObject({ dataChange: false, partitionValues: { year: "2026", month: "11", day: "21" }, tags: { [TOPIC_ID_TAG]: sp.topicId } })
    expect(JSON.parse(merged.stats!)).toEqual({
      numRecords: 30,
      minValues: { _kafka_offset: 0, time: "2026-11-21T12:00:00.000Z" },
      maxValues: { _kafka_offset: 54, time: "2026-11-21T12:00:54.000Z" },
      nullCount: { _kafka_offset: 0, time: 0, label: 0 }
    })
    // One commit per partition: six removes and one add, none of them a data change, and no txn.
    const commit = decodeCommit(readFileSync(path.join(dir, ROOT, "_delta_log", commitFileName(before.version + 1)), "utf8"), "commit")
    expect(commit.filter((a) => "remove" in a).map((a) => ("remove" in a ? a.remove.dataChange : true))).toEqual(Array(6).fill(false))
    expect(commit.filter((a) => "add" in a)).toHaveLength(1)
    expect(commit.some((a) => "txn" in a)).toBe(false)
    expect(commit.find((a) => "commitInfo" in a)).toMatchObject({ commitInfo: { operation: "OPTIMIZE", isBlindAppend: false } })
    // The removed files stay for vacuum; _metadata.json follows the log.
    expect(readdirSync(path.join(dir, ROOT, "year=2026/month=11/day=21")).filter((f) => f.endsWith(".parquet"))).toHaveLength(7)
    const metadata = JSON.parse(readFileSync(path.join(dir, ROOT, "_metadata.json"), "utf8"))
    expect(metadata).toMatchObject({ feed: "things", kind: "streams", files: 2, records: 60, version: after.version })

    // The service's table, opened before, goes on appending after the compaction.
    await Effect.runPromise(table.write({ sp, from: 60, to: 64, expected: 59, decisions: 1, parts: [part(60, 64, 21)] }))
    expect((await liveRows(dir)).length).toBe(65)
    // The next run merges the new window into the 21st's file (still below the target); the 22nd has one file, left alone.
    expect((await compact(store)).partitions.map((p) => [p.partition, p.filesBefore, p.filesAfter, p.rows])).toEqual([["year=2026/month=11/day=21", 2, 1, 35]])
    expect((await liveRows(dir)).length).toBe(65)
  })

  it("fails the commit when a file it rewrites was removed meanwhile, then plans the partition again (or skips it)", async () => {
    const dir = lake()
    const store = makeLocalStore(dir)
    await writeWindows(await Effect.runPromise(open(store)), 3)
    const before = await Effect.runPromise(readSnapshot(store, ROOT))
    const victim = [...before.files.values()].find((a) => a.path.includes("day=21"))!
    // Another writer (a retention, another compaction) removes one file of the 21st while compaction works.
    const removeVictim = async () => {
      const other = await Effect.runPromise(openDeltaTable({ store, root: ROOT, checkpointInterval: 10, protocol: before.protocol!, metaData: before.metaData! }))
      await Effect.runPromise(other.commit({ txns: [], adds: [], removes: [{ path: victim.path, deletionTimestamp: Date.now(), dataChange: true }], operation: "DELETE" }))
    }

    const skipped = await compact(interleaved(store, removeVictim), { attempts: 1 })
    expect(skipped.skipped).toEqual([{ partition: "year=2026/month=11/day=21", reason: expect.stringContaining(`${victim.path} is no longer in the table`) }])
    // The 22nd was compacted; the 21st's merged file never committed, and is gone from the folder.
    expect(skipped.partitions.map((p) => p.partition)).toEqual(["year=2026/month=11/day=22"])
    expect(readdirSync(path.join(dir, ROOT, "year=2026/month=11/day=21")).filter((f) => f.startsWith("compacted-"))).toEqual([])
    const afterSkip = await Effect.runPromise(readSnapshot(store, ROOT))
    expect(afterSkip.totals.records).toBe(30 - 5)
    expect(afterSkip.files.has(victim.path)).toBe(false)

    // Run again with the default attempts: the 21st's two remaining files are merged.
    const again = await compact(store)
    expect(again.partitions.map((p) => [p.partition, p.filesBefore, p.rows])).toEqual([["year=2026/month=11/day=21", 2, 10]])
    const final = await Effect.runPromise(readSnapshot(store, ROOT))
    expect(final.totals).toMatchObject({ files: 2, records: 25 })
    expect(final.files.has(victim.path)).toBe(false)
  })

  it("retries after a concurrent removal within one run: the replanned partition leaves the removed file out", async () => {
    const dir = lake()
    const store = makeLocalStore(dir)
    await writeWindows(await Effect.runPromise(open(store)), 3)
    const before = await Effect.runPromise(readSnapshot(store, ROOT))
    const victim = [...before.files.values()].find((a) => a.path.includes("day=21"))!
    const other = await Effect.runPromise(openDeltaTable({ store, root: ROOT, checkpointInterval: 10, protocol: before.protocol!, metaData: before.metaData! }))
    const report = await compact(interleaved(store, () =>
      Effect.runPromise(other.commit({ txns: [], adds: [], removes: [{ path: victim.path, deletionTimestamp: Date.now(), dataChange: true }], operation: "DELETE" }))))
    expect(report.skipped).toEqual([])
    expect(report.partitions.map((p) => [p.partition, p.filesBefore, p.rows])).toEqual([
      ["year=2026/month=11/day=21", 2, 10],
      ["year=2026/month=11/day=22", 3, 15]
    ])
    const after = await Effect.runPromise(readSnapshot(store, ROOT))
    expect(after.totals).toMatchObject({ files: 2, records: 25 })
    // The attempt that failed left no file behind.
    expect(readdirSync(path.join(dir, ROOT, "year=2026/month=11/day=21")).filter((f) => f.startsWith("compacted-"))).toHaveLength(1)
  })

  it("lets an append that commits first land: compaction then commits after it, and both are in the table", async () => {
    const dir = lake()
    const store = makeLocalStore(dir)
    const service = await Effect.runPromise(open(store))
    await writeWindows(service, 3)
    const before = await Effect.runPromise(readSnapshot(store, ROOT))
    let appended: number | undefined
    const report = await compact(interleaved(store, async () => {
      // The service's next window, into the partition being compacted, while compaction works.
      appended = await Effect.runPromise(service.write({ sp, from: 30, to: 34, expected: 29, decisions: 1, parts: [part(30, 34, 21)] }))
    }))
    expect(appended).toBe(before.version + 1)
    expect(report.partitions.map((p) => [p.partition, p.filesBefore, p.version])).toEqual([
      ["year=2026/month=11/day=21", 3, before.version + 2],
      ["year=2026/month=11/day=22", 3, before.version + 3]
    ])
    const after = await Effect.runPromise(readSnapshot(store, ROOT))
    // The appended file is live beside the merged one; every offset is there once.
    expect(after.totals).toMatchObject({ files: 3, records: 35 })
    expect([...after.files.keys()].filter((f) => /\/part-0-30-34-/.test(f))).toHaveLength(1)
    const rows = await liveRows(dir)
    expect(rows.map((r) => Number(r.split(":")[0]))).toEqual(Array.from({ length: 35 }, (_, i) => i))
    expect(after.txns.get(offsetsAppId("things", sp))).toBe(34)
    // The service goes on from there.
    await Effect.runPromise(service.write({ sp, from: 35, to: 39, expected: 34, decisions: 1, parts: [part(35, 39, 22)] }))
    expect((await liveRows(dir)).length).toBe(40)
    expect(existsSync(path.join(dir, ROOT, "_metadata.json"))).toBe(true)
  })
})

describe("compaction failing after its commit", () => {
  it("keeps the merged file the log names when what follows the commit fails (its checkpoint here)", async () => {
    const dir = lake()
    const store = makeLocalStore(dir)
    await writeWindows(await Effect.runPromise(open(store)), 3)
    const rowsBefore = await liveRows(dir)
    const before = await Effect.runPromise(readSnapshot(store, ROOT))
    // The first compaction commit lands on a checkpoint version, and the checkpoint's write fails.
    const failing: Store = {
      ...store,
      put: (key, data, options) =>
        key.endsWith(".checkpoint.parquet")
          ? Effect.fail(new LakeIOError({ op: "put", path: key, cause: new Error("disk full"), transient: true }))
          : store.put(key, data, options)
    }
    const exit = await Effect.runPromiseExit(compactTable(failing, ROOT, {
      targetBytes: 128 * 1024 * 1024,
      compression: "zstd",
      checkpointInterval: before.version + 1,
      dryRun: false
    }))
    expect(Exit.isFailure(exit)).toBe(true)
    const after = await Effect.runPromise(readSnapshot(store, ROOT))
    expect(after.version).toBe(before.version + 1)
    for (const file of after.files.keys()) expect(existsSync(path.join(dir, ROOT, file)), file).toBe(true)
    expect(await liveRows(dir)).toEqual(rowsBefore)
  })
})

describe("planning and statistics", () => {
  const add = (p: string, size: number, tags?: Record<string, string>): Add => ({
    path: p,
    partitionValues: { day: p.slice(0, 1) },
    size,
    modificationTime: 0,
    dataChange: true,
    ...(tags ? { tags } : {})
  })

  it("packs small files in path order up to the target, leaves large files and lone small ones, and never mixes incarnations", () => {
    const plan = planCompaction([
      add("a/1", 40), add("a/2", 40), add("a/3", 40), add("a/4", 200),
      add("b/1", 10),
      add("c/1", 10, { t: "x" }), add("c/2", 10, { t: "y" })
    ], 100)
    expect([...plan].map(([folder, bins]) => [folder, bins.map((b) => b.map((a) => a.path))])).toEqual([["a", [["a/1", "a/2"]]]])
  })

  it("merges statistics: counts add up, bounds widen, a bound some file lacks is left out", () => {
    const s = (min: number, max: number, t?: string) => JSON.stringify({ numRecords: 2, minValues: { n: min, ...(t ? { t } : {}) }, maxValues: { n: max }, nullCount: { n: 1 } })
    const merged = JSON.parse(mergeStats([{ ...add("a/1", 1), stats: s(5, 9, "2026-11-21T00:00:00.000Z") }, { ...add("a/2", 1), stats: s(-3, 4) }], 4))
    expect(merged).toEqual({ numRecords: 4, minValues: { n: -3 }, maxValues: { n: 9 }, nullCount: { n: 2 } })
  })
})
