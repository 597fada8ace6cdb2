/**
 * The short form of `npm run chaos`: the scenarios marked short, with fewer faults and messages,
 * against the tests' broker and MySQL. Fails when a scenario loses a record, writes one twice, lands
 * one no read_committed reader got, or leaves the warehouse's count off the lake's.
 */
import { describe, expect, inject, it } from "vitest"
import { makeChaosContext } from "../../../bench/chaos/Context.ts"
import { runScenarios, scenarios } from "../../../bench/chaos/Scenarios.ts"
import { projectRoot } from "../../../bench/harness/Context.ts"

const mysqlUrl = inject("mysqlUrl")
const short = scenarios.filter((s) => s.short).map((s) => s.name)

describe("chaos scenarios, short form", () => {
  it("lose, duplicate and add nothing, in the lake and the warehouse", async () => {
    expect(mysqlUrl, "the chaos scenarios need a MySQL/MariaDB (MYSQL_URL or the local one)").not.toBeNull()
    const server = new URL(mysqlUrl!)
    server.pathname = "/"
    const { ctx, release } = makeChaosContext({
      root: projectRoot,
      brokers: inject("kafkaBrokers").split(","),
      mysqlServer: server.toString(),
      quick: true,
      keep: false,
      log: (line) => console.log(`[chaos] ${line}`)
    })
    const outcomes = await runScenarios(ctx, short).finally(release)
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
