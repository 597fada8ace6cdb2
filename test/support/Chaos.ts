/**
 * Runs chaos scenarios in their short form against the tests' broker and MySQL, as the chaos
 * integration tests do, logging each line under `[chaos]`.
 */
import { expect, inject } from "vitest"
import { makeChaosContext } from "../../bench/chaos/Context.ts"
import { runScenarios } from "../../bench/chaos/Scenarios.ts"
import { projectRoot } from "../../bench/harness/Context.ts"

/** The outcome of each named scenario; fails the test when no MySQL/MariaDB is at hand. */
export const runShortScenarios = async (names: ReadonlyArray<string>) => {
  const mysqlUrl = inject("mysqlUrl")
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
  return runScenarios(ctx, names).finally(release)
}
