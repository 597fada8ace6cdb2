/**
 * What the lake's maintenance guarantees on any store, as suites run against each one (a local
 * folder in the unit tests, an S3 bucket in `MaintenanceS3.integration.test.ts`): compaction,
 * retention, vacuum and log cleanup, each asserted through the store itself.
 */
import { tableFromArrays } from "apache-arrow"
import { Effect, Exit, Option } from "effect"
import * as fs from "node:fs/promises"
import { describe, expect, it } from "vitest"
import { DAY_MS } from "../../../src/domain/CivilDate.ts"
import { RowGroup, sourcesOf } from "../../../src/sinks/lake/Columns.ts"
import { compactTable } from "../../../src/sinks/lake/Compaction.ts"
import { decodeCommit } from "../../../src/sinks/lake/DeltaAction.ts"
import { cleanupLog, commitFileName, openDeltaTable, readSnapshot } from "../../../src/sinks/lake/DeltaLog.ts"
import { datePartition, partitionPath } from "../../../src/sinks/lake/HivePartition.ts"
import { type FilePart, type LakeTable, openLakeTable, TOPIC_ID_TAG } from "../../../src/sinks/lake/LakeTable.ts"
import { inlineEncoder } from "../../../src/sinks/lake/ParquetEncoder.ts"
import { decodeParquet, encodeParquet } from "../../../src/sinks/lake/ParquetFile.ts"
import { expireSnapshots, expireStream } from "../../../src/sinks/lake/Retention.ts"
import { type SnapshotTable, writeSnapshot } from "../../../src/sinks/lake/Snapshot.ts"
import { folderPrefix, joinKey, LakeIOError, type Store, textOf } from "../../../src/sinks/lake/store/Store.ts"
import { offsetsAppId } from "../../../src/sinks/lake/TxnAppId.ts"
import { vacuumTable } from "../../../src/sinks/lake/Vacuum.ts"
import { type Thing, thingsFeed } from "../../support/Lake.ts"

/** A store of its own for one test: an empty folder, or a fresh prefix of the bucket. */
export type MakeStore = () => Promise<Store>

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** The keys below `folder`, relative to it, sorted. */
const keysUnder = async (store: Store, folder: string) => {
  const prefix = folderPrefix(folder)
  return (await run(store.list(prefix))).map((o) => o.key.slice(prefix.length)).sort()
}
const textAt = async (store: Store, key: string) => Option.map(await run(store.get(key)), textOf).pipe(Option.getOrUndefined)
const exists = async (store: Store, key: string) => Option.isSome(await run(store.get(key)))

type Row = Thing
const feed = thingsFeed
const ROOT = "streams/things"
const open = (store: Store) => openLakeTable(feed, { store, compression: "zstd", checkpointInterval: 10, encoder: inlineEncoder })
const sp = { topic: "t", topicId: "AAAAAAAAAAAAAAAAAAAAAA", partition: 0 }

/** Rows `from..to` at `time`. */
const rowsAt = (from: number, to: number, time: (o: number) => number): FilePart => {
  const group = new RowGroup(sourcesOf(feed.columns))
  for (let o = from; o <= to; o++) group.add({ offset: o, time: time(o), label: `r${o}` })
  return { date: datePartition(time(from)), table: group.table(feed.columns), stats: group.stats(feed.columns) }
}
/** Rows `from..to` on day `day` of November 2026. */
const part = (from: number, to: number, day: number) => rowsAt(from, to, (o) => Date.UTC(2026, 10, day, 12, 0, o))

/** Six windows of ten offsets, each with rows on the 21st and the 22nd: twelve small files. */
const writeWindows = async (table: LakeTable<Row>, windows = 6) => {
  for (let w = 0; w < windows; w++) {
    const from = w * 10
    await run(table.write({ sp, from, to: from + 9, expected: w === 0 ? undefined : from - 1, decisions: 1, parts: [part(from, from + 4, 21), part(from + 5, from + 9, 22)] }))
  }
}

