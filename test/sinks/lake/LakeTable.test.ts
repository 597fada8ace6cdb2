import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { withDuckDb } from "../../../src/ops/DuckDb.ts"
import { RowGroup, sourcesOf } from "../../../src/sinks/lake/Columns.ts"
import { datePartition } from "../../../src/sinks/lake/HivePartition.ts"
import { dataFileName, type FilePart, openLakeTable, TOPIC_ID_TAG } from "../../../src/sinks/lake/LakeTable.ts"
import { openDeltaTable } from "../../../src/sinks/lake/DeltaLog.ts"
import { decisionsAppId, offsetsAppId } from "../../../src/sinks/lake/TxnAppId.ts"
import { inlineEncoder } from "../../../src/sinks/lake/ParquetEncoder.ts"
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { failureOf } from "../../support/Failure.ts"
import { thingsFeed } from "../../support/Lake.ts"

const feed = thingsFeed

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const lake = () => {
  const d = mkdtempSync(path.join(tmpdir(), "sluice-lake-"))
  dirs.push(d)
  return d
}
const open = (root: string) => openLakeTable(feed, { store: makeLocalStore(root), compression: "zstd", checkpointInterval: 10, encoder: inlineEncoder })

/** One file part of rows `from..to`, all on day `day` of November 2026. */
const part = (from: number, to: number, day: number): FilePart => {
  const group = new RowGroup(sourcesOf(feed.columns))
  for (let o = from; o <= to; o++) group.add({ offset: o, time: Date.UTC(2026, 10, day, 12), label: `r${o}` })
  return { date: datePartition(Date.UTC(2026, 10, day)), table: group.table(feed.columns), stats: group.stats(feed.columns) }
}

const sp = (partition: number, topicId = "AAAAAAAAAAAAAAAAAAAAAA") => ({ topic: "t", topicId, partition })

/** The data files of a table folder, relative to it. */
const dataFiles = (dir: string): Array<string> => allFiles(dir).filter((f) => f.endsWith(".parquet") && !f.startsWith("_delta_log")).sort()

const fileName = /^year=2026\/month=11\/day=(\d\d)\/part-(\d+)-(\d+)-(\d+)-(\d+)-aaaaaaaaaaaa-([0-9a-f]{8})\.parquet$/

const allFiles = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)))

