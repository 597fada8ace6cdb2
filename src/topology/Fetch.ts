/**
 * One round of Kafka fetches, read as `read_committed`: the wanted partitions grouped by leader,
 * fetched concurrently, each partition's batches filtered by `ReadCommitted` and reported with its
 * own error code, so that one partition's error never hides the others' data.
 */
import { type Consumer, FetchIsolationLevels, type fetchV13, findErrorBy, protocolErrorsCodesById } from "@platformatic/kafka"
import { Clock, Data, Effect } from "effect"
import { fetchApi, type FetchResponse } from "./FetchResponse.ts"
import { readCommitted } from "./ReadCommitted.ts"
import type { RecordBatch } from "./Record.ts"

/** A Kafka call failed. */
export class KafkaError extends Data.TaggedError("KafkaError")<{
  readonly op: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `Kafka ${this.op}: ${describeCause(this.cause)}`
  }
}

/** Broker answers that retrying will not mend: refused access, an unsupported request, a message too large. */
const PERMANENT = [
  "SASL_AUTHENTICATION_FAILED",
  "TOPIC_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "UNSUPPORTED_VERSION",
  "INVALID_CONFIG",
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_REQUEST"
]

/** Whether a Kafka call's failure may pass (the broker restarting, leaders moving, connections refused). */
export const isTransientKafkaError = (e: KafkaError): boolean => !PERMANENT.some((id) => findErrorBy((e.cause ?? null) as Error, "apiId", id) !== null)

/** An error of the client with the errors it wraps (their messages and protocol codes), on one line. */
const describeCause = (cause: unknown, depth = 0): string => {
  const e = cause as { message?: string; apiId?: string; errors?: ReadonlyArray<unknown> } | undefined
  const own = `${e?.message ?? String(cause)}${e?.apiId ? ` (${e.apiId})` : ""}`
  const inner = depth < 3 ? [...new Set((e?.errors ?? []).map((x) => describeCause(x, depth + 1)))] : []
  return inner.length === 0 ? own : `${own}: ${inner.slice(0, 3).join("; ")}`
}