/** Every row of the live files, as `offset:label:time`, sorted by offset: read from the store, through the log. */
const liveRows = async (store: Store) => {
  const snapshot = await run(readSnapshot(store, ROOT))
  const rows: Array<[number, string]> = []
  for (const file of snapshot.files.keys()) {
    const bytes = Option.getOrThrow(await run(store.get(joinKey(ROOT, file))))
    const table = decodeParquet(bytes)
    const [offsets, labels, times] = ["_kafka_offset", "label", "time"].map((c) => table.getChild(c)!)
    for (let i = 0; i < table.numRows; i++) rows.push([Number(offsets!.get(i)), `${String(offsets!.get(i))}:${String(labels!.get(i))}:${String(times!.get(i))}`])
  }
  return rows.sort((a, b) => a[0] - b[0]).map(([, r]) => r)
}

const compact = (store: Store, options: { attempts?: number; dryRun?: boolean } = {}) =>
  run(compactTable(store, ROOT, { targetBytes: 128 * 1024 * 1024, compression: "zstd", checkpointInterval: 10, dryRun: false, ...options }))

/**
 * A store that runs `meanwhile` once, right after compaction writes its first merged file: what
 * another writer does between compaction's planning and its commit.
 */
const interleaved = (store: Store, meanwhile: () => Promise<unknown>): Store => {
  let done = false
  const after = (key: string) => {
    if (done || !key.includes("/compacted-")) return Effect.void
    done = true
    return Effect.promise(meanwhile)
  }
  return {
    ...store,
    put: (key, data, options) => Effect.flatMap(store.put(key, data, options), () => after(key)),
    upload: (key, chunks) => Effect.tap(store.upload(key, chunks), () => after(key))
  }
}
const compactedIn = async (store: Store, folder: string) => (await keysUnder(store, joinKey(ROOT, folder))).filter((f) => f.startsWith("compacted-"))

