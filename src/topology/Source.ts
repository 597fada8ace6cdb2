/**
 * The Kafka source: consumer-group membership, and one fetch loop that feeds each attached
 * partition's bounded queue of events. A full queue leaves its partition out of the next fetch
 * (backpressure); positions are set by the runtime (seek), never by Kafka's group offsets.
 */
import { Consumer, type GroupAssignment, ListOffsetTimestamps } from "@platformatic/kafka"
import { Clock, Data, Deferred, Effect, Exit, Queue, type Scope } from "effect"
import { errorName, FetchErrors, fetchRound as fetchOnce, isTransientKafkaError, KafkaError, topicIds } from "./Fetch.ts"
import { type MemoryBudget, unlimitedBudget } from "./MemoryBudget.ts"
import { defaultOutagePolicy, type OutagePolicy, waitOut } from "./Outage.ts"
import type { RecordBatch, SourcePartition } from "./Record.ts"

export { KafkaError } from "./Fetch.ts"

/** What to do when a partition's next offset is no longer in the log (retention deleted it unread). */
export type OffsetOutOfRangePolicy = "fail" | "earliest"

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
  readonly onOffsetOutOfRange: OffsetOutOfRangePolicy
  /** How long an unreachable broker is waited for. */
  readonly outage: OutagePolicy
  /** The memory budget the fetched batches count in: when it is reached, partitions are left out of fetches. */
  readonly budget?: MemoryBudget | undefined
}

export const defaultSourceOptions = {
  maxBytesPerPartition: 1024 * 1024,
  maxWaitMs: 250,
  queueCapacity: 4,
  sessionTimeoutMs: 30_000,
  onOffsetOutOfRange: "fail",
  outage: defaultOutagePolicy
} as const

export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

/** The one spelling of a partition in logs and keys: `<topic>/<partition>`. */
export const tpKey = (tp: TopicPartition): string => `${tp.topic}/${tp.partition}`

/**
 * A partition's next offset is no longer in its log: records the sinks never read were deleted
 * (retention), or the log was truncated below what they committed.
 */
export class OffsetOutOfRange extends Data.TaggedError("OffsetOutOfRange")<{
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly logStart: number
  readonly logEnd: number
}> {
  override get message(): string {
    const where = `${this.topic}/${this.partition}`
    if (this.offset < this.logStart) {
      const lost = this.logStart - this.offset
      return `${where}: offsets ${this.offset}..${this.logStart - 1} (${lost} offsets) were deleted from Kafka before any sink read them; ` +
        `run with --on-offset-out-of-range=earliest to skip them and go on from ${this.logStart}`
    }
    return `${where}: the sinks committed up to ${this.offset - 1} but the log ends at ${this.logEnd - 1} (truncated: an unclean leader election?); ` +
      `the sinks' data past the log's end cannot be matched with Kafka`
  }
}

/** What a partition's queue delivers, in order. */
export type SourceEvent =
  | { readonly _tag: "Batch"; readonly batch: RecordBatch }
  /** The topic was deleted or created again: the incarnation being read is over. */
  | { readonly _tag: "Ended"; readonly reason: string }
  | { readonly _tag: "Failed"; readonly error: KafkaError | OffsetOutOfRange }

interface Position {
  readonly sp: SourcePartition
  next: number
  endOffset: number
  readonly queue: Queue.Queue<SourceEvent>
  /** Set once an `Ended` or `Failed` event is queued: the partition is no longer fetched. */
  done: boolean
}

