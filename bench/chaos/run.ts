/**
 * `npm run chaos [-- --quick | --only a,b | --keep]`: runs the fault scenarios against a real
 * broker and MySQL under live load and writes bench/results/chaos-latest.{json,md}.
 */
import { existsSync } from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Effect } from "effect"
import * as Stack from "../../src/ops/Stack.ts"
import { projectRoot } from "../harness/Context.ts"
import { describeMachine, gitShortSha } from "../harness/Machine.ts"
import { makeChaosContext } from "./Context.ts"
import { type ChaosReport, toMarkdown, writeReport } from "./Report.ts"
import { rateOf, runScenarios, scenarioNames, scenarios as all } from "./Scenarios.ts"

const USAGE = `usage: npm run chaos -- [options]
  --quick      the short form: fewer faults and messages, a lower load (results go to chaos-quick.*)
  --only a,b   only these scenarios: ${scenarioNames.join(", ")} (results go to chaos-partial.*)
  --keep       keep the topic, lake folder and database of a scenario that failed, to look at them`

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
})
if (flags.help) {
  console.log(USAGE)
  process.exit(0)
}
const only = flags.only?.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
for (const name of only ?? []) {
  if (!scenarioNames.includes(name)) {
    console.error(`chaos: unknown scenario ${name} in --only (known: ${scenarioNames.join(", ")})`)
    process.exit(2)
  }
}

const startedAt = Date.now()
const log = (line: string) => process.stderr.write(`[chaos ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${line}\n`)

const stackOptions = await Effect.runPromise(Stack.stackOptions)
const brokers = (process.env["KAFKA_BROKERS"] || Stack.brokersOf(stackOptions)).split(",").map((b) => b.trim())
if (brokers.join(",") === Stack.brokersOf(stackOptions)) {
  log("sluice stack up")
  await Effect.runPromise(Stack.up(stackOptions))
} else {
  log(`using the Kafka at ${brokers.join(",")} (KAFKA_BROKERS)`)
}
const mysqlServer = new URL(stackOptions.mysqlUrl)
mysqlServer.pathname = "/"

const { ctx, release } = makeChaosContext({
  root: projectRoot,
  brokers,
  mysqlServer: mysqlServer.toString(),
  quick: flags.quick,
  keep: flags.keep,
  log
})
process.once("SIGINT", () => {
  log("interrupted: stopping the private servers")
  void release().finally(() => process.exit(130))
})

// The cluster scenarios need a container engine: a full run without one leaves them out, saying so.
const engine = await import("testcontainers").then((tc) => tc.getContainerRuntimeClient()).then(() => true, () => false)
const chosen = only ?? scenarioNames.filter((name) => engine || !all.find((s) => s.name === name)?.containers)
if (chosen.length < (only ?? scenarioNames).length) log(`no container engine answers: ${scenarioNames.filter((n) => !chosen.includes(n)).join(", ")} left out`)

let scenarios: Awaited<ReturnType<typeof runScenarios>>
try {
  scenarios = await runScenarios(ctx, chosen)
} finally {
  await release()
}
const chaosKafka = path.join(projectRoot, ".cache", "chaos", "kafka")
const report: ChaosReport = {
  date: new Date().toISOString().slice(0, 10),
  commit: gitShortSha(projectRoot),
  quick: flags.quick,
  // The jars that name the Kafka version: the private broker's when it ran, else the stack's.
  machine: describeMachine(existsSync(path.join(chaosKafka, "libs")) ? chaosKafka : stackOptions.cacheDir, brokers.join(",")),
  rate: rateOf({ quick: flags.quick }),
  scenarios,
  elapsedSeconds: Math.round((Date.now() - startedAt) / 1000),
  ok: Object.values(scenarios).every((s) => s.ok)
}
const written = writeReport(path.join(projectRoot, "bench", "results"), report, only !== undefined ? "partial" : flags.quick ? "quick" : "full")
log(`wrote ${written.map((f) => path.relative(projectRoot, f)).join(", ")}`)
process.stdout.write(toMarkdown(report))
if (!report.ok) {
  log(`failed: ${Object.entries(scenarios).filter(([, s]) => !s.ok).map(([name]) => name).join(", ")}`)
  process.exitCode = 1
}