export const compactionContract = (name: string, make: MakeStore) =>
  describe(`compaction on ${name}`, () => {
    it("rewrites each partition's small files as one file in one OPTIMIZE commit: rows, stats, txns and _metadata.json stay right", async () => {
      const store = await make()
      const table = await run(open(store))
      await writeWindows(table)
      const rowsBefore = await liveRows(store)
      const before = await run(readSnapshot(store, ROOT))
      const txnsBefore = new Map(before.txns)
      expect(before.totals.files).toBe(12)

      const dry = await compact(store, { dryRun: true })
      expect(dry).toMatchObject({ filesBefore: 12, filesAfter: 2 })
      expect(dry.partitions.map((p) => [p.partition, p.filesBefore, p.filesAfter, p.rows, p.version])).toEqual([
        ["year=2026/month=11/day=21", 6, 1, 30, null],
        ["year=2026/month=11/day=22", 6, 1, 30, null]
      ])
      expect((await run(readSnapshot(store, ROOT))).version).toBe(before.version)

      const report = await compact(store)
      expect(report).toMatchObject({ filesBefore: 12, filesAfter: 2, skipped: [] })
      expect(report.partitions.map((p) => p.version)).toEqual([before.version + 1, before.version + 2])
      const after = await run(readSnapshot(store, ROOT))
      expect(after.totals).toMatchObject({ files: 2, records: 60 })
      expect(await liveRows(store)).toEqual(rowsBefore)
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
      const commit = decodeCommit((await textAt(store, joinKey(ROOT, "_delta_log", commitFileName(before.version + 1))))!, "commit")
      expect(commit.filter((a) => "remove" in a).map((a) => ("remove" in a ? a.remove.dataChange : true))).toEqual(Array(6).fill(false))
      expect(commit.filter((a) => "add" in a)).toHaveLength(1)
      expect(commit.some((a) => "txn" in a)).toBe(false)
      expect(commit.find((a) => "commitInfo" in a)).toMatchObject({ commitInfo: { operation: "OPTIMIZE", isBlindAppend: false } })
      // The removed files stay for vacuum; _metadata.json follows the log.
      expect((await keysUnder(store, joinKey(ROOT, "year=2026/month=11/day=21"))).filter((f) => f.endsWith(".parquet"))).toHaveLength(7)
      expect(JSON.parse((await textAt(store, joinKey(ROOT, "_metadata.json")))!)).toMatchObject({ feed: "things", kind: "streams", files: 2, records: 60, version: after.version })

      // The service's table, opened before, goes on appending after the compaction.
      await run(table.write({ sp, from: 60, to: 64, expected: 59, decisions: 1, parts: [part(60, 64, 21)] }))
      expect((await liveRows(store)).length).toBe(65)
      // The next run merges the new window into the 21st's file (still below the target); the 22nd has one file, left alone.
      expect((await compact(store)).partitions.map((p) => [p.partition, p.filesBefore, p.filesAfter, p.rows])).toEqual([["year=2026/month=11/day=21", 2, 1, 35]])
      expect((await liveRows(store)).length).toBe(65)
    })

    it("fails the commit when a file it rewrites was removed meanwhile, then plans the partition again (or skips it)", async () => {
      const store = await make()
      await writeWindows(await run(open(store)), 3)
      const before = await run(readSnapshot(store, ROOT))
      const victim = [...before.files.values()].find((a) => a.path.includes("day=21"))!
      // Another writer (a retention, another compaction) removes one file of the 21st while compaction works.
      const removeVictim = async () => {
        const other = await run(openDeltaTable({ store, root: ROOT, checkpointInterval: 10, protocol: before.protocol!, metaData: before.metaData! }))
        await run(other.commit({ txns: [], adds: [], removes: [{ path: victim.path, deletionTimestamp: Date.now(), dataChange: true }], operation: "DELETE" }))
      }

      const skipped = await compact(interleaved(store, removeVictim), { attempts: 1 })
      expect(skipped.skipped).toEqual([{ partition: "year=2026/month=11/day=21", reason: expect.stringContaining(`${victim.path} is no longer in the table`) }])
      // The 22nd was compacted; the 21st's merged file never committed, and is gone from the folder.
      expect(skipped.partitions.map((p) => p.partition)).toEqual(["year=2026/month=11/day=22"])
      expect(await compactedIn(store, "year=2026/month=11/day=21")).toEqual([])
      const afterSkip = await run(readSnapshot(store, ROOT))
      expect(afterSkip.totals.records).toBe(30 - 5)
      expect(afterSkip.files.has(victim.path)).toBe(false)

      // Run again with the default attempts: the 21st's two remaining files are merged.
      const again = await compact(store)
      expect(again.partitions.map((p) => [p.partition, p.filesBefore, p.rows])).toEqual([["year=2026/month=11/day=21", 2, 10]])
      const final = await run(readSnapshot(store, ROOT))
      expect(final.totals).toMatchObject({ files: 2, records: 25 })
      expect(final.files.has(victim.path)).toBe(false)
    })

    it("retries after a concurrent removal within one run: the replanned partition leaves the removed file out", async () => {
      const store = await make()
      await writeWindows(await run(open(store)), 3)
      const before = await run(readSnapshot(store, ROOT))
      const victim = [...before.files.values()].find((a) => a.path.includes("day=21"))!
      const other = await run(openDeltaTable({ store, root: ROOT, checkpointInterval: 10, protocol: before.protocol!, metaData: before.metaData! }))
      const report = await compact(interleaved(store, () =>
        run(other.commit({ txns: [], adds: [], removes: [{ path: victim.path, deletionTimestamp: Date.now(), dataChange: true }], operation: "DELETE" }))))
      expect(report.skipped).toEqual([])
      expect(report.partitions.map((p) => [p.partition, p.filesBefore, p.rows])).toEqual([
        ["year=2026/month=11/day=21", 2, 10],
        ["year=2026/month=11/day=22", 3, 15]
      ])
      const after = await run(readSnapshot(store, ROOT))
      expect(after.totals).toMatchObject({ files: 2, records: 25 })
      // The attempt that failed left no file behind.
      expect(await compactedIn(store, "year=2026/month=11/day=21")).toHaveLength(1)
    })

    it("lets an append that commits first land: compaction then commits after it, and both are in the table", async () => {
      const store = await make()
      const service = await run(open(store))
      await writeWindows(service, 3)
      const before = await run(readSnapshot(store, ROOT))
      let appended: number | undefined
      const report = await compact(interleaved(store, async () => {
        // The service's next window, into the partition being compacted, while compaction works.
        appended = await run(service.write({ sp, from: 30, to: 34, expected: 29, decisions: 1, parts: [part(30, 34, 21)] }))
      }))
      expect(appended).toBe(before.version + 1)
      expect(report.partitions.map((p) => [p.partition, p.filesBefore, p.version])).toEqual([
        ["year=2026/month=11/day=21", 3, before.version + 2],
        ["year=2026/month=11/day=22", 3, before.version + 3]
      ])
      const after = await run(readSnapshot(store, ROOT))
      // The appended file is live beside the merged one; every offset is there once.
      expect(after.totals).toMatchObject({ files: 3, records: 35 })
      expect([...after.files.keys()].filter((f) => /\/part-0-30-34-/.test(f))).toHaveLength(1)
      const rows = await liveRows(store)
      expect(rows.map((r) => Number(r.split(":")[0]))).toEqual(Array.from({ length: 35 }, (_, i) => i))
      expect(after.txns.get(offsetsAppId("things", sp))).toBe(34)
      // The service goes on from there.
      await run(service.write({ sp, from: 35, to: 39, expected: 34, decisions: 1, parts: [part(35, 39, 22)] }))
      expect((await liveRows(store)).length).toBe(40)
      expect(await exists(store, joinKey(ROOT, "_metadata.json"))).toBe(true)
    })

    it("keeps the merged file the log names when what follows the commit fails (its checkpoint here)", async () => {
      const store = await make()
      await writeWindows(await run(open(store)), 3)
      const rowsBefore = await liveRows(store)
      const before = await run(readSnapshot(store, ROOT))
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
      const after = await run(readSnapshot(store, ROOT))
      expect(after.version).toBe(before.version + 1)
      for (const file of after.files.keys()) expect(await exists(store, joinKey(ROOT, file)), file).toBe(true)
      expect(await liveRows(store)).toEqual(rowsBefore)
    })
  })

