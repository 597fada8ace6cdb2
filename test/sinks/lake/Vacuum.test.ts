import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterEach } from "vitest"
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { vacuumContract } from "./MaintenanceContract.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

vacuumContract("a local folder", async () => {
  const d = mkdtempSync(path.join(tmpdir(), "sluice-vacuum-"))
  dirs.push(d)
  return makeLocalStore(d)
})
