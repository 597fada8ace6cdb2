import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Redacted } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { loadSettings } from "../../src/ops/Settings.ts"
import { openWarehouse } from "../../src/ops/WarehouseChoice.ts"
import { failureOf } from "../support/Failure.ts"

const dir = mkdtempSync(path.join(tmpdir(), "sluice-choice-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const settings = (overrides: Record<string, unknown>) =>
  Effect.runPromise(loadSettings).then((s) => ({ ...s, warehouseFile: path.join(dir, "w.sqlite"), ...overrides }))

// Port 1 on loopback refuses connections: "no MySQL answers there".
const nobody = Redacted.make("mysql://root@127.0.0.1:1/sluice")

describe("openWarehouse", () => {
  it("falls back to the embedded file when MYSQL_URL is unset and no MySQL answers", async () => {
    const s = await settings({ mysqlUrl: nobody, mysqlUrlExplicit: false, warehouse: "auto" })
    const kind = await Effect.runPromise(Effect.scoped(Effect.map(openWarehouse(s), (w) => `${w.kind} ${w.description}`)))
    expect(kind).toMatch(/^sqlite embedded SQLite .* at .*w\.sqlite/)
  })

  it("waits for MYSQL_URL when it is set and does not answer, then fails loudly past the outage deadline", async () => {
    const s = await settings({ mysqlUrl: nobody, mysqlUrlExplicit: true, warehouse: "auto", outageTimeoutMs: 1_500 })
    const started = Date.now()
    const exit = await Effect.runPromiseExit(Effect.scoped(openWarehouse(s)))
    expect(Date.now() - started).toBeGreaterThanOrEqual(700)
    expect(failureOf(exit)).toMatchObject({
      _tag: "WarehouseError",
      op: "connect to mysql://root@127.0.0.1:1/sluice",
      reason: expect.stringContaining("ECONNREFUSED"),
      retryable: true,
      cause: expect.objectContaining({ code: "ECONNREFUSED" })
    })
  })

  it("opens the embedded file when asked to, whatever answers", async () => {
    const s = await settings({ mysqlUrl: nobody, mysqlUrlExplicit: true, warehouse: "embedded" })
    expect(await Effect.runPromise(Effect.scoped(Effect.map(openWarehouse(s), (w) => w.kind)))).toBe("sqlite")
  })
})
