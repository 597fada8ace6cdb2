/**
 * Interop: after log cleanup deleted a table's expired commits and older checkpoints, Delta Kernel
 * still reads it (latest version, and time travel to the versions that stay), with or without the
 * `_last_checkpoint` pointer, and sees what our own reader sees.
 */
import { mkdtempSync, readdirSync, rmSync, unlinkSync, utimesSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { tableFromArrays } from "apache-arrow"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanupLog, openDeltaTable, readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { encodeParquet } from "../../src/sinks/lake/ParquetFile.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { buildDeltaReader, readDeltaTable } from "./DeltaReader.ts"

const root = mkdtempSync(path.join(tmpdir(), "sluice-kernel-logcleanup-"))
const store = makeLocalStore(root)
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
afterAll(() => rmSync(root, { recursive: true, force: true }))

const COMMITS = 15
/** Commit i adds f<i>.parquet with i + 1 rows; commit 7 also removes f2.parquet. */
const rowsOf = (i: number) => i + 1
let deleted: Array<number> = []

beforeAll(async () => {
  const kernel = buildDeltaReader()
  const table = await run(openDeltaTable({
    store,
    root: "",
    checkpointInterval: 4,
    protocol: { minReaderVersion: 1, minWriterVersion: 2 },
    metaData: {
      id: "5b1d7c0e-0000-4000-8000-00000000c1ea",
      format: { provider: "parquet", options: {} },
      schemaString: JSON.stringify({ type: "struct", fields: [{ name: "x", type: "long", nullable: false, metadata: {} }] }),
      partitionColumns: [],
      configuration: {},
      createdTime: Date.now()
    }
  }))
  for (let i = 0; i < COMMITS; i++) {
    const name = `f${i}.parquet`
    const bytes = encodeParquet(tableFromArrays({ x: BigInt64Array.from({ length: rowsOf(i) }, (_, r) => BigInt(i * 100 + r)) }))
    await run(store.put(name, bytes))
    await run(table.commit({
      txns: [],
      adds: [{ path: name, partitionValues: {}, size: bytes.length, modificationTime: Date.now(), dataChange: true, stats: JSON.stringify({ numRecords: rowsOf(i) }) }],
      removes: i === 7 ? [{ path: "f2.parquet", deletionTimestamp: Date.now(), dataChange: true }] : [],
      operation: "WRITE"
    }))
  }
  // Checkpoints 4, 8, 12: everything up to version 9 is 40 days old, past Delta's default 30 days.
  const log = path.join(root, "_delta_log")
  const old = new Date(Date.now() - 40 * 24 * 3_600_000)
  for (const name of readdirSync(log)) {
    const version = /^(\d{20})\./.exec(name)?.[1]
    if (version !== undefined && Number(version) <= 9) utimesSync(path.join(log, name), old, old)
  }
  deleted = (await run(cleanupLog(store, "", { dryRun: false }))).deleted.map((f) => f.version)
  await kernel
}, 300_000)

const liveRows = Array.from({ length: COMMITS }, (_, i) => i).filter((i) => i !== 2).reduce((n, i) => n + rowsOf(i), 0)

describe("Delta Kernel after log cleanup", () => {
  it("cleanup deleted the expired commits and the checkpoint before the cut (8)", () => {
    expect(deleted).toEqual([0, 1, 2, 3, 4, 4, 5, 6, 7])
    expect(readdirSync(path.join(root, "_delta_log")).filter((n) => n.endsWith(".checkpoint.parquet")).sort())
      .toEqual(["00000000000000000008.checkpoint.parquet", "00000000000000000012.checkpoint.parquet"])
  })

  it("reads the latest version with every live row, as our reader does", async () => {
    const ours = await run(readSnapshot(store, ""))
    const kernel = await readDeltaTable(root, { sumColumns: ["x"] })
    expect({ version: kernel.version, rows: kernel.rows, files: kernel.files }).toEqual({ version: COMMITS - 1, rows: liveRows, files: COMMITS - 1 })
    expect({ version: ours.version, rows: ours.totals.records, files: ours.totals.files }).toEqual({ version: kernel.version, rows: kernel.rows, files: kernel.files })
  })

  it("time travels to the versions that stay (from checkpoint 8 on), and refuses those whose commits went", async () => {
    const atEight = await readDeltaTable(root, { version: 8 })
    expect({ rows: atEight.rows, files: atEight.files }).toEqual({ rows: [0, 1, 3, 4, 5, 6, 7, 8].reduce((n, i) => n + rowsOf(i), 0), files: 8 })
    const atTen = await readDeltaTable(root, { version: 10 })
    expect(atTen.files).toBe(10)
    await expect(readDeltaTable(root, { version: 5 })).rejects.toThrow()
  })

  it("reads it from a listing when _last_checkpoint is gone", async () => {
    unlinkSync(path.join(root, "_delta_log", "_last_checkpoint"))
    const kernel = await readDeltaTable(root)
    expect({ version: kernel.version, rows: kernel.rows }).toEqual({ version: COMMITS - 1, rows: liveRows })
    const ours = await run(readSnapshot(store, ""))
    expect(ours.totals.records).toBe(liveRows)
  })
})
