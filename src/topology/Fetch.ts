/**
 * One round of Kafka fetches: the wanted partitions grouped by leader, fetched concurrently, and
 * each partition's record batches turned into a `RecordBatch` (control batches skipped, offsets
 * before the requested one dropped).
 */
import { type Consumer, IS_CONTROL } from "@platformatic/kafka"
import { Data, Effect } from "effect"
import type { RecordBatch, SourceRecord } from "./Record.ts"

/** A Kafka call failed. */
export class KafkaError extends Data.TaggedError("KafkaError")<{
  readonly op: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `Kafka ${this.op}: ${(this.cause as Error)?.message ?? String(this.cause)}`
  }
}

export interface FetchPosition {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

export interface FetchedPartition {
  readonly topic: string
  readonly partition: number
  /** The offset that was asked for. */
  readonly from: number
  readonly errorCode: number
  readonly highWatermark: number
  /** The records from `from` on; `nextOffset` is `from` when the broker had nothing new. */
  readonly batch: RecordBatch
}

export interface FetchLimits {
  readonly maxWaitMs: number
  readonly maxBytesPerPartition: number
}

type FetchResponse = Awaited<ReturnType<Consumer["fetch"]>>

/** Fetches once from every wanted partition. */
export const fetchOnce = (
  consumer: Consumer,
  wanted: ReadonlyArray<FetchPosition>,
  limits: FetchLimits
): Effect.Effect<Array<FetchedPartition>, KafkaError> =>
  Effect.gen(function*() {
    if (wanted.length === 0) return []
    const topics = [...new Set(wanted.map((w) => w.topic))]
    const metadata = yield* Effect.tryPromise({
      try: () => consumer.metadata({ topics }),
      catch: (cause) => new KafkaError({ op: `metadata of ${topics.join(",")}`, cause })
    })
    const byNode = new Map<number, Array<FetchPosition>>()
    for (const w of wanted) {
      const leader = metadata.topics.get(w.topic)?.partitions[w.partition]?.leader
      if (leader === undefined) continue
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
            consumer.fetch({
              node,
              maxWaitTime: limits.maxWaitMs,
              minBytes: 1,
              maxBytes: limits.maxBytesPerPartition * list.length,
              topics: groupByTopicId(list, (topic) => metadata.topics.get(topic)!.id).map(([topicId, parts]) => ({
                topicId,
                partitions: parts.map((p) => ({
                  partition: p.partition,
                  fetchOffset: BigInt(p.offset),
                  partitionMaxBytes: limits.maxBytesPerPartition,
                  currentLeaderEpoch: -1,
                  lastFetchedEpoch: -1
                }))
              }))
            }),
          catch: (cause) => new KafkaError({ op: `fetch from node ${node}`, cause })
        }).pipe(Effect.map((response) => toBatches(response, names, list))),
      { concurrency: "unbounded" }
    )
    return results.flat()
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

const toBatches = (response: FetchResponse, names: Map<string, string>, requested: ReadonlyArray<FetchPosition>) => {
  const from = new Map(requested.map((p) => [`${p.topic}/${p.partition}`, p.offset]))
  const fetchedAt = Date.now()
  const out: Array<FetchedPartition> = []
  for (const topicResponse of response.responses) {
    const topic = names.get(topicResponse.topicId)
    if (topic === undefined) continue
    for (const part of topicResponse.partitions) {
      const start = from.get(`${topic}/${part.partitionIndex}`)
      // An incremental fetch session may return partitions that were not asked for this time.
      if (start === undefined) continue
      const records: Array<SourceRecord> = []
      let next = start
      for (const batch of part.records ?? []) {
        const firstOffset = Number(batch.firstOffset)
        const lastOffset = firstOffset + batch.lastOffsetDelta
        if (lastOffset + 1 > next) next = lastOffset + 1
        // Transaction markers occupy offsets but carry no data.
        if ((batch.attributes & IS_CONTROL) !== 0) continue
        const firstTimestamp = Number(batch.firstTimestamp)
        for (const r of batch.records) {
          const offset = firstOffset + r.offsetDelta
          if (offset < start) continue
          records.push({ offset, timestamp: firstTimestamp + Number(r.timestampDelta), key: r.key, value: r.value })
        }
      }
      const highWatermark = Number(part.highWatermark)
      out.push({
        topic,
        partition: part.partitionIndex,
        from: start,
        errorCode: part.errorCode,
        highWatermark,
        batch: { topic, partition: part.partitionIndex, records, nextOffset: next, highWatermark, fetchedAt }
      })
    }
  }
  return out
}
