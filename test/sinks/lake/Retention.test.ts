import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as fs from "node:fs/promises"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { tableFromArrays } from "apache-arrow"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { DAY_MS } from "../../../src/domain/CivilDate.ts"
import { RowGroup, scalar, source, sourcesOf } from "../../../src/sinks/lake/Columns.ts"
import { readSnapshot } from "../../../src/sinks/lake/DeltaLog.ts"
import type { LakeFeed } from "../../../src/sinks/lake/Feeds.ts"
import { datePartition, partitionPath } from "../../../src/sinks/lake/HivePartition.ts"
import { type FilePart, openLakeTable } from "../../../src/sinks/lake/LakeTable.ts"
import { inlineEncoder } from "../../../src/sinks/lake/ParquetEncoder.ts"
import { encodeParquet } from "../../../src/sinks/lake/ParquetFile.ts"
import { expireSnapshots, expireStream, partitionDay } from "../../../src/sinks/lake/Retention.ts"
import { type SnapshotTable, writeSnapshot } from "../../../src/sinks/lake/Snapshot.ts"
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { records } from "../../../src/topology/Processor.ts"

interface Row {
  readonly offset: number
  readonly time: number
}

const feed: LakeFeed<Row> = {
  name: "things",
  kind: "streams",
  description: "test rows",
  input: records<Row>("things"),
  columns: [
    scalar("_kafka_offset", source.int64<Row>("_kafka_offset", (r) => r.offset)),
    scalar("time", source.timestamp<Row>("time", (r) => r.time))
  ],
  offsetOf: (r) => r.offset,
  partitionTime: (r) => r.time
}

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const lake = () => {
  const d = mkdtempSync(path.join(tmpdir(), "sluice-retention-"))
  dirs.push(d)
  return d
}
const ROOT = "streams/things"

/** Rows `from..to` dated `daysAgo` days before now. */
const part = (from: number, to: number, daysAgo: number): FilePart => {
  const group = new RowGroup(sourcesOf(feed.columns))
  const time = Date.now() - daysAgo * DAY_MS
  for (let o = from; o <= to; o++) group.add({ offset: o, time })
  return { date: datePartition(time), table: group.table(feed.columns), stats: group.stats(feed.columns) }
}

describe("stream retention", () => {
  it("a dry run lists the old day partitions with their sizes and changes nothing; the real run removes them through the log", async () => {
    const dir = lake()
    const store = makeLocalStore(dir)
    const table = await Effect.runPromise(openLakeTable(feed, { store, compression: "zstd", checkpointInterval: 10, encoder: inlineEncoder }))
    const sp = { topic: "t", topicId: "AAAAAAAAAAAAAAAAAAAAAA", partition: 0 }
    await Effect.runPromise(table.write({ sp, from: 0, to: 9, expected: undefined, decisions: 1, parts: [part(0, 2, 10), part(3, 5, 5), part(6, 9, 0)] }))
    await Effect.runPromise(table.write({ sp, from: 10, to: 14, expected: 9, decisions: 1, parts: [part(10, 14, 5)] }))
    const before = await Effect.runPromise(readSnapshot(store, ROOT))
    const logFiles = async () => (await fs.readdir(path.join(dir, ROOT, "_delta_log"))).sort()
    const logBefore = await logFiles()
    const metadataBefore = readFileSync(path.join(dir, ROOT, "_metadata.json"), "utf8")
    const folder = (daysAgo: number) => partitionPath(datePartition(Date.now() - daysAgo * DAY_MS))

    const dry = await Effect.runPromise(expireStream(store, ROOT, { days: 3, dryRun: true, checkpointInterval: 10 }))
    expect(dry.partitions.map((p) => [p.partition, p.files, p.rows])).toEqual([[folder(10), 1, 3], [folder(5), 2, 8]])
    expect(dry.bytes).toBeGreaterThan(0)
    expect(dry).toMatchObject({ files: 3, rows: 11, version: null })
    expect(dry.bytes).toBe(dry.partitions.reduce((n, p) => n + p.bytes, 0))
    // Nothing changed: no commit, the same live files, the same metadata.
    expect(await logFiles()).toEqual(logBefore)
    expect((await Effect.runPromise(readSnapshot(store, ROOT))).files.size).toBe(before.files.size)
    expect(readFileSync(path.join(dir, ROOT, "_metadata.json"), "utf8")).toBe(metadataBefore)

    const real = await Effect.runPromise(expireStream(store, ROOT, { days: 3, dryRun: false, checkpointInterval: 10 }))
    expect(real).toMatchObject({ files: 3, rows: 11, version: before.version + 1 })
    const after = await Effect.runPromise(readSnapshot(store, ROOT))
    expect([...after.files.keys()].map((f) => path.dirname(f))).toEqual([folder(0)])
    expect(after.totals.records).toBe(4)
    // Removed through the log, not deleted: versions before it still read them until vacuum.
    for (const removed of [...before.files.keys()].filter((f) => !after.files.has(f))) {
      expect(after.tombstones.get(removed)?.dataChange).toBe(true)
      expect(existsSync(path.join(dir, ROOT, removed))).toBe(true)
    }
    // The writer's txns are untouched, and _metadata.json follows.
    expect(after.txns).toEqual(before.txns)
    expect(JSON.parse(readFileSync(path.join(dir, ROOT, "_metadata.json"), "utf8"))).toMatchObject({ records: 4, files: 1, version: after.version })
    // Nothing older is left: another run commits nothing.
    expect(await Effect.runPromise(expireStream(store, ROOT, { days: 3, dryRun: false, checkpointInterval: 10 }))).toMatchObject({ files: 0, version: null })
  })

  it("dates partitions by year/month/day or by jour", () => {
    expect(partitionDay({ year: "1970", month: "01", day: "02" })).toBe(1)
    expect(partitionDay({ jour: "1970-01-03" })).toBe(2)
    expect(partitionDay({ version: "v3" })).toBeUndefined()
  })
})

