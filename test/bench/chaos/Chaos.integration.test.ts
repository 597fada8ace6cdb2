/**
 * The short form of `npm run chaos`: the scenarios marked short, with fewer faults and messages,
 * against the tests' broker and MySQL. Fails when a scenario loses a record, writes one twice, lands
 * one no read_committed reader got, or leaves the warehouse's count off the lake's.
 */
import { describe, expect, it } from "vitest"
import { scenarios } from "../../../bench/chaos/Scenarios.ts"
import { runShortScenarios } from "../../support/Chaos.ts"

const short = scenarios.filter((s) => s.short).map((s) => s.name)

describe("chaos scenarios, short form", () => {
  it("lose, duplicate and add nothing, in the lake and the warehouse", async () => {
    const outcomes = await runShortScenarios(short)
    const figures = Object.fromEntries(
      Object.entries(outcomes).map(([name, o]) => [
        name,
        "failed" in o
          ? { failed: o.failed }
          : { duplicated: o.duplicated, lost: o.lost, extra: o.extra, warehouseDifference: o.inWarehouse - o.warehouseExpected }
      ])
    )
    expect(short).toEqual(["baseline", "kill-9", "sigterm", "mysql-restart", "mysql-kill-connection", "freeze", "transactions"])
    expect(figures).toEqual(Object.fromEntries(short.map((name) => [name, { duplicated: 0, lost: 0, extra: 0, warehouseDifference: 0 }])))
  })
})
