import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { mergeStats, planCompaction } from "../../../src/sinks/lake/Compaction.ts"
import type { Add } from "../../../src/sinks/lake/DeltaAction.ts"
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { compactionContract } from "./MaintenanceContract.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

compactionContract("a local folder", async () => {
  const d = mkdtempSync(path.join(tmpdir(), "sluice-compact-"))
  dirs.push(d)
  return makeLocalStore(d)
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