describe("table retention", () => {
  const table: SnapshotTable = { name: "counts", description: "test", columns: [{ name: "n", type: "integer" }] }
  const ROOT_T = "tables/counts"

  it("keeps the files of the last K snapshots, which time travel still reads, and deletes older ones' (a dry run deletes nothing)", async () => {
    const dir = lake()
    const store = makeLocalStore(dir)
    for (let n = 1; n <= 4; n++) {
      await Effect.runPromise(writeSnapshot(store, ROOT_T, table, {
        reflects: new Map(),
        keep: 100,
        write: (file) => Effect.promise(() => fs.writeFile(file, encodeParquet(tableFromArrays({ n: Int32Array.from([n]) })))).pipe(Effect.as(1))
      }))
    }
    const parquet = async () => (await fs.readdir(path.join(dir, ROOT_T), { recursive: true })).filter((f) => f.endsWith(".parquet")).sort()
    const all = await parquet()
    expect(all.map((f) => f.split("/")[0])).toEqual(["version=v1", "version=v2", "version=v3", "version=v4"])

    const dry = await Effect.runPromise(expireSnapshots(store, ROOT_T, { keep: 2, dryRun: true }))
    expect(dry.deleted.map((f) => f.snapshot)).toEqual([1, 2])
    expect(dry.bytes).toBeGreaterThan(0)
    expect(await parquet()).toEqual(all)

    const real = await Effect.runPromise(expireSnapshots(store, ROOT_T, { keep: 2, dryRun: false }))
    expect(real).toMatchObject({ snapshot: 4, keepVersions: 2 })
    expect(await parquet()).toEqual(all.slice(2))
    // The kept snapshot 3 is still whole as a reader that travels to it sees it: its files exist.
    const snapshot = await Effect.runPromise(readSnapshot(store, ROOT_T))
    const kept = [...snapshot.tombstones.keys()].filter((f) => f.startsWith("version=v3/"))
    expect(kept).toHaveLength(1)
    expect(existsSync(path.join(dir, ROOT_T, kept[0]!))).toBe(true)
    for (const live of snapshot.files.keys()) expect(existsSync(path.join(dir, ROOT_T, live))).toBe(true)
    expect(JSON.parse(readFileSync(path.join(dir, ROOT_T, "_metadata.json"), "utf8"))).toMatchObject({ snapshot: 4, files: 1 })
    // Keeping one: only the live snapshot's file is left.
    await Effect.runPromise(expireSnapshots(store, ROOT_T, { keep: 1, dryRun: false }))
    expect(await parquet()).toEqual(all.slice(3))
  })
})
