import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { openDeltaTable } from "../../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { vacuumTable } from "../../../src/sinks/lake/Vacuum.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const add = (p: string) => ({ path: p, partitionValues: {}, size: 3, modificationTime: 0, dataChange: true })

describe("vacuum", () => {
  it("deletes removed, uncommitted and temporary files past the retention, and nothing else a store lists", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "sluice-vacuum-"))
    dirs.push(root)
    const store = makeLocalStore(root)
    const table = await Effect.runPromise(openDeltaTable({
      store,
      root: "t",
      checkpointInterval: 100,
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      metaData: { id: "m", format: { provider: "parquet", options: {} }, schemaString: "{}", partitionColumns: [], configuration: {}, createdTime: 0 }
    }))
    const day = path.join(root, "t", "year=2026")
    mkdirSync(day, { recursive: true })
    mkdirSync(path.join(root, "t", "_delta_log"), { recursive: true })
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
    for (const f of Object.values(files)) writeFileSync(path.join(root, "t", f), "abc")
    await Effect.runPromise(table.commit({ txns: [], adds: [add(files.removed)], operation: "WRITE" }))
    await Effect.runPromise(table.commit({
      txns: [],
      adds: [add(files.live)],
      removes: [{ path: files.removed, deletionTimestamp: 1_000, dataChange: true }],
      operation: "WRITE"
    }))

    // Within the retention nothing goes, not even what a writer left: it may still commit it.
    const recent = await Effect.runPromise(vacuumTable(store, "t", { retainMs: 3_600_000, now: Date.now(), dryRun: false }))
    expect(recent.deleted.map((f) => f.path)).toEqual([files.removed])

    const report = await Effect.runPromise(vacuumTable(store, "t", { retainMs: 3_600_000, now: Date.now() + 7_200_000, dryRun: false }))
    expect(report).toMatchObject({ table: "t", location: path.join(root, "t") })
    expect(report.deleted.map((f) => [f.path, f.reason]).sort()).toEqual([
      [files.logTemporary, "temporary"],
      [files.temporary, "temporary"],
      [files.uncommitted, "uncommitted"]
    ].sort())
    const left = readdirSync(path.join(root, "t"), { recursive: true }).map(String).filter((f) => !f.startsWith("_delta_log/0")).sort()
    expect(left).toEqual(["_delta_log", "_metadata.json", "year=2026", files.live, files.inFlight].sort())
  })
  it("cleans the log too: with a log retention given, expired commits before the latest checkpoint go (a dry run lists them)", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "sluice-vacuum-"))
    dirs.push(root)
    const store = makeLocalStore(root)
    const table = await Effect.runPromise(openDeltaTable({
      store,
      root: "t",
      checkpointInterval: 3,
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      // The writer leaves its log alone: vacuum is the one cleaning it here.
      metaData: { id: "m", format: { provider: "parquet", options: {} }, schemaString: "{}", partitionColumns: [], configuration: { "delta.enableExpiredLogCleanup": "false" }, createdTime: 0 }
    }))
    for (let i = 0; i < 5; i++) await Effect.runPromise(table.commit({ txns: [], adds: [add(`f${i}.parquet`)], operation: "WRITE" }))
    const log = () => readdirSync(path.join(root, "t", "_delta_log")).sort()
    const before = log()
    // Within the table's 30 days nothing of the log goes.
    const kept = await Effect.runPromise(vacuumTable(store, "t", { retainMs: 3_600_000, now: Date.now(), dryRun: false }))
    expect(kept.deleted).toEqual([])
    const dry = await Effect.runPromise(vacuumTable(store, "t", { retainMs: 3_600_000, now: Date.now(), dryRun: true, logRetentionMs: 0 }))
    expect(dry.deleted.map((f) => [f.path, f.reason])).toEqual([0, 1, 2].map((v) => [`_delta_log/${String(v).padStart(20, "0")}.json`, "log"]))
    expect(log()).toEqual(before)
    const real = await Effect.runPromise(vacuumTable(store, "t", { retainMs: 3_600_000, now: Date.now(), dryRun: false, logRetentionMs: 0 }))
    expect(real.deleted).toEqual(dry.deleted)
    expect(log()).toEqual(["00000000000000000003.checkpoint.parquet", "00000000000000000003.json", "00000000000000000004.json", "_last_checkpoint"])
  })
})
