/**
 * State from a compacted topic (Kafka Streams' global table): every key's latest value, read to
 * the topic's end at start-up and then followed, as a read_committed reader, while the service
 * runs. A topic that does not exist yet is an empty table until it appears.
 */
import { Consumer, ListOffsetTimestamps } from "@platformatic/kafka"
import { Effect, Result, type Scope } from "effect"
import { fetchRound, KafkaError, topicIds } from "./Fetch.ts"

/** A compacted topic's table, kept current. */
export interface StateTopic<V> {
  readonly topic: string
  /** Every key's latest valid value; a tombstone (null value) removes its key. */
  readonly entries: () => ReadonlyMap<string, V>
  /** Whether the topic existed when last looked at. */
  readonly exists: () => boolean
  /** Grows at every change of the entries: equal revisions, equal entries. */
  readonly revision: () => number
}

export interface StateTopicOptions<V> {
  readonly brokers: ReadonlyArray<string>
  readonly topic: string
  /** A value from its key and bytes, or why it is refused (logged, then skipped). */
  readonly decode: (key: string, value: Buffer) => Result.Result<V, string>
  /** How often the topic is read for new records once caught up. */
  readonly pollMs: number
  /** How long the first read to the topic's end may take. */
  readonly loadDeadlineMs: number
}

/** Reads `topic` to its end, then follows it until the scope closes. */
export const followStateTopic = <V>(options: StateTopicOptions<V>): Effect.Effect<StateTopic<V>, KafkaError, Scope.Scope> =>
  Effect.gen(function*() {
    const consumer = yield* Effect.acquireRelease(
      Effect.sync(() =>
        // Short retries: a topic not created yet answers "unknown" to every retry, and start-up waits them
        // out; a broker that goes away is waited for by the follow loop instead.
        new Consumer({ clientId: `sluice-state-${options.topic}`, groupId: "sluice-state", bootstrapBrokers: [...options.brokers], retries: 2, retryDelay: 200 })
      ),
      (c) => Effect.promise(() => c.close(true).catch(() => undefined))
    )
    const entries = new Map<string, V>()
    let revision = 0
    let exists = false
    let topicId: string | undefined
    // Next offset per partition of the incarnation being followed.
    let positions: Array<number> = []

    const listOffsets = (timestamp: bigint) =>
      Effect.tryPromise({
        try: () => consumer.listOffsets({ topics: [options.topic], timestamp }),
        catch: (cause) => new KafkaError({ op: `list offsets of ${options.topic}`, cause })
      }).pipe(Effect.map((o) => (o.get(options.topic) ?? []).map(Number)))

    /** Looks the topic up: a new incarnation (or its first sight) starts the table over. */
    const lookUp = Effect.gen(function*() {
      const id = (yield* topicIds(consumer, [options.topic], true)).get(options.topic)
      exists = id !== undefined
      if (id === undefined || id === topicId) return
      if (topicId !== undefined) yield* Effect.logWarning(`${options.topic} was created again: its table is read anew`)
      topicId = id
      positions = yield* listOffsets(ListOffsetTimestamps.EARLIEST)
      if (entries.size > 0) {
        entries.clear()
        revision++
      }
    })

    /** One fetch from every partition; true when something new was read. */
    const readOnce = Effect.gen(function*() {
      if (topicId === undefined || positions.length === 0) return false
      const { fetched } = yield* fetchRound(
        consumer,
        positions.map((offset, partition) => ({ topic: options.topic, partition, offset })),
        { maxWaitMs: 50, maxBytesPerPartition: 4 * 1024 * 1024 }
      )
      let changed = false
      for (const f of fetched) {
        if (f.errorCode !== 0 || f.topicId !== topicId) continue
        for (const r of f.batch.records) {
          // A record without a key cannot be compacted away: it stays, under its own coordinates.
          const key = r.key === null ? `#${f.partition}@${r.offset}` : r.key.toString("utf8")
          if (r.value === null) {
            changed = entries.delete(key) || changed
            continue
          }
          const decoded = options.decode(key, r.value)
          if (Result.isFailure(decoded)) {
            yield* Effect.logWarning(`${options.topic}/${f.partition}@${r.offset}: ${decoded.failure}; skipped`)
            continue
          }
          entries.set(key, decoded.success)
          changed = true
        }
        positions[f.partition] = Math.max(positions[f.partition] ?? 0, f.batch.nextOffset)
      }
      if (changed) revision++
      return fetched.some((f) => f.batch.records.length > 0)
    })

    // The first read goes to the end the topic has now, so that start-up decides with all of it.
    yield* lookUp
    if (topicId !== undefined) {
      const ends = yield* listOffsets(ListOffsetTimestamps.LATEST)
      yield* Effect.gen(function*() {
        while (positions.some((p, i) => p < (ends[i] ?? 0))) yield* readOnce
      }).pipe(
        Effect.timeoutOrElse({
          duration: options.loadDeadlineMs,
          orElse: () => Effect.fail(new KafkaError({ op: `read ${options.topic}`, cause: new Error(`not read to its end within ${options.loadDeadlineMs / 1000} s`) }))
        })
      )
    }

    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function*() {
          yield* lookUp
          const more = yield* readOnce
          if (!more) yield* Effect.sleep(options.pollMs)
        }).pipe(
          // A broker that goes away is the source's concern: the table keeps what it has meanwhile.
          Effect.catch((e) => Effect.logWarning(`${options.topic}: ${e.message}; retrying`).pipe(Effect.andThen(Effect.sleep(options.pollMs))))
        )
      )
    )

    return {
      topic: options.topic,
      entries: () => entries,
      exists: () => exists,
      revision: () => revision
    }
  })

/** A table of a topic that is not followed (it stays empty): for descriptions and tests. */
export const emptyStateTopic = <V>(topic: string): StateTopic<V> => ({
  topic,
  entries: () => new Map(),
  exists: () => false,
  revision: () => 0
})
