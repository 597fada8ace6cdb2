/**
 * What every scenario gets from the orchestrator: the project, the broker, the pre-filled topic,
 * a scratch folder, and the lists of what it created so that the end of the run can clean up.
 */
import { existsSync, realpathSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { BenchTopic } from "./BenchTopic.ts"

export interface BenchContext {
  /** The project root (where bin/sluice.js is). */
  readonly root: string
  readonly brokers: ReadonlyArray<string>
  readonly topic: BenchTopic
  /** Scratch space of this invocation (lake folders, Parquet of the baselines), removed at the end. */
  readonly tmpRoot: string
  /** Unique per invocation: names the consumer groups, topics and databases created. */
  readonly runId: string
  /** Consumer groups created, deleted at the end. */
  readonly groups: Array<string>
  readonly log: (line: string) => void
}

export const projectRoot = fileURLToPath(new URL("../../", import.meta.url))

/** The Node that runs the project (its devDependency, Node 24), else the one running the bench. */
export const nodeBinary = (root: string): string => {
  const local = path.join(root, "node_modules", ".bin", "node")
  return existsSync(local) ? realpathSync(local) : process.execPath
}

/** `bin/sluice.js` of the project. */
export const sluiceBin = (root: string): string => path.join(root, "bin", "sluice.js")

/** A consumer group name registered for deletion at the end of the run. */
export const newGroup = (ctx: BenchContext, label: string): string => {
  const group = `bench_${label}_${ctx.runId}_${ctx.groups.length}`
  ctx.groups.push(group)
  return group
}

/** A generous deadline for reading `messages` (no scenario is slower than 500 msg/s). */
export const deadlineFor = (messages: number): number => 120_000 + messages * 2
