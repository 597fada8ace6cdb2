import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { partitionDay } from "../../../src/sinks/lake/Retention.ts"
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { retentionContract } from "./MaintenanceContract.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

retentionContract("a local folder", async () => {
  const d = mkdtempSync(path.join(tmpdir(), "sluice-retention-"))
  dirs.push(d)
  return makeLocalStore(d)
})

describe("stream retention", () => {
  it("dates partitions by year/month/day or by jour", () => {
    expect(partitionDay({ year: "1970", month: "01", day: "02" })).toBe(1)
    expect(partitionDay({ jour: "1970-01-03" })).toBe(2)
    expect(partitionDay({ version: "v3" })).toBeUndefined()
  })
})
