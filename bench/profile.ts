/**
 * `npm run bench -- --profile [--messages N] [--sinks S] [--summarize FILE]`: one `sluice run` over the
 * bench topic under `node --cpu-prof`, and where its CPU time went (self and inclusive, by module).
 */
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Admin } from "@platformatic/kafka"
import { Effect } from "effect"
import * as Stack from "../src/ops/Stack.ts"
import { prepareBenchTopic } from "./harness/BenchTopic.ts"
import { nodeBinary, projectRoot, sluiceBin } from "./harness/Context.ts"
import { spawnMeasured } from "./harness/Measure.ts"
import { profileMarkdown, summarizeProfile } from "./report/CpuProfile.ts"
import { parseRunLine, type Sinks } from "./scenarios/Sluice.ts"

const log = (line: string) => process.stderr.write(`[profile] ${line}\n`)

/** Runs the profile command with its own flags (everything after `--profile`). */
export const profileMain = async (argv: ReadonlyArray<string>): Promise<void> => {
  const { values: flags } = parseArgs({
    args: [...argv],
    options: {
      profile: { type: "boolean" },
      messages: { type: "string", default: "1000000" },
      partitions: { type: "string", default: "4" },
      seed: { type: "string", default: "42" },
      "bad-ratio": { type: "string", default: "0.01" },
      sinks: { type: "string", default: "lake" },
      out: { type: "string" },
      top: { type: "string", default: "25" },
      summarize: { type: "string" }
    }
  })
  const top = Number(flags.top)
  if (flags.summarize !== undefined) {
    process.stdout.write(profileMarkdown(summarizeProfile(flags.summarize, projectRoot, top)))
    return
  }
  const stackOptions = await Effect.runPromise(Stack.stackOptions)
  const brokers = (process.env["KAFKA_BROKERS"] || Stack.brokersOf(stackOptions)).split(",")
  if (brokers.join(",") === Stack.brokersOf(stackOptions)) await Effect.runPromise(Stack.up(stackOptions))
  const topic = await prepareBenchTopic(
    { brokers, messages: Number(flags.messages), partitions: Number(flags.partitions), seed: Number(flags.seed), badRatio: Number(flags["bad-ratio"]) },
    log
  )
  const out = path.resolve(flags.out ?? path.join(tmpdir(), `sluice-profile-${Date.now().toString(36)}`))
  mkdirSync(out, { recursive: true })
  const lakeDir = path.join(out, "lake")
  const group = `bench_profile_${Date.now().toString(36)}`
  log(`sluice run --until-idle 500 under --cpu-prof (${flags.sinks}) → ${out}`)
  const run = await spawnMeasured(
    nodeBinary(projectRoot),
    ["--cpu-prof", `--cpu-prof-dir=${out}`, sluiceBin(projectRoot), "run", "--until-idle", "500"],
    {
      cwd: projectRoot,
      env: {
        KAFKA_BROKERS: brokers.join(","),
        SLUICE_TOPIC: topic.name,
        SLUICE_LAKE_DIR: lakeDir,
        SLUICE_GROUP: group,
        SLUICE_SINKS: flags.sinks as Sinks,
        SLUICE_INSTANCE_ID: undefined
      },
      timeoutMs: 1_800_000
    }
  ).done
  rmSync(lakeDir, { recursive: true, force: true })
  const admin = new Admin({ clientId: "sluice-bench", bootstrapBrokers: brokers })
  await admin.deleteGroups({ groups: [group] }).catch(() => undefined)
  await admin.close().catch(() => undefined)
  if (run.exitCode !== 0) throw new Error(`sluice run exited ${run.exitCode ?? run.signal}:\n${run.output}`)
  const line = parseRunLine(run.output)
  const profiles = readdirSync(out)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => path.join(out, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
  if (profiles[0] === undefined) throw new Error(`no .cpuprofile written in ${out}`)
  process.stdout.write(
    [
      `sluice run (${flags.sinks}) under the profiler: ${line === undefined ? "no summary line" : `${line.total.toLocaleString("en-US")} messages, ${line.msgPerSec.toLocaleString("en-US")} msg/s`} ` +
        `(wall ${(run.wallMs / 1000).toFixed(1)} s, ${run.cpuSeconds.toFixed(1)} CPU s, peak RSS ${Math.round(run.peakRssMB)} MB); profile: ${profiles[0]}`,
      "",
      profileMarkdown(summarizeProfile(profiles[0], projectRoot, top))
    ].join("\n")
  )
}
