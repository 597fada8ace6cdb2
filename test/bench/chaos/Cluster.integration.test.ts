/**
 * A real cluster losing brokers, in the short form of `npm run chaos -- --only cluster-leader-stop,
 * cluster-quorum-loss`: three brokers in containers (replication factor 3, min.insync.replicas=2,
 * acks=all), one partition leader stopped and started under load, then two brokers at once. Fails
 * when a record is lost, written twice or added, or the warehouse's count is off the lake's.
 * Needs containers: it skips unless the services are (SLUICE_TEST_SERVICES=containers).
 */
import { describe, expect, inject, it } from "vitest"
import { runShortScenarios } from "../../support/Chaos.ts"

const onContainers = inject("servicesSource") === "containers"
const names = ["cluster-leader-stop", "cluster-quorum-loss"]

describe.skipIf(!onContainers)("a three-broker cluster in containers (skipped unless SLUICE_TEST_SERVICES=containers)", () => {
  // Two scenarios of ~3 to 6 min each (the cluster's start included): more than the project's 10 min on a busy machine.
  it("follows a new leader and waits out a lost majority, losing, doubling and adding nothing", { timeout: 1_500_000 }, async () => {
    const outcomes = await runShortScenarios(names)
    const figures = Object.fromEntries(
      Object.entries(outcomes).map(([name, o]) => [
        name,
        "failed" in o
          ? { failed: o.failed }
          : { duplicated: o.duplicated, lost: o.lost, extra: o.extra, warehouseDifference: o.inWarehouse - o.warehouseExpected, problems: o.problems }
      ])
    )
    for (const [name, o] of Object.entries(outcomes)) {
      if (!("failed" in o)) {
        console.log(
          `[chaos] ${name}: produced ${o.produced}, lost ${o.lost}, duplicated ${o.duplicated}, ` +
            `recoveries ${o.recoveries.map((r) => `${r.fault}: ${r.seconds ?? "-"} s`).join("; ")}, ` +
            `service exits ${o.unplannedExits} of ${o.serviceStarts} starts; ${o.notes.join("; ")}`
        )
        expect(o.produced, `${name} produced nothing: the load never ran`).toBeGreaterThan(1_000)
      }
    }
    expect(figures).toEqual(Object.fromEntries(names.map((name) => [name, { duplicated: 0, lost: 0, extra: 0, warehouseDifference: 0, problems: [] }])))
  })
})
