/**
 * The Kafka source: consumer-group membership, and one fetch loop that feeds each assigned
 * partition's bounded queue of record batches. A full queue leaves its partition out of the next
 * fetch (backpressure); positions are set by the runtime (seek), never by Kafka's group offsets.
 */
import { Consumer, findErrorBy, type GroupAssignment } from "@platformatic/kafka"
import { Effect, Queue, type Scope } from "effect"
import { fetchOnce, KafkaError } from "./Fetch.ts"
import type { RecordBatch } from "./Record.ts"

export { KafkaError } from "./Fetch.ts"

export interface SourceOptions {
  readonly brokers: ReadonlyArray<string>
  readonly groupId: string
  readonly clientId: string
  readonly topics: ReadonlyArray<string>
  /** Upper bound of one partition's data in one fetch. */
  readonly maxBytesPerPartition: number
  /** How long the broker may hold a fetch when there is no data. */
  readonly maxWaitMs: number
  /** Batches a partition may have waiting before its fetching pauses. */
  readonly queueCapacity: number
  readonly sessionTimeoutMs: number
  /** Static membership id (KIP-345), or undefined for a dynamic member. */
  readonly groupInstanceId?: string | undefined
}

export const defaultSourceOptions = {
  maxBytesPerPartition: 1024 * 1024,
  maxWaitMs: 250,
  queueCapacity: 4,
  sessionTimeoutMs: 30_000
} as const

export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

export const tpKey = (tp: TopicPartition): string => `${tp.topic}/${tp.partition}`

interface Position {
  readonly topic: string
  readonly partition: number
  next: number
  highWatermark: number
  readonly queue: Queue.Queue<RecordBatch>
}

export interface Source {
  /** The partitions assigned to this member, re-published after every group (re)join. */
  readonly assignments: Queue.Dequeue<ReadonlyArray<TopicPartition>>
  /**
   * Starts fetching a partition at `offset` (at the log start when undefined) and returns the
   * queue its batches arrive on.
   */
  readonly attach: (
    tp: TopicPartition,
    offset: number | undefined
  ) => Effect.Effect<{ readonly queue: Queue.Dequeue<RecordBatch>; readonly from: number }, KafkaError>
  /** Stops fetching a partition and discards its queued batches. */
  readonly detach: (tp: TopicPartition) => Effect.Effect<void>
  /** Records the next offset in Kafka's group offsets, for lag monitoring only (best effort). */
  readonly commitGroupOffset: (tp: TopicPartition, next: number) => Effect.Effect<void>
  /** Stops all fetching (drain); batches already queued stay. */
  readonly stopFetching: Effect.Effect<void>
  /** The last end offset seen per attached partition. */
  readonly highWatermarks: Effect.Effect<ReadonlyMap<string, number>>
}

const toTopicPartitions = (assignments: ReadonlyArray<GroupAssignment> | null | undefined): Array<TopicPartition> =>
  (assignments ?? []).flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })))

