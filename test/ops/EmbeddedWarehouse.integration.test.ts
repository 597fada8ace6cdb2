/**
 * With no MySQL, the same run fills the embedded warehouse with the same protocol: the facts
 * equal the lake's recomputation and a restart adds nothing.
 */
import * as path from "node:path"
import { afterAll, describe, expect, inject, it } from "vitest"
import { runSluice, sandbox } from "../support/Sluice.ts"

const box = sandbox("embedded", inject("kafkaBrokers"), { SLUICE_WINDOW_MAX_RECORDS: "4000" })
const env = { ...box.env, SLUICE_SINKS: "lake,warehouse", SLUICE_WAREHOUSE: "embedded", SLUICE_WAREHOUSE_FILE: path.join(box.lake, "warehouse.sqlite") }
afterAll(box.cleanup)

describe("the embedded warehouse", () => {
  it("is written exactly once and verifies against the lake", async () => {
    const produced = await runSluice(["produce", "--topic", box.topic, "--messages", "20000", "--partitions", "2", "--bad-ratio", "0.01", "--seed", "8"], env)
    expect(produced.code, produced.output).toBe(0)
    const run = await runSluice(["run", "--until-idle", "1500"], env)
    expect(run.code, run.output).toBe(0)
    expect(run.output).toMatch(/warehouse: embedded SQLite/)
    const again = await runSluice(["run", "--until-idle", "1000"], env)
    expect(again.code, again.output).toBe(0)
    expect(again.output).toContain("the lake is caught up")
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
    expect(verify.output).toMatch(/fact_user_transaction_summary: equals the lake's recomputation \([\d,]+ user-days, [\d,]+ transactions\)/)
  })
})