export const retentionContract = (name: string, make: MakeStore) =>
  describe(`retention on ${name}`, () => {
    it("a dry run lists the old day partitions with their sizes and changes nothing; the real run removes them through the log", async () => {
      const store = await make()
      const table = await run(open(store))
      const at = (from: number, to: number, days: number) => rowsAt(from, to, () => Date.now() - days * DAY_MS)
      await run(table.write({ sp, from: 0, to: 9, expected: undefined, decisions: 1, parts: [at(0, 2, 10), at(3, 5, 5), at(6, 9, 0)] }))
      await run(table.write({ sp, from: 10, to: 14, expected: 9, decisions: 1, parts: [at(10, 14, 5)] }))
      const before = await run(readSnapshot(store, ROOT))
      const logBefore = await keysUnder(store, joinKey(ROOT, "_delta_log"))
      const metadataBefore = await textAt(store, joinKey(ROOT, "_metadata.json"))
      const folder = (days: number) => partitionPath(datePartition(Date.now() - days * DAY_MS))

      const dry = await run(expireStream(store, ROOT, { days: 3, dryRun: true, checkpointInterval: 10 }))
      expect(dry.partitions.map((p) => [p.partition, p.files, p.rows])).toEqual([[folder(10), 1, 3], [folder(5), 2, 8]])
      expect(dry).toMatchObject({ files: 3, rows: 11, version: null })
      expect(dry.bytes).toBeGreaterThan(0)
      expect(dry.bytes).toBe(dry.partitions.reduce((n, p) => n + p.bytes, 0))
      // Nothing changed: no commit, the same live files, the same metadata.
      expect(await keysUnder(store, joinKey(ROOT, "_delta_log"))).toEqual(logBefore)
      expect((await run(readSnapshot(store, ROOT))).files.size).toBe(before.files.size)
      expect(await textAt(store, joinKey(ROOT, "_metadata.json"))).toBe(metadataBefore)

      const real = await run(expireStream(store, ROOT, { days: 3, dryRun: false, checkpointInterval: 10 }))
      expect(real).toMatchObject({ files: 3, rows: 11, version: before.version + 1 })
      const after = await run(readSnapshot(store, ROOT))
      expect([...after.files.keys()].map((f) => f.slice(0, f.lastIndexOf("/")))).toEqual([folder(0)])
      expect(after.totals.records).toBe(4)
      // Removed through the log, not deleted: versions before it still read them until vacuum.
      const removed = [...before.files.keys()].filter((f) => !after.files.has(f))
      expect(removed).toHaveLength(3)
      for (const file of removed) {
        expect(after.tombstones.get(file)?.dataChange).toBe(true)
        expect(await exists(store, joinKey(ROOT, file))).toBe(true)
      }
      // The writer's txns are untouched, and _metadata.json follows.
      expect(after.txns).toEqual(before.txns)
      expect(JSON.parse((await textAt(store, joinKey(ROOT, "_metadata.json")))!)).toMatchObject({ records: 4, files: 1, version: after.version })
      // Nothing older is left: another run commits nothing.
      expect(await run(expireStream(store, ROOT, { days: 3, dryRun: false, checkpointInterval: 10 }))).toMatchObject({ files: 0, version: null })
    })

    it("keeps the files of the last K snapshots, which time travel still reads, and deletes older ones' (a dry run deletes nothing)", async () => {
      const store = await make()
      const table: SnapshotTable = { name: "counts", description: "test", columns: [{ name: "n", type: "integer" }] }
      const ROOT_T = "tables/counts"
      for (let n = 1; n <= 4; n++) {
        await run(writeSnapshot(store, ROOT_T, table, {
          reflects: new Map(),
          keep: 100,
          write: (file) => Effect.promise(() => fs.writeFile(file, encodeParquet(tableFromArrays({ n: Int32Array.from([n]) })))).pipe(Effect.as(1))
        }))
      }
      const parquet = async () => (await keysUnder(store, ROOT_T)).filter((f) => f.endsWith(".parquet") && !f.startsWith("_delta_log/"))
      const all = await parquet()
      expect(all.map((f) => f.split("/")[0])).toEqual(["version=v1", "version=v2", "version=v3", "version=v4"])

      const dry = await run(expireSnapshots(store, ROOT_T, { keep: 2, dryRun: true }))
      expect(dry.deleted.map((f) => f.snapshot)).toEqual([1, 2])
      expect(dry.bytes).toBeGreaterThan(0)
      expect(await parquet()).toEqual(all)

      const real = await run(expireSnapshots(store, ROOT_T, { keep: 2, dryRun: false }))
      expect(real).toMatchObject({ snapshot: 4, keepVersions: 2 })
      expect(await parquet()).toEqual(all.slice(2))
      // The kept snapshot 3 is still whole as a reader that travels to it sees it: its files exist.
      const snapshot = await run(readSnapshot(store, ROOT_T))
      const kept = [...snapshot.tombstones.keys()].filter((f) => f.startsWith("version=v3/"))
      expect(kept).toHaveLength(1)
      expect(await exists(store, joinKey(ROOT_T, kept[0]!))).toBe(true)
      for (const live of snapshot.files.keys()) expect(await exists(store, joinKey(ROOT_T, live))).toBe(true)
      expect(JSON.parse((await textAt(store, joinKey(ROOT_T, "_metadata.json")))!)).toMatchObject({ snapshot: 4, files: 1 })
      // Keeping one: only the live snapshot's file is left.
      await run(expireSnapshots(store, ROOT_T, { keep: 1, dryRun: false }))
      expect(await parquet()).toEqual(all.slice(3))
    })
  })

