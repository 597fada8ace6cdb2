/**
 * The bench's input: a topic pre-filled once with seeded transactions and named by what it holds,
 * so that every throughput scenario (and the next invocation) reads the very same messages.
 */
import { Admin } from "@platformatic/kafka"
import { Effect } from "effect"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { deleteTopics, topicOffsets, topicPartitions } from "../../src/ops/KafkaAdmin.ts"
import { produce } from "../../src/ops/Produce.ts"

export interface BenchTopicSpec {
  readonly brokers: ReadonlyArray<string>
  readonly messages: number
  readonly partitions: number
  readonly seed: number
  /** Share of malformed messages (dead letters), as `sluice produce --bad-ratio`. */
  readonly badRatio: number
}

export interface BenchTopic extends BenchTopicSpec {
  readonly name: string
  /** Sum of the message values' sizes: the "MB" of MB/s. */
  readonly valueBytes: number
  readonly keyBytes: number
  /** Malformed messages among them. */
  readonly bad: number
  /** True when a complete topic of this name was found and kept. */
  readonly reused: boolean
  /** How long producing took (0 when reused). */
  readonly produceSeconds: number
}

/** `bench_tx_n<messages>_seed<seed>_p<partitions>_bad<per-mille>pm`: the content, in the name. */
export const benchTopicName = (spec: BenchTopicSpec): string =>
  `bench_tx_n${spec.messages}_seed${spec.seed}_p${spec.partitions}_bad${Math.round(spec.badRatio * 1000)}pm`

/** True when the topic holds exactly `messages`, from offset 0, in `partitions` partitions. */
const isComplete = async (spec: BenchTopicSpec, name: string): Promise<boolean> => {
  const partitions = await Effect.runPromise(topicPartitions(spec.brokers, name))
  if (partitions !== spec.partitions) return false
  const offsets = await Effect.runPromise(topicOffsets(spec.brokers, name))
  return offsets.length === spec.partitions &&
    offsets.every((p) => p.start === 0) &&
    offsets.reduce((n, p) => n + p.end, 0) === spec.messages
}

/** Sizes of the generator's messages for this spec (it is deterministic: no need to read them back). */
const sizes = (spec: BenchTopicSpec) => {
  const next = makeMessageGenerator({ seed: spec.seed, badRatio: spec.badRatio })
  let valueBytes = 0
  let keyBytes = 0
  let bad = 0
  for (let i = 0; i < spec.messages; i++) {
    const m = next()
    valueBytes += m.value.length
    keyBytes += Buffer.byteLength(m.key)
    if (m.bad !== undefined) bad++
  }
  return { valueBytes, keyBytes, bad }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Waits until a deleted topic is really gone (its name can be created again). */
const awaitGone = async (brokers: ReadonlyArray<string>, name: string): Promise<void> => {
  const admin = new Admin({ clientId: "sluice-bench", bootstrapBrokers: [...brokers] })
  try {
    for (let i = 0; i < 100; i++) {
      if (!(await admin.listTopics()).includes(name)) return
      await sleep(100)
    }
    throw new Error(`topic ${name} still listed 10 s after its deletion`)
  } finally {
    await admin.close().catch(() => undefined)
  }
}

/**
 * The bench topic for `spec`: kept when a complete one exists, else (re)created and filled by the
 * same producer as `sluice produce`, then checked complete.
 */
export const prepareBenchTopic = async (spec: BenchTopicSpec, log: (line: string) => void): Promise<BenchTopic> => {
  const name = benchTopicName(spec)
  const measured = sizes(spec)
  if (await isComplete(spec, name)) {
    log(`topic ${name}: complete (${spec.messages.toLocaleString("en-US")} messages), reused`)
    return { ...spec, ...measured, name, reused: true, produceSeconds: 0 }
  }
  if ((await Effect.runPromise(topicPartitions(spec.brokers, name))) !== undefined) {
    log(`topic ${name}: incomplete (an interrupted fill?), deleting it`)
    await Effect.runPromise(deleteTopics(spec.brokers, [name]))
    await awaitGone(spec.brokers, name)
  }
  log(`topic ${name}: producing ${spec.messages.toLocaleString("en-US")} messages (${spec.badRatio * 100}% malformed) …`)
  const report = await Effect.runPromise(
    produce({ brokers: spec.brokers, topic: name, messages: spec.messages, rate: 0, partitions: spec.partitions, badRatio: spec.badRatio, seed: spec.seed, progress: false })
  )
  if (!(await isComplete(spec, name))) {
    const offsets = await Effect.runPromise(topicOffsets(spec.brokers, name))
    throw new Error(`topic ${name} is not complete after producing: ${JSON.stringify(offsets)}`)
  }
  log(`topic ${name}: produced in ${(report.elapsedMs / 1000).toFixed(1)} s (${Math.round(spec.messages / (report.elapsedMs / 1000)).toLocaleString("en-US")} msg/s)`)
  return { ...spec, ...measured, name, reused: false, produceSeconds: report.elapsedMs / 1000 }
}

/** Deletes the bench topic (with `--drop-topic`; by default it is kept for the next invocation). */
export const dropBenchTopic = (topic: BenchTopic): Promise<void> =>
  Effect.runPromise(deleteTopics(topic.brokers, [topic.name]))