export interface FetchPosition {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/** Broker error codes a fetch reports per partition (Kafka's protocol numbers them so). */
export const FetchErrors = {
  none: 0,
  offsetOutOfRange: 1,
  unknownTopicOrPartition: 3,
  unknownTopicId: 100,
  inconsistentTopicId: 103
} as const

/** The name of a broker error code, for log lines. */
export const errorName = (code: number): string =>
  protocolErrorsCodesById[code as keyof typeof protocolErrorsCodesById] ?? `error ${code}`

export interface FetchedPartition {
  readonly topic: string
  /** The id of the topic the data came from (a recreated topic has a new one). */
  readonly topicId: string
  readonly partition: number
  /** The offset that was asked for. */
  readonly from: number
  /** 0, or the broker's error code for this partition (its batch is then empty). */
  readonly errorCode: number
  /** The records from `from` on; `nextOffset` is `from` when the broker had nothing new. */
  readonly batch: RecordBatch
}

export interface FetchLimits {
  readonly maxWaitMs: number
  readonly maxBytesPerPartition: number
}

/** The topic ids the cluster knows now, by name (a deleted topic is absent). */
export const topicIds = (consumer: Consumer, topics: ReadonlyArray<string>, refresh: boolean) =>
  Effect.suspend(() => {
    if (refresh) consumer.clearMetadata()
    return metadataOfExisting(consumer, topics)
  }).pipe(Effect.map((metadata) => new Map([...metadata.topics].map(([name, t]) => [name, t.id]))))

type ClusterMetadata = Awaited<ReturnType<Consumer["metadata"]>>

const isUnknownTopic = (cause: unknown): boolean =>
  ["UNKNOWN_TOPIC_OR_PARTITION", "UNKNOWN_TOPIC_ID"].some((id) => findErrorBy((cause ?? null) as Error, "apiId", id) !== null) ||
  /Unknown topic/i.test((cause as Error)?.message ?? "")

/**
 * The metadata of the topics that exist: the client refuses a whole request when one topic is
 * unknown (deleted, not created yet), so those are then asked one by one and left out.
 */
const metadataOfExisting = (consumer: Consumer, topics: ReadonlyArray<string>): Effect.Effect<ClusterMetadata, KafkaError> => {
  const ask = (names: ReadonlyArray<string>) =>
    Effect.tryPromise({
      try: () => consumer.metadata({ topics: [...names] }),
      catch: (cause) => new KafkaError({ op: `metadata of ${names.join(",")}`, cause })
    })
  return ask(topics).pipe(
    Effect.catchIf((e) => isUnknownTopic(e.cause), () =>
      Effect.gen(function*() {
        let merged: ClusterMetadata | undefined
        // A single topic was the unknown one: asking it again would only wait out the client's retries twice.
        for (const topic of topics.length === 1 ? [] : topics) {
          const one = yield* ask([topic]).pipe(Effect.catchIf((e) => isUnknownTopic(e.cause), () => Effect.succeed(undefined)))
          if (one === undefined) continue
          if (merged === undefined) merged = { ...one, topics: new Map(one.topics) }
          else for (const [name, t] of one.topics) merged.topics.set(name, t)
        }
        return merged ?? { ...(yield* Effect.tryPromise({ try: () => consumer.metadata({ topics: [] }), catch: (cause) => new KafkaError({ op: "metadata", cause }) })), topics: new Map() }
      }))
  )
}

/**
 * The response a failed fetch still carries: the client rejects a whole response when one of its
 * partitions reports an error, and keeps the response on the error (or on the last of its retries).
 */
const responseOf = (error: unknown): FetchResponse | undefined => {
  const e = error as { response?: FetchResponse; errors?: ReadonlyArray<unknown> } | undefined
  if (e?.response?.responses !== undefined) return e.response
  for (const inner of [...(e?.errors ?? [])].reverse()) {
    const found = responseOf(inner)
    if (found !== undefined) return found
  }
  return undefined
}

/** Partition errors that say the client's idea of the partition's leader is out of date. */
const STALE_LEADER = new Set([5, 6, 74, 75]) // LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER, FENCED/UNKNOWN_LEADER_EPOCH

/**
 * One sessionless Fetch request to a broker, over the client's own connection to it. Not through
 * `Consumer.fetch`: for `read_committed` that method drops the batches it takes for aborted, with
 * one range per producer closed at that producer's last abort marker in the response, so a
 * transaction committed between two aborts of one producer (a fenced zombie's empty abort after
 * it) vanished. `ReadCommitted` applies Kafka's own rules to the whole response instead.
 */
const fetchFrom = (
  consumer: Consumer,
  metadata: ClusterMetadata,
  node: number,
  limits: FetchLimits,
  topics: fetchV13.FetchRequestTopic[]
): Promise<FetchResponse> =>
  new Promise((resolve, reject) => {
    const broker = metadata.brokers.get(node)
    if (broker === undefined) return reject(new Error(`broker ${node} is not in the cluster's metadata`))
    consumer.connections.get(broker, (error, connection) => {
      if (error || connection === undefined) {
        consumer.clearMetadata()
        return reject(error ?? new Error(`no connection to broker ${node}`))
      }
      // Session id 0 with epoch -1: a full fetch that opens no fetch session on the broker.
      fetchApi(connection, limits.maxWaitMs, 1, limits.maxBytesPerPartition * topics.reduce((n, t) => n + t.partitions.length, 0),
        FetchIsolationLevels.READ_COMMITTED, 0, -1, topics, [], "", (error, response) => {
          const answered = response ?? responseOf(error)
          if (answered?.responses.some((t) => t.partitions.some((p) => STALE_LEADER.has(p.errorCode)))) consumer.clearMetadata()
          if (error || response === undefined) reject(error ?? new Error(`broker ${node} sent no fetch response`))
          else resolve(response)
        })
    })
  })

/** What one round fetched, and which wanted partitions have no leader (their topic may be gone). */
export interface FetchRound {
  readonly fetched: Array<FetchedPartition>
  readonly leaderless: Array<FetchPosition>
}

/** Fetches once from every wanted partition. */
export const fetchOnce = (
  consumer: Consumer,
  wanted: ReadonlyArray<FetchPosition>,
  limits: FetchLimits
): Effect.Effect<Array<FetchedPartition>, KafkaError> => Effect.map(fetchRound(consumer, wanted, limits), (r) => r.fetched)

/** Fetches once from every wanted partition, and says which could not be routed to a leader. */
export const fetchRound = (
  consumer: Consumer,
  wanted: ReadonlyArray<FetchPosition>,
  limits: FetchLimits
): Effect.Effect<FetchRound, KafkaError> =>
  Effect.gen(function*() {
    if (wanted.length === 0) return { fetched: [], leaderless: [] }
    const topics = [...new Set(wanted.map((w) => w.topic))]
    const metadata = yield* metadataOfExisting(consumer, topics)
    const byNode = new Map<number, Array<FetchPosition>>()
    const leaderless: Array<FetchPosition> = []
    for (const w of wanted) {
      const leader = metadata.topics.get(w.topic)?.partitions[w.partition]?.leader
      if (leader === undefined || leader < 0) {
        leaderless.push(w)
        continue
      }
      const list = byNode.get(leader) ?? []
      list.push(w)
      byNode.set(leader, list)
    }
    const names = new Map([...metadata.topics].map(([name, t]) => [t.id, name]))
    const results = yield* Effect.forEach(
      [...byNode],
      ([node, list]) =>
        Effect.tryPromise({
          try: () =>
            fetchFrom(consumer, metadata, node, limits, groupByTopicId(list, (topic) => metadata.topics.get(topic)!.id).map(([topicId, parts]) => ({
              topicId,
              partitions: parts.map((p) => ({
                partition: p.partition,
                fetchOffset: BigInt(p.offset),
                partitionMaxBytes: limits.maxBytesPerPartition,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1
              }))
            }))).then(
              (response) => response,
              (error) => responseOf(error) ?? Promise.reject(error)
            ),
          catch: (cause) => new KafkaError({ op: `fetch from node ${node}`, cause })
        }).pipe(Effect.flatMap((response) => Effect.map(Clock.currentTimeMillis, (now) => toBatches(response, names, list, now)))),
      { concurrency: "unbounded" }
    )
    return { fetched: results.flat(), leaderless }
  })

const groupByTopicId = (list: ReadonlyArray<FetchPosition>, idOf: (topic: string) => string) => {
  const groups = new Map<string, Array<FetchPosition>>()
  for (const p of list) {
    const id = idOf(p.topic)
    const group = groups.get(id) ?? []
    group.push(p)
    groups.set(id, group)
  }
  return [...groups]
}

const toBatches = (response: FetchResponse, names: Map<string, string>, requested: ReadonlyArray<FetchPosition>, fetchedAt: number) => {
  const from = new Map(requested.map((p) => [`${p.topic}/${p.partition}`, p.offset]))
  const out: Array<FetchedPartition> = []
  for (const topicResponse of response.responses) {
    const topic = names.get(topicResponse.topicId)
    if (topic === undefined) continue
    for (const part of topicResponse.partitions) {
      const start = from.get(`${topic}/${part.partitionIndex}`)
      // An incremental fetch session may return partitions that were not asked for this time.
      if (start === undefined) continue
      const highWatermark = Number(part.highWatermark)
      const lastStable = Number(part.lastStableOffset)
      const endOffset = lastStable >= 0 ? lastStable : highWatermark
      const read = part.errorCode === 0
        ? readCommitted(part.records ?? [], part.abortedTransactions ?? [], start, lastStable)
        : { records: [], nextOffset: start }
      out.push({
        topic,
        topicId: topicResponse.topicId,
        partition: part.partitionIndex,
        from: start,
        errorCode: part.errorCode,
        batch: {
          topic,
          partition: part.partitionIndex,
          records: read.records,
          nextOffset: read.nextOffset,
          endOffset,
          logStartOffset: Number(part.logStartOffset),
          fetchedAt
        }
      })
    }
  }
  return out
}
