/**
 * Topic administration and offset look-ups against the cluster, each with a deadline (the
 * Kafka client retries forever when no broker answers).
 */
import { Admin, Consumer } from "@platformatic/kafka"
import { Effect } from "effect"
import { KafkaError } from "../topology/Source.ts"

const DEADLINE_MS = 15_000

const call = <A>(op: string, f: () => Promise<A>, brokers: ReadonlyArray<string>): Effect.Effect<A, KafkaError> =>
  Effect.tryPromise({ try: f, catch: (cause) => new KafkaError({ op, cause }) }).pipe(
    Effect.timeoutOrElse({
      duration: DEADLINE_MS,
      orElse: () =>
        Effect.fail(new KafkaError({ op, cause: new Error(`no answer from ${brokers.join(",")} within ${DEADLINE_MS / 1000} s (is Kafka up? try: npx sluice stack up)`) }))
    })
  )

const withAdmin = <A>(brokers: ReadonlyArray<string>, op: string, f: (admin: Admin) => Promise<A>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Admin({ clientId: "sluice-admin", bootstrapBrokers: [...brokers], retries: 2 })),
    (admin) => call(op, () => f(admin), brokers),
    (admin) => Effect.promise(() => admin.close().catch(() => undefined))
  )

/** The number of partitions of a topic, or undefined when it does not exist. */
export const topicPartitions = (brokers: ReadonlyArray<string>, topic: string): Effect.Effect<number | undefined, KafkaError> =>
  withAdmin(brokers, `describe topic ${topic}`, async (admin) => {
    const topics = await admin.listTopics()
    if (!topics.includes(topic)) return undefined
    const metadata = await admin.metadata({ topics: [topic] })
    return metadata.topics.get(topic)?.partitionsCount
  })

/** The id of a topic's current incarnation, or undefined when it does not exist. */
export const topicId = (brokers: ReadonlyArray<string>, topic: string): Effect.Effect<string | undefined, KafkaError> =>
  withAdmin(brokers, `describe topic ${topic}`, async (admin) => {
    const topics = await admin.listTopics()
    if (!topics.includes(topic)) return undefined
    const metadata = await admin.metadata({ topics: [topic] })
    return metadata.topics.get(topic)?.id
  })

/**
 * Creates a topic when it does not exist, with the cluster's default replication factor
 * (`default.replication.factor`: 1 on the local stack, 3 on a three-broker cluster); returns its
 * partition count.
 */
export const ensureTopic = (
  brokers: ReadonlyArray<string>,
  topic: string,
  partitions: number,
  configs: ReadonlyArray<{ name: string; value: string }> = []
): Effect.Effect<number, KafkaError> =>
  Effect.gen(function*() {
    const existing = yield* topicPartitions(brokers, topic)
    if (existing !== undefined) return existing
    yield* withAdmin(brokers, `create topic ${topic}`, (admin) =>
      admin.createTopics({ topics: [topic], partitions, replicas: -1, configs: [...configs] }).catch((e: Error) =>
        // Another process created it between our look and our create.
        /already exists/i.test(e.message) || /TOPIC_ALREADY_EXISTS/.test(JSON.stringify(e)) ? [] : Promise.reject(e)
      ))
    return partitions
  })

/** The topics whose names start with `prefix`. */
export const topicsWithPrefix = (brokers: ReadonlyArray<string>, prefix: string): Effect.Effect<Array<string>, KafkaError> =>
  withAdmin(brokers, `list topics`, async (admin) => (await admin.listTopics()).filter((t) => t.startsWith(prefix)))

export const deleteTopics = (brokers: ReadonlyArray<string>, topics: ReadonlyArray<string>): Effect.Effect<void, KafkaError> =>
  withAdmin(brokers, `delete topics ${topics.join(",")}`, (admin) => admin.deleteTopics({ topics: [...topics] }))

export interface PartitionOffsets {
  readonly partition: number
  /** First offset still in the log. */
  readonly start: number
  /** Offset the next message will get. */
  readonly end: number
}

/** Log start and end offsets of every partition of a topic. */
export const topicOffsets = (brokers: ReadonlyArray<string>, topic: string): Effect.Effect<ReadonlyArray<PartitionOffsets>, KafkaError> =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Consumer({ clientId: "sluice-offsets", groupId: "sluice-offsets", bootstrapBrokers: [...brokers], retries: 2 })),
    (consumer) =>
      call(`list offsets of ${topic}`, async () => {
        const start = await consumer.listOffsets({ topics: [topic], timestamp: -2n })
        const end = await consumer.listOffsets({ topics: [topic], timestamp: -1n })
        const starts = start.get(topic) ?? []
        const ends = end.get(topic) ?? []
        return ends.map((e, partition) => ({ partition, start: Number(starts[partition] ?? 0n), end: Number(e) }))
      }, brokers),
    (consumer) => Effect.promise(() => consumer.close(true).catch(() => undefined))
  )