const add = (p: string) => ({ path: p, partitionValues: {}, size: 3, modificationTime: 0, dataChange: true })
const bareTable = (store: Store, configuration: Record<string, string>, checkpointInterval: number) =>
  run(openDeltaTable({
    store,
    root: "t",
    checkpointInterval,
    protocol: { minReaderVersion: 1, minWriterVersion: 2 },
    metaData: { id: "m", format: { provider: "parquet", options: {} }, schemaString: "{}", partitionColumns: [], configuration, createdTime: 0 }
  }))

export const vacuumContract = (name: string, make: MakeStore) =>
  describe(`vacuum and log cleanup on ${name}`, () => {
    it("deletes removed, uncommitted and temporary files past the retention, and nothing else a store lists", async () => {
      const store = await make()
      const table = await bareTable(store, {}, 100)
      const files = {
        live: "year=2026/part-0-0-9-0-aaaaaaaaaaaa-00000001.parquet",
        removed: "year=2026/part-0-0-4-0-aaaaaaaaaaaa-00000002.parquet",
        uncommitted: "year=2026/part-0-10-19-0-aaaaaaaaaaaa-00000003.parquet",
        temporary: "year=2026/.part-0-10-19-0-aaaaaaaaaaaa-00000004.parquet.0a1b2c.tmp",
        // What an S3-compatible server may list while an upload is in flight: not an object of the lake.
        inFlight: "year=2026/part-0-20-29-0-aaaaaaaaaaaa-00000005.parquet-6f1d3c1e-93a3-4c7e-8a3e-1f0f3a9b2c4d",
        metadata: "_metadata.json",
        logTemporary: "_delta_log/.00000000000000000009.json.0d0e0f.tmp"
      }
      for (const f of Object.values(files)) await run(store.put(joinKey("t", f), "abc"))
      await run(table.commit({ txns: [], adds: [add(files.removed)], operation: "WRITE" }))
      await run(table.commit({ txns: [], adds: [add(files.live)], removes: [{ path: files.removed, deletionTimestamp: 1_000, dataChange: true }], operation: "WRITE" }))

      // Within the retention nothing goes, not even what a writer left: it may still commit it.
      const recent = await run(vacuumTable(store, "t", { retainMs: 3_600_000, now: Date.now(), dryRun: false }))
      expect(recent.deleted.map((f) => f.path)).toEqual([files.removed])

      const report = await run(vacuumTable(store, "t", { retainMs: 3_600_000, now: Date.now() + 7_200_000, dryRun: false }))
      expect(report).toMatchObject({ table: "t", location: store.locate("t") })
      expect(report.deleted.map((f) => [f.path, f.reason]).sort()).toEqual([
        [files.logTemporary, "temporary"],
        [files.temporary, "temporary"],
        [files.uncommitted, "uncommitted"]
      ].sort())
      const left = (await keysUnder(store, "t")).filter((f) => !f.startsWith("_delta_log/0"))
      expect(left).toEqual([files.live, files.inFlight, files.metadata].sort())
    })

    it("cleans the log too: with a log retention given, expired commits before the latest checkpoint go (a dry run lists them)", async () => {
      const store = await make()
      // The writer leaves its log alone: vacuum is the one cleaning it here.
      const table = await bareTable(store, { "delta.enableExpiredLogCleanup": "false" }, 3)
      for (let i = 0; i < 5; i++) await run(table.commit({ txns: [], adds: [add(`f${i}.parquet`)], operation: "WRITE" }))
      const log = () => keysUnder(store, "t/_delta_log")
      const before = await log()
      // Within the table's 30 days nothing of the log goes.
      expect((await run(vacuumTable(store, "t", { retainMs: 3_600_000, now: Date.now(), dryRun: false }))).deleted).toEqual([])
      const dry = await run(vacuumTable(store, "t", { retainMs: 3_600_000, now: Date.now(), dryRun: true, logRetentionMs: 0 }))
      expect(dry.deleted.map((f) => [f.path, f.reason])).toEqual([0, 1, 2].map((v) => [`_delta_log/${commitFileName(v)}`, "log"]))
      expect(await log()).toEqual(before)
      const real = await run(vacuumTable(store, "t", { retainMs: 3_600_000, now: Date.now(), dryRun: false, logRetentionMs: 0 }))
      expect(real.deleted).toEqual(dry.deleted)
      expect(await log()).toEqual(["00000000000000000003.checkpoint.parquet", "00000000000000000003.json", "00000000000000000004.json", "_last_checkpoint"])
    })

    it("reads the same table after cleanup, and a writer whose next commit went reloads and commits the right next version", async () => {
      const store = await make()
      const stale = await bareTable(store, {}, 4)
      await run(stale.commit({ txns: [{ appId: "s", expected: undefined, version: 1 }], adds: [add("s0.parquet")], operation: "WRITE" }))
      const writer = await bareTable(store, {}, 4)
      for (let i = 1; i <= 9; i++) await run(writer.commit({ txns: [], adds: [add(`f${i}.parquet`)], operation: "WRITE" }))
      const before = await run(readSnapshot(store, "t"))
      const cleaned = await run(cleanupLog(store, "t", { retentionMs: 0, dryRun: false }))
      expect(cleaned.checkpoint).toBe(8)
      expect(cleaned.deleted.at(-1)?.version).toBe(7)
      expect((await keysUnder(store, "t/_delta_log")).filter((k) => k.endsWith(".json"))).toEqual([commitFileName(8), commitFileName(9)])
      const after = await run(readSnapshot(store, "t"))
      expect({ version: after.version, files: [...after.files.keys()].sort(), txns: after.txns }).toEqual({ version: before.version, files: [...before.files.keys()].sort(), txns: before.txns })
      // The stale writer's next commit (1.json) is gone: it must not take version 1 again.
      expect(await run(stale.commit({ txns: [{ appId: "s", expected: 1, version: 2 }], adds: [add("s1.parquet")], operation: "WRITE" }))).toBe(10)
      const last = await run(readSnapshot(store, "t"))
      expect(last.files.size).toBe(11)
      expect(last.txns.get("s")).toBe(2)
      expect(await exists(store, joinKey("t", "_delta_log", commitFileName(1)))).toBe(false)
    })
  })