export interface Source {
  /** The partitions assigned to this member, re-published after every group (re)join. */
  readonly assignments: Queue.Dequeue<ReadonlyArray<TopicPartition>>
  /** The id of a topic's current incarnation; undefined while the topic does not exist. */
  readonly topicId: (topic: string) => Effect.Effect<string | undefined, KafkaError>
  /** Each partition's end for a read_committed reader (its last stable offset) and log start. */
  readonly endOffsets: (
    topic: string
  ) => Effect.Effect<ReadonlyArray<{ readonly partition: number; readonly start: number; readonly end: number }>, KafkaError>
  /**
   * Starts fetching a partition at `offset` (at the log start when undefined) and returns the
   * queue its events arrive on.
   */
  readonly attach: (
    sp: SourcePartition,
    offset: number | undefined
  ) => Effect.Effect<{ readonly queue: Queue.Dequeue<SourceEvent>; readonly from: number }, KafkaError>
  /** Stops fetching a partition and discards its queued batches. */
  readonly detach: (tp: TopicPartition) => Effect.Effect<void>
  /** Records the next offset in Kafka's group offsets, for lag monitoring only (best effort). */
  readonly commitGroupOffset: (tp: TopicPartition, next: number) => Effect.Effect<void>
  /** Stops all fetching (drain); batches already queued stay. */
  readonly stopFetching: Effect.Effect<void>
  /** The last end offset (last stable offset) seen per attached partition, by `tpKey`. */
  readonly endOffsetsSeen: Effect.Effect<ReadonlyMap<string, number>>
  /** Fails when the source cannot go on (the broker unreachable past the outage deadline, the group lost). */
  readonly failure: Effect.Effect<never, KafkaError>
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
          // Leaving the group hands our partitions over at once instead of after the session timeout.
          await Promise.resolve(c.leaveGroup()).catch(() => undefined)
          await Promise.resolve(c.close(true)).catch(() => undefined)
        })
    )
    const failed = yield* Deferred.make<never, KafkaError>()
    const assignments = yield* Queue.unbounded<ReadonlyArray<TopicPartition>>()
    consumer.on("consumer:group:join", (payload) => {
      Queue.offerUnsafe(assignments, toTopicPartitions(payload.assignments))
    })

    const join = waitOut(
      `join group ${options.groupId}`,
      Effect.tryPromise({
        try: () => consumer.joinGroup({}),
        catch: (cause) => new KafkaError({ op: `join group ${options.groupId}`, cause })
      }),
      isTransientKafkaError,
      options.outage
    )
    // The client rejoins by itself after a rebalance or a broker restart; when that fails it says so
    // through an `error` event (fatal to the process if nobody listens) and stops heartbeating.
    const rejoins = yield* Queue.sliding<unknown>(1)
    consumer.on("error", (error: unknown) => {
      Queue.offerUnsafe(rejoins, error)
    })
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function*() {
          const error = yield* Queue.take(rejoins)
          yield* Effect.logWarning(`group ${options.groupId}: rejoin failed (${(error as Error)?.message ?? String(error)}); joining again`)
          const rejoined = yield* Effect.exit(join)
          if (Exit.isFailure(rejoined)) yield* Deferred.failCause(failed, rejoined.cause)
        })
      )
    )

    // The group is joined with the source topics that exist; one created later is picked up when it
    // appears (said once), with a rejoin. Until one exists there is nothing to join for.
    const missing = new Set(options.topics)
    const trackNew = Effect.gen(function*() {
      if (missing.size === 0) return false
      const ids = yield* topicIds(consumer, [...missing], true)
      const found = [...missing].filter((t) => ids.has(t))
      for (const t of found) {
        missing.delete(t)
        consumer.topics.track(t)
      }
      return found.length > 0
    })
    yield* trackNew
    for (const t of missing) yield* Effect.logWarning(`topic ${t} does not exist yet; it is read as soon as it appears`)
    while (consumer.topics.current.length === 0) {
      yield* Effect.sleep("1 second")
      yield* trackNew
    }
    yield* join
    if (missing.size > 0) {
      yield* Effect.forkScoped(
        Effect.forever(
          Effect.gen(function*() {
            yield* Effect.sleep("2 seconds")
            if (yield* trackNew) {
              yield* Effect.logInfo(`topics ${consumer.topics.current.join(", ")} are read now: joining the group again`)
              yield* join
            }
          }).pipe(Effect.catch((e) => Effect.logWarning(`looking for new source topics: ${e.message}`)))
        ).pipe(Effect.catchCause((cause) => Deferred.failCause(failed, cause)))
      )
    }

    const positions = new Map<string, Position>()
    let fetching = true
    const budget = options.budget ?? unlimitedBudget()

    const listOffsets = (topic: string, partitions: ReadonlyArray<number> | undefined, timestamp: bigint) =>
      Effect.tryPromise({
        try: () =>
          consumer.listOffsets({ topics: [topic], ...(partitions ? { partitions: { [topic]: [...partitions] } } : {}), timestamp }),
        catch: (cause) => new KafkaError({ op: `list offsets of ${topic}`, cause })
      }).pipe(Effect.map((offsets) => (offsets.get(topic) ?? []).map(Number)))

    const logRange = (tp: TopicPartition) =>
      Effect.all([
        listOffsets(tp.topic, [tp.partition], ListOffsetTimestamps.EARLIEST),
        listOffsets(tp.topic, [tp.partition], ListOffsetTimestamps.LATEST)
      ]).pipe(Effect.map(([starts, ends]) => ({ start: starts[tp.partition] ?? 0, end: ends[tp.partition] ?? 0 })))

    const topicId = (topic: string) => topicIds(consumer, [topic], true).pipe(Effect.map((ids) => ids.get(topic)))

    const attach = (sp: SourcePartition, offset: number | undefined) =>
      Effect.gen(function*() {
        const next = offset === undefined ? (yield* logRange(sp)).start : offset
        const queue = yield* Queue.bounded<SourceEvent>(options.queueCapacity + 1)
        const previous = positions.get(tpKey(sp))
        if (previous) yield* Queue.shutdown(previous.queue)
        positions.set(tpKey(sp), { sp, next, endOffset: -1, queue, done: false })
        budget.forgetQueued(tpKey(sp))
        return { queue: queue as Queue.Dequeue<SourceEvent>, from: next }
      })

    const detach = (tp: TopicPartition) =>
      Effect.suspend(() => {
        const position = positions.get(tpKey(tp))
        positions.delete(tpKey(tp))
        budget.forgetQueued(tpKey(tp))
        return position ? Queue.shutdown(position.queue) : Effect.void
      })

    const end = (position: Position, event: SourceEvent) => {
      position.done = true
      Queue.offerUnsafe(position.queue, event)
    }

    /** A partition reported an error code: decide for it alone. */
    const onPartitionError = (position: Position, code: number, topicIdNow: string | undefined) =>
      Effect.gen(function*() {
        const key = tpKey(position.sp)
        if (topicIdNow !== position.sp.topicId) {
          return end(position, {
            _tag: "Ended",
            reason: topicIdNow === undefined ? "the topic was deleted" : `the topic was created again (id ${topicIdNow})`
          })
        }
        if (code === FetchErrors.offsetOutOfRange) {
          const range = yield* logRange(position.sp)
          if (position.next < range.start && options.onOffsetOutOfRange === "earliest") {
            yield* Effect.logWarning(
              `${key}: offsets ${position.next}..${range.start - 1} were deleted from Kafka before any sink read them; skipping to ${range.start}`
            )
            // An empty batch that covers the gap: the sinks commit past it with no rows.
            const now = yield* Clock.currentTimeMillis
            Queue.offerUnsafe(position.queue, {
              _tag: "Batch",
              batch: { topic: position.sp.topic, partition: position.sp.partition, records: [], nextOffset: range.start, endOffset: range.end, logStartOffset: range.start, fetchedAt: now }
            })
            position.next = range.start
            return
          }
          if (position.next >= range.start && position.next <= range.end) return // the log moved while we asked
          return end(position, {
            _tag: "Failed",
            error: new OffsetOutOfRange({ topic: position.sp.topic, partition: position.sp.partition, offset: position.next, logStart: range.start, logEnd: range.end })
          })
        }
        yield* Effect.logWarning(`fetch ${key} at ${position.next}: ${errorName(code)}; retrying`)
      })

    const fetchRound = Effect.gen(function*() {
      // Past the memory budget, partitions are left out (taking turns) until windows commit and free it.
      const wanted = budget.admit(
        [...positions.values()].filter((p) => !p.done && Queue.sizeUnsafe(p.queue) < options.queueCapacity),
        options.maxBytesPerPartition
      )
      if (!fetching || wanted.length === 0) {
        yield* Effect.sleep("20 millis")
        return
      }
      const { fetched, leaderless } = yield* fetchOnce(
        consumer,
        wanted.map((p) => ({ topic: p.sp.topic, partition: p.sp.partition, offset: p.next })),
        options
      )
      let ids: ReadonlyMap<string, string> | undefined
      for (const f of fetched) {
        const key = tpKey(f)
        const position = positions.get(key)
        // A partition detached or re-seeked while the fetch was in flight: its data is stale.
        if (position === undefined || position.done || position.next !== f.from) continue
        if (f.errorCode !== FetchErrors.none || f.topicId !== position.sp.topicId) {
          ids ??= yield* topicIds(consumer, [...new Set(wanted.map((w) => w.sp.topic))], true).pipe(
            Effect.catch(() => Effect.succeed(new Map<string, string>()))
          )
          yield* onPartitionError(position, f.errorCode, ids.get(position.sp.topic))
          continue
        }
        position.endOffset = f.batch.endOffset
        if (f.batch.nextOffset === position.next) continue
        position.next = f.batch.nextOffset
        budget.fetched(key, f.batch.records)
        Queue.offerUnsafe(position.queue, { _tag: "Batch", batch: f.batch })
      }
      // A partition whose topic vanished is not fetched at all (its leader is unknown): notice that too.
      const missing = leaderless.flatMap((l) => positions.get(tpKey(l)) ?? [])
      if (missing.length > 0) {
        const now = yield* topicIds(consumer, [...new Set(missing.map((p) => p.sp.topic))], true).pipe(
          Effect.catch(() => Effect.succeed(new Map<string, string>()))
        )
        for (const p of missing) {
          if (!p.done && now.get(p.sp.topic) !== p.sp.topicId) yield* onPartitionError(p, FetchErrors.unknownTopicId, now.get(p.sp.topic))
        }
      }
    })

    // A fetch that fails as a whole (no broker answers) is retried with back-off until the outage
    // deadline; then the source fails, and with it the service.
    yield* Effect.forkScoped(
      Effect.forever(waitOut("fetch", fetchRound, isTransientKafkaError, options.outage)).pipe(
        Effect.catchCause((cause) => Deferred.failCause(failed, cause))
      )
    )

    const commitGroupOffset = (tp: TopicPartition, next: number) =>
      Effect.promise(() =>
        consumer
          .commit({ offsets: [{ topic: tp.topic, partition: tp.partition, offset: BigInt(next), leaderEpoch: -1 }] })
          .catch(() => undefined)
      ).pipe(Effect.asVoid)


    const endOffsets = (topic: string) =>
      Effect.all([listOffsets(topic, undefined, ListOffsetTimestamps.EARLIEST), listOffsets(topic, undefined, ListOffsetTimestamps.LATEST)]).pipe(
        Effect.map(([starts, ends]) => ends.map((end, partition) => ({ partition, start: starts[partition] ?? 0, end })))
      )

    return {
      assignments,
      topicId,
      endOffsets,
      attach,
      detach,
      commitGroupOffset,
      stopFetching: Effect.sync(() => {
        fetching = false
      }),
      endOffsetsSeen: Effect.sync(() => new Map([...positions].map(([k, p]) => [k, p.endOffset]))),
      failure: Deferred.await(failed)
    } satisfies Source
  })
