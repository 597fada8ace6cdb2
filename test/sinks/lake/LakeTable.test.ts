import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { withDuckDb } from "../../../src/ops/DuckDb.ts"
import { RowGroup, scalar, source, sourcesOf } from "../../../src/sinks/lake/Columns.ts"
import type { LakeFeed } from "../../../src/sinks/lake/Feeds.ts"
import { datePartition } from "../../../src/sinks/lake/HivePartition.ts"
import { dataFileName, type FilePart, openLakeTable } from "../../../src/sinks/lake/LakeTable.ts"
import { inlineEncoder } from "../../../src/sinks/lake/ParquetEncoder.ts"
import { failureOf } from "../../support/Failure.ts"

interface Row {
  readonly offset: number
  readonly time: number
  readonly label: string
}

const feed: LakeFeed<Row> = {
  name: "things",
  kind: "streams",
  description: "test rows",
  input: "records",
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
  const d = mkdtempSync(path.join(tmpdir(), "sluice-lake-"))
  dirs.push(d)
  return d
}
const open = (root: string) => openLakeTable(feed, { lakeRoot: root, compression: "zstd", checkpointInterval: 10, encoder: inlineEncoder })

/** One file part of rows `from..to`, all on day `day` of November 2026. */
const part = (from: number, to: number, day: number): FilePart => {
  const group = new RowGroup(sourcesOf(feed.columns))
  for (let o = from; o <= to; o++) group.add({ offset: o, time: Date.UTC(2026, 10, day, 12), label: `r${o}` })
  return { date: datePartition(Date.UTC(2026, 10, day)), table: group.table(feed.columns), stats: group.stats(feed.columns) }
}

const allFiles = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)))

describe("LakeTable", () => {
  it("writes one file per date partition and commits them with the partition's txn and stats", async () => {
    const root = lake()
    const table = await Effect.runPromise(open(root))
    await Effect.runPromise(table.write({ topic: "t", partition: 2, from: 0, to: 9, expected: undefined, parts: [part(0, 4, 21), part(5, 9, 22)] }))
    const snapshot = await Effect.runPromise(table.snapshot)
    const first = `year=2026/month=11/day=21/${dataFileName(2, 0, 9, 0)}`
    expect([...snapshot.files.keys()].sort()).toEqual([first, `year=2026/month=11/day=22/${dataFileName(2, 0, 9, 1)}`])
    expect(snapshot.files.get(first)?.partitionValues).toEqual({ year: "2026", month: "11", day: "21" })
    expect(JSON.parse(snapshot.files.get(first)!.stats!)).toMatchObject({
      numRecords: 5,
      minValues: { _kafka_offset: 0, time: "2026-11-21T12:00:00.000Z" },
      maxValues: { _kafka_offset: 4 },
      nullCount: { label: 0 }
    })
    expect(snapshot.txns.get("things@t/2")).toBe(9)
    expect(snapshot.totals).toMatchObject({ files: 2, records: 10 })
    const counted = await Effect.runPromise(withDuckDb((db) =>
      db.query(`SELECT count(*) AS n, count(DISTINCT day) AS days, min(label) AS first FROM read_parquet('${root}/streams/things/*=*/**/*.parquet', hive_partitioning = true)`)))
    expect(counted[0]).toMatchObject({ n: 10n, days: 2n, first: "r0" })
  })

  it("on recovery removes the partition's files that no commit names, and leaves other partitions alone", async () => {
    const root = lake()
    const table = await Effect.runPromise(open(root))
    await Effect.runPromise(table.write({ topic: "t", partition: 0, from: 0, to: 4, expected: undefined, parts: [part(0, 4, 21)] }))
    const dayDir = path.join(root, "streams", "things", "year=2026", "month=11", "day=21")
    const otherDay = path.join(root, "streams", "things", "year=2026", "month=11", "day=23")
    mkdirSync(otherDay, { recursive: true })
    // A writer that died after its rename (never committed), one that died after its temp write,
    // one whose window overlaps the committed one, and another partition's uncommitted file.
    writeFileSync(path.join(otherDay, dataFileName(0, 5, 9, 0)), "orphan")
    writeFileSync(path.join(dayDir, `.${dataFileName(0, 5, 9, 0)}.abc123.tmp`), "partial")
    writeFileSync(path.join(dayDir, dataFileName(0, 0, 7, 0)), "overlapping orphan")
    writeFileSync(path.join(dayDir, dataFileName(1, 0, 3, 0)), "partition 1 in flight")
    const committed = await Effect.runPromise((await Effect.runPromise(open(root))).recover("t", 0))
    expect(committed).toBe(4)
    const left = allFiles(path.join(root, "streams", "things")).filter((f) => !f.startsWith("_delta_log"))
    expect(left.sort()).toEqual([
      "_metadata.json",
      `year=2026/month=11/day=21/${dataFileName(0, 0, 4, 0)}`,
      `year=2026/month=11/day=21/${dataFileName(1, 0, 3, 0)}`
    ])
  })

  it("refuses a stale writer and removes only its own uncommitted files", async () => {
    const root = lake()
    const winner = await Effect.runPromise(open(root))
    const loser = await Effect.runPromise(open(root))
    await Effect.runPromise(winner.write({ topic: "t", partition: 0, from: 0, to: 4, expected: undefined, parts: [part(0, 4, 21)] }))
    const exit = await Effect.runPromiseExit(loser.write({ topic: "t", partition: 0, from: 0, to: 6, expected: undefined, parts: [part(0, 6, 22)] }))
    expect(failureOf(exit)).toMatchObject({ _tag: "Fenced", appId: "things@t/0", expected: undefined, found: 4 })
    expect(existsSync(path.join(root, "streams/things/year=2026/month=11/day=22", dataFileName(0, 0, 6, 0)))).toBe(false)
    // Same window boundaries as the winner: the file of that name is the winner's, and stays.
    const again = await Effect.runPromiseExit(loser.write({ topic: "t", partition: 0, from: 0, to: 4, expected: undefined, parts: [part(0, 4, 21)] }))
    expect(failureOf(again)).toMatchObject({ _tag: "Fenced", appId: "things@t/0", expected: undefined, found: 4 })
    expect(existsSync(path.join(root, "streams/things/year=2026/month=11/day=21", dataFileName(0, 0, 4, 0)))).toBe(true)
  })
})