describe("LakeTable", () => {
  it("writes one file per date partition and commits them with the partition's txn, decisions, stats and topic id", async () => {
    const root = lake()
    const table = await Effect.runPromise(open(root))
    await Effect.runPromise(table.write({ sp: sp(2), from: 0, to: 9, expected: undefined, decisions: 77, parts: [part(0, 4, 21), part(5, 9, 22)] }))
    const snapshot = await Effect.runPromise(table.snapshot)
    const files = [...snapshot.files.keys()].sort()
    expect(files.map((f) => fileName.exec(f)?.slice(1, 6))).toEqual([["21", "2", "0", "9", "0"], ["22", "2", "0", "9", "1"]])
    // One writer token per write: both files of the window carry the same one.
    expect(new Set(files.map((f) => fileName.exec(f)![6])).size).toBe(1)
    const first = snapshot.files.get(files[0]!)!
    expect(first.partitionValues).toEqual({ year: "2026", month: "11", day: "21" })
    expect(first.tags).toEqual({ [TOPIC_ID_TAG]: "AAAAAAAAAAAAAAAAAAAAAA" })
    expect(JSON.parse(first.stats!)).toMatchObject({
      numRecords: 5,
      minValues: { _kafka_offset: 0, time: "2026-11-21T12:00:00.000Z" },
      maxValues: { _kafka_offset: 4 },
      nullCount: { label: 0 }
    })
    expect(snapshot.txns.get(offsetsAppId("things", sp(2)))).toBe(9)
    expect(snapshot.txns.get(decisionsAppId("things", sp(2)))).toBe(77)
    expect(await Effect.runPromise(table.committed(sp(2)))).toEqual({ last: 9, decisions: 77 })
    // Another incarnation of the topic has committed nothing.
    expect(await Effect.runPromise(table.committed(sp(2, "BBBBBBBBBBBBBBBBBBBBBB")))).toEqual({ last: undefined, decisions: undefined })
    expect(snapshot.totals).toMatchObject({ files: 2, records: 10 })
    const counted = await Effect.runPromise(withDuckDb((db) =>
      db.query(`SELECT count(*) AS n, count(DISTINCT day) AS days, min(label) AS first FROM read_parquet('${root}/streams/things/*=*/**/*.parquet', hive_partitioning = true)`)))
    expect(counted[0]).toMatchObject({ n: 10n, days: 2n, first: "r0" })
  })

  it("recovery deletes nothing: a file renamed by a writer that has not committed yet stays, and its commit names a file that exists", async () => {
    const root = lake()
    const table = await Effect.runPromise(open(root))
    await Effect.runPromise(table.write({ sp: sp(0), from: 0, to: 4, expected: undefined, decisions: 1, parts: [part(0, 4, 21)] }))
    const tableDir = path.join(root, "streams", "things")
    // A paused writer (GC, SIGSTOP, slow disk) has renamed its file for 5..9 but not committed it;
    // meanwhile the partition's new owner recovers.
    const dayDir = path.join(tableDir, "year=2026", "month=11", "day=22")
    mkdirSync(dayDir, { recursive: true })
    const pending = dataFileName(sp(0), 5, 9, 0, "0badc0de")
    writeFileSync(path.join(dayDir, pending), "renamed, not yet committed")
    const successor = await Effect.runPromise(open(root))
    expect(await Effect.runPromise(successor.recover(sp(0)))).toEqual({ last: 4, decisions: 1 })
    expect(existsSync(path.join(dayDir, pending))).toBe(true)
    // The paused writer wakes up and commits before the new owner: its file is there to be read.
    const zombie = await Effect.runPromise(openDeltaTable({ store: makeLocalStore(tableDir), root: "", checkpointInterval: 10, protocol: { minReaderVersion: 1, minWriterVersion: 2 }, metaData: (await Effect.runPromise(table.snapshot)).metaData! }))
    await Effect.runPromise(zombie.commit({
      txns: [{ appId: offsetsAppId("things", sp(0)), expected: 4, version: 9 }],
      adds: [{ path: `year=2026/month=11/day=22/${pending}`, partitionValues: { year: "2026", month: "11", day: "22" }, size: 26, modificationTime: 0, dataChange: true }],
      operation: "WRITE"
    }))
    const snapshot = await Effect.runPromise(successor.snapshot)
    for (const file of snapshot.files.keys()) expect(existsSync(path.join(tableDir, file)), file).toBe(true)
    // The new owner is fenced, and its files go, not the zombie's.
    const fenced = await Effect.runPromiseExit(successor.write({ sp: sp(0), from: 5, to: 9, expected: 4, decisions: 1, parts: [part(5, 9, 22)] }))
    expect(Exit.isFailure(fenced)).toBe(true)
    expect(dataFiles(tableDir)).toEqual([...snapshot.files.keys()].sort())
  })

  it("after its first commit, the new owner removes the files of writers that can no longer commit them", async () => {
    const root = lake()
    const table = await Effect.runPromise(open(root))
    await Effect.runPromise(table.write({ sp: sp(0), from: 0, to: 4, expected: undefined, decisions: 1, parts: [part(0, 4, 21)] }))
    const tableDir = path.join(root, "streams", "things")
    const dayDir = path.join(tableDir, "year=2026", "month=11", "day=22")
    mkdirSync(dayDir, { recursive: true })
    const stale = dataFileName(sp(0), 5, 7, 0, "0badc0de")
    const temporary = `.${dataFileName(sp(0), 5, 6, 0, "0badc0df")}.abc123.tmp`
    const ahead = dataFileName(sp(0), 10, 12, 0, "0badc0e0")
    const otherIncarnation = dataFileName(sp(0, "CCCCCCCCCCCCCCCCCCCCCC"), 5, 7, 0, "0badc0e1")
    const otherPartition = dataFileName(sp(1), 0, 3, 0, "0badc0e2")
    for (const name of [stale, temporary, ahead, otherIncarnation, otherPartition]) writeFileSync(path.join(dayDir, name), "not committed")
    const owner = await Effect.runPromise(open(root))
    await Effect.runPromise(owner.recover(sp(0)))
    expect(readdirSync(dayDir)).toHaveLength(5)
    await Effect.runPromise(owner.write({ sp: sp(0), from: 5, to: 9, expected: 4, decisions: 1, parts: [part(5, 9, 22)] }))
    // 5..7 and 5..6 expected 4, which the log no longer holds: gone. 10..12 could still commit after 9.
    const left = readdirSync(dayDir).sort()
    expect(left).toContain(ahead)
    expect(left).toContain(otherIncarnation)
    expect(left).toContain(otherPartition)
    expect(left).not.toContain(stale)
    expect(left).not.toContain(temporary)
  })

  it("refuses a stale writer and removes only its own files, never the winner's", async () => {
    const root = lake()
    const winner = await Effect.runPromise(open(root))
    const loser = await Effect.runPromise(open(root))
    await Effect.runPromise(winner.write({ sp: sp(0), from: 0, to: 4, expected: undefined, decisions: 1, parts: [part(0, 4, 21)] }))
    const tableDir = path.join(root, "streams", "things")
    const winners = dataFiles(tableDir)
    expect(winners).toHaveLength(1)
    for (const to of [6, 4]) {
      // Other window boundaries, then the winner's own: both fenced, and only the loser's files go.
      const exit = await Effect.runPromiseExit(loser.write({ sp: sp(0), from: 0, to, expected: undefined, decisions: 1, parts: [part(0, to, 22)] }))
      expect(failureOf(exit)).toMatchObject({ _tag: "Fenced", appId: offsetsAppId("things", sp(0)), expected: undefined, found: 4 })
      expect(dataFiles(tableDir)).toEqual(winners)
    }
  })
})
