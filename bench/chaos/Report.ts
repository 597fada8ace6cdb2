/**
 * The chaos report: `bench/results/chaos-latest.{json,md}` after a complete run (`chaos-quick.*`
 * with --quick, `chaos-partial.*` with --only), one entry per scenario with its figures and what went wrong.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import type { Machine } from "../harness/Machine.ts"
import type { ScenarioOutcome } from "./Scenarios.ts"

export interface ChaosReport {
  readonly date: string
  readonly commit: string
  readonly quick: boolean
  readonly machine: Machine
  /** Offered load of `sluice produce --rate` in the scenarios that use it, msg/s. */
  readonly rate: number
  readonly scenarios: Record<string, ScenarioOutcome>
  readonly elapsedSeconds: number
  readonly ok: boolean
}

const cell = (x: number | null | undefined): string => (x === null || x === undefined ? "–" : x.toLocaleString("en-US"))
const flagged = (x: number | null | undefined): string => (x !== null && x !== undefined && x > 0 ? `**${cell(x)}**` : cell(x))

const row = (name: string, s: ScenarioOutcome): string => {
  if ("failed" in s) return `| ${name} | harness failed: ${s.failed.split("\n")[0]!.replaceAll("|", "\\|")} | | | | | | | | | **no** |`
  const warehouse = s.inWarehouse === s.warehouseExpected ? cell(s.inWarehouse) : `**${cell(s.inWarehouse)}** (expected ${cell(s.warehouseExpected)})`
  const recovery = s.recoveries.length === 0 ? "–" : s.recoverySeconds === null ? "**not recovered**" : s.recoverySeconds.toFixed(1)
  return `| ${name} | ${cell(s.produced)} | ${cell(s.inLake)} | ${warehouse} | ${cell(s.deadLettered)} | ${flagged(s.duplicated)} | ${flagged(s.lost)} | ${flagged(s.extra)} | ${recovery} | ${s.unplannedExits} | ${s.ok ? "yes" : "**no**"} |`
}

const details = (name: string, s: ScenarioOutcome): string => {
  const lines = [`### ${name}`, "", s.description, ""]
  if ("failed" in s) return [...lines, "The harness could not finish it:", "", "```", s.failed, "```", ""].join("\n")
  lines.push(
    `${s.seconds} s; the service was started ${s.serviceStarts} times and exited ${s.unplannedExits} times on its own; ` +
      `the final \`sluice run --until-idle\` ${typeof s.finalRun.exit === "number" ? `exited ${s.finalRun.exit}` : `ended by ${s.finalRun.exit}`} after ${s.finalRun.seconds} s.`,
    ""
  )
  if (s.recoveries.length > 0) {
    lines.push(`Recoveries (s): ${s.recoveries.map((r) => `${r.fault} ${r.seconds === null ? "**none**" : r.seconds.toFixed(1)}`).join(" · ")}`, "")
  }
  if (s.problems.length > 0) lines.push("Problems:", "", ...s.problems.map((p) => `- ${p}`), "")
  if (s.notes.length > 0) lines.push("Notes:", "", ...s.notes.map((n) => `- ${n}`), "")
  if (s.errors.length > 0) lines.push("The service's warning and error lines:", "", "```", ...s.errors, "```", "")
  return lines.join("\n")
}

/** The report as Markdown: one row per scenario, then each scenario's details. */
export const toMarkdown = (r: ChaosReport): string =>
  [
    `# Chaos — ${r.date} (${r.commit})${r.quick ? ", quick" : ""}`,
    "",
    `${r.machine.cpu} · ${r.machine.cores} cores · ${r.machine.memoryGB} GB · Node ${r.machine.node} · Kafka ${r.machine.kafka}; ` +
      `load ${cell(r.rate)} msg/s where the scenario uses \`sluice produce --rate\`; ${Math.round(r.elapsedSeconds)} s in all.`,
    "",
    "Counted from the data, never from the service's logs: **produced** = data records a read_committed reader gets " +
      "from the topic; **in lake** = rows of `streams/transaction_stream` + `_deadletter/<topic>` in the live files of their " +
      "Delta logs; **duplicated** = rows beyond the first of one (partition, offset, key); **lost** = produced records in " +
      "neither; **extra** = lake records no read_committed reader got (aborted ones); **in warehouse** = " +
      "`SUM(transaction_count)` of `fact_user_transaction_summary`, expected = produced records whose stream row is not " +
      "`failed`; **recovery** = the longest time, over a scenario's faults, from the fault's end until every lake feed and " +
      "the warehouse committed past Kafka's end offsets at the fault's end; **exits** = processes of the service that exited " +
      "non-zero without being asked to (each restarted by the harness's supervisor after 0.5 s).",
    "",
    "| scenario | produced | in lake | in warehouse | dead-lettered | duplicated | lost | extra | recovery s | exits | ok |",
    "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |",
    ...Object.entries(r.scenarios).map(([name, s]) => row(name, s)),
    "",
    ...Object.entries(r.scenarios).map(([name, s]) => details(name, s))
  ].join("\n") + "\n"

/** Writes the JSON and Markdown; returns the files written. */
export const writeReport = (dir: string, report: ChaosReport, kind: "full" | "quick" | "partial"): ReadonlyArray<string> => {
  mkdirSync(dir, { recursive: true })
  const stem = path.join(dir, kind === "full" ? "chaos-latest" : `chaos-${kind}`)
  writeFileSync(`${stem}.json`, JSON.stringify(report, null, 2) + "\n")
  writeFileSync(`${stem}.md`, toMarkdown(report))
  return [`${stem}.json`, `${stem}.md`]
}