/** Joins the consumer group and runs the fetch loop until the scope closes. */
export const makeSource = (options: SourceOptions): Effect.Effect<Source, KafkaError, Scope.Scope> =>
  Effect.gen(function*() {
    const consumer = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Consumer({
          clientId: options.clientId,
          groupId: options.groupId,
          ...(options.groupInstanceId === undefined ? {} : { groupInstanceId: options.groupInstanceId }),
          bootstrapBrokers: [...options.brokers],
          autocommit: false,
          sessionTimeout: options.sessionTimeoutMs,
          rebalanceTimeout: options.sessionTimeoutMs * 2,
          heartbeatInterval: Math.floor(options.sessionTimeoutMs / 10),
          maxWaitTime: options.maxWaitMs,
          maxBytes: options.maxBytesPerPartition * 4,
          retries: 3,
          retryDelay: 250
        })
      ),
      (c) =>
        Effect.promise(async () => {
          await Promise.resolve(c.leaveGroup()).catch(() => undefined)
          await Promise.resolve(c.close(true)).catch(() => undefined)
        })
    )
    const assignments = yield* Queue.unbounded<ReadonlyArray<TopicPartition>>()
    consumer.on("consumer:group:join", (payload) => {
      Queue.offerUnsafe(assignments, toTopicPartitions(payload.assignments))
    })

    consumer.topics.trackAll(...options.topics)
    yield* Effect.tryPromise({
      try: () => consumer.joinGroup({}),
      catch: (cause) => new KafkaError({ op: `join group ${options.groupId}`, cause })
    })

    const positions = new Map<string, Position>()
    let fetching = true

    const earliest = (tp: TopicPartition) =>
      Effect.tryPromise({
        try: () =>
          consumer.listOffsets({ topics: [tp.topic], partitions: { [tp.topic]: [tp.partition] }, timestamp: -2n }),
        catch: (cause) => new KafkaError({ op: `list offsets of ${tpKey(tp)}`, cause })
      }).pipe(Effect.map((offsets) => Number(offsets.get(tp.topic)?.[tp.partition] ?? 0n)))

    const attach = (tp: TopicPartition, offset: number | undefined) =>
      Effect.gen(function*() {
        const next = offset === undefined ? yield* earliest(tp) : offset
        const queue = yield* Queue.bounded<RecordBatch>(options.queueCapacity + 1)
        const previous = positions.get(tpKey(tp))
        if (previous) yield* Queue.shutdown(previous.queue)
        positions.set(tpKey(tp), { topic: tp.topic, partition: tp.partition, next, highWatermark: -1, queue })
        return { queue: queue as Queue.Dequeue<RecordBatch>, from: next }
      })

    const detach = (tp: TopicPartition) =>
      Effect.suspend(() => {
        const position = positions.get(tpKey(tp))
        positions.delete(tpKey(tp))
        return position ? Queue.shutdown(position.queue) : Effect.void
      })

    const fetchRound = Effect.gen(function*() {
      const wanted = [...positions.values()].filter((p) => Queue.sizeUnsafe(p.queue) < options.queueCapacity)
      if (!fetching || wanted.length === 0) {
        yield* Effect.sleep("20 millis")
        return
      }
      const fetched = yield* fetchOnce(
        consumer,
        wanted.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.next })),
        options
      )
      for (const f of fetched) {
        const key = `${f.topic}/${f.partition}`
        const position = positions.get(key)
        // A partition detached or re-seeked while the fetch was in flight: its data is stale.
        if (position === undefined || position.next !== f.from) continue
        if (f.errorCode !== 0) {
          yield* Effect.logWarning(`fetch ${key} at ${f.from}: broker error code ${f.errorCode}`)
          continue
        }
        position.highWatermark = f.highWatermark
        if (f.batch.nextOffset === position.next) continue
        position.next = f.batch.nextOffset
        Queue.offerUnsafe(position.queue, f.batch)
      }
    })

    yield* fetchRound.pipe(
      Effect.catch((e) => {
        const outOfRange = findErrorBy((e.cause as Error) ?? null, "apiId", "OFFSET_OUT_OF_RANGE")
        return Effect.logWarning(`${e.message}${outOfRange ? " (offset out of range: data deleted by retention?)" : ""}; retrying`).pipe(
          Effect.andThen(Effect.sleep("500 millis"))
        )
      }),
      Effect.forever,
      Effect.forkScoped
    )

    const commitGroupOffset = (tp: TopicPartition, next: number) =>
      Effect.promise(() =>
        consumer
          .commit({ offsets: [{ topic: tp.topic, partition: tp.partition, offset: BigInt(next), leaderEpoch: -1 }] })
          .catch(() => undefined)
      ).pipe(Effect.asVoid)

    return {
      assignments,
      attach,
      detach,
      commitGroupOffset,
      stopFetching: Effect.sync(() => {
        fetching = false
      }),
      highWatermarks: Effect.sync(() => new Map([...positions].map(([k, p]) => [k, p.highWatermark])))
    } satisfies Source
  })
