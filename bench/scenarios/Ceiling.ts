/**
 * The `ceiling` scenario: Kafka's own `ConsumerPerformance` (Java client, from the stack's jars)
 * reading the whole bench topic: the most this machine can consume, doing nothing with it.
 */
import { Effect } from "effect"
import * as Stack from "../../src/ops/Stack.ts"
import { type BenchContext, deadlineFor, newGroup } from "../harness/Context.ts"
import { spawnMeasured } from "../harness/Measure.ts"
import { throughputRun, type ThroughputRun } from "../report/Results.ts"

export const CEILING_RATE_MEASURES =
  "ConsumerPerformance's fetch.nMsg.sec: first fetch → last record, group join excluded (nMsg.sec, join included, is in extra)"

/**
 * The figures line under ConsumerPerformance's header: start.time, end.time, data.consumed.in.MB,
 * MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec.
 */
export const parseConsumerPerformance = (output: string) => {
  const lines = output.split("\n")
  const header = lines.findIndex((l) => l.startsWith("start.time"))
  const values = lines[header + 1]?.split(",").map((s) => s.trim())
  const names = lines[header]?.split(",").map((s) => s.trim())
  if (header < 0 || values === undefined || names === undefined || values.length !== names.length) return undefined
  const field = (name: string) => Number(values[names.indexOf(name)])
  return {
    mb: field("data.consumed.in.MB"),
    mbPerSec: field("MB.sec"),
    messages: field("data.consumed.in.nMsg"),
    msgPerSec: field("nMsg.sec"),
    rebalanceMs: field("rebalance.time.ms"),
    fetchMs: field("fetch.time.ms"),
    fetchMbPerSec: field("fetch.MB.sec"),
    fetchMsgPerSec: field("fetch.nMsg.sec")
  }
}

export const runCeiling = async (ctx: BenchContext): Promise<ThroughputRun> => {
  const tool = Stack.kafkaTool(await Effect.runPromise(Stack.stackOptions), "org.apache.kafka.tools.ConsumerPerformance", [
    "--bootstrap-server",
    ctx.brokers.join(","),
    "--topic",
    ctx.topic.name,
    "--num-records",
    String(ctx.topic.messages),
    "--group",
    newGroup(ctx, "ceiling"),
    "--timeout",
    "30000"
  ])
  const run = await spawnMeasured(tool.command, tool.args, { cwd: ctx.root, timeoutMs: deadlineFor(ctx.topic.messages) }).done
  const figures = parseConsumerPerformance(run.output)
  if (run.exitCode !== 0 || figures === undefined) {
    throw new Error(`ConsumerPerformance exited ${run.exitCode ?? run.signal}:\n${run.output}`)
  }
  if (figures.messages !== ctx.topic.messages) {
    throw new Error(`ConsumerPerformance read ${figures.messages} messages, the topic holds ${ctx.topic.messages}:\n${run.output}`)
  }
  return throughputRun(run, {
    messages: figures.messages,
    msgPerSec: figures.fetchMsgPerSec,
    busySeconds: figures.fetchMs / 1000,
    extra: {
      msgPerSecWithJoin: figures.msgPerSec,
      mbPerSecKeysAndValues: figures.fetchMbPerSec,
      rebalanceMs: figures.rebalanceMs
    }
  })
}
