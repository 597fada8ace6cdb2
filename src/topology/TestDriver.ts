/**
 * A topology test driver, in the spirit of Kafka Streams' `TopologyTestDriver`: the runtime drives
 * a topology from an in-memory source instead of a broker, under Effect's `TestClock`, so a test
 * pipes records into partitions, assigns and revokes them, advances time, drains, and reads what
 * each sink received and committed, in milliseconds and deterministically. For tests only.
 */
import { Clock, Deferred, Effect, type Exit, Fiber, Option, Queue, type Scope } from "effect"
import { TestClock } from "effect/testing"
import { unlimitedBudget } from "./MemoryBudget.ts"
import type { Processor } from "./Processor.ts"
import type { DeadLetter, Decoded, SourcePartition, SourceRecord } from "./Record.ts"
import type { Sink, SinkError, SinkFenced, SinkPosition, SinkWindow } from "./Sink.ts"
import { type RunSummary, type RuntimeError, type RuntimeOptions, runTopology } from "./Runtime.ts"
import { type KafkaError, type Source, type SourceEvent, type TopicPartition, tpKey } from "./Source.ts"
import type { Topology } from "./Topology.ts"

/** The topic id every in-memory topic has. */
export const TEST_TOPIC_ID = "00000000-0000-4000-8000-000000000001"

export interface TopologyTestDriver {
  /** Appends values (null: an empty record) to a partition, stamped with the test clock's time. */
  readonly pipe: (topic: string, partition: number, values: ReadonlyArray<string | null>) => Effect.Effect<void>
  /** Makes this member the owner of exactly these partitions, as a rebalance does. */
  readonly assign: (tps: ReadonlyArray<TopicPartition>) => Effect.Effect<void>
  /** Lets the runtime run for `ms` of test time, in small steps. */
  readonly advance: (ms: number) => Effect.Effect<void>
  /**
   * Lets the runtime run, in small steps, until `done()` holds or `maxMs` of test time have passed;
   * true when it holds. For sinks with real I/O, whose commits take real time whatever the clock.
   */
  readonly advanceUntil: (done: () => boolean, maxMs: number) => Effect.Effect<boolean>
  /**
   * Whether each of these partitions is attached and the runtime has taken every record piped to it
   * (fetched to the end of its log, nothing left in its queue). A drain before that leaves records
   * unread, as `sluice run` does; wait for it with `advanceUntil` when a sink's recovery does real I/O.
   */
  readonly consumed: (tps: ReadonlyArray<TopicPartition>) => boolean
  /** Makes the source fail, as a broker unreachable past the outage deadline does. */
  readonly failSource: (error: KafkaError) => Effect.Effect<void>
  /** The first SIGTERM: the runtime drains; returns its summary (or its failure). */
  readonly drain: Effect.Effect<Exit.Exit<RunSummary, RuntimeError>>
  /** The runtime's outcome once it has ended (undefined while it runs). */
  readonly outcome: () => Exit.Exit<RunSummary, RuntimeError> | undefined
}

/** Starts `topology` on in-memory topics of the given partition counts; provide `TestClock.layer()` around it. */
export const makeTestDriver = (
  topology: Topology,
  partitions: ReadonlyMap<string, number>,
  options: Partial<RuntimeOptions> = {}
): Effect.Effect<TopologyTestDriver, never, Scope.Scope> =>
  Effect.gen(function*() {
    const logs = new Map<string, Array<SourceRecord>>()
    for (const [topic, count] of partitions) for (let p = 0; p < count; p++) logs.set(tpKey({ topic, partition: p }), [])
    const assignments = yield* Queue.unbounded<ReadonlyArray<TopicPartition>>()
    const failed = yield* Deferred.make<never, KafkaError>()
    const positions = new Map<string, { next: number; queue: Queue.Queue<SourceEvent> }>()
    let fetching = true
    const budget = options.budget ?? unlimitedBudget()

    // The fetch loop: every 5 ms of test time, each attached partition with room gets what is new
    // (up to 500 records), as many of them as the memory budget admits.
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const wanted = [...(fetching ? positions : [])].flatMap(([key, position]) => {
            const log = logs.get(key)!
            return position.next >= log.length || Queue.sizeUnsafe(position.queue) >= 4 ? [] : [{ key, position, records: log.slice(position.next, position.next + 500) }]
          })
          const rawBytes = (records: ReadonlyArray<SourceRecord>) => records.reduce((n, r) => n + (r.value?.length ?? 0) + (r.key?.length ?? 0), 0)
          for (const { key, position, records } of budget.admit(wanted, Math.max(0, ...wanted.map((w) => rawBytes(w.records))))) {
            const log = logs.get(key)!
            const [topic, partition] = key.split("/") as [string, string]
            position.next += records.length
            budget.fetched(key, records)
            Queue.offerUnsafe(position.queue, {
              _tag: "Batch",
              batch: { topic, partition: Number(partition), records, nextOffset: position.next, endOffset: log.length, logStartOffset: 0, fetchedAt: now }
            })
          }
          yield* Effect.sleep("5 millis")
        })
      )
    )

    const source: Source = {
      assignments,
      topicId: (topic) => Effect.succeed(partitions.has(topic) ? TEST_TOPIC_ID : undefined),
      endOffsets: (topic) =>
        Effect.succeed(Array.from({ length: partitions.get(topic) ?? 0 }, (_, partition) => ({ partition, start: 0, end: logs.get(tpKey({ topic, partition }))!.length }))),
      attach: (sp, offset) =>
        Effect.gen(function*() {
          const queue = yield* Queue.bounded<SourceEvent>(5)
          const from = offset ?? 0
          positions.set(tpKey(sp), { next: from, queue })
          budget.forgetQueued(tpKey(sp))
          return { queue, from }
        }),
      detach: (tp) =>
        Effect.suspend(() => {
          const position = positions.get(tpKey(tp))
          positions.delete(tpKey(tp))
          budget.forgetQueued(tpKey(tp))
          return position ? Queue.shutdown(position.queue).pipe(Effect.asVoid) : Effect.void
        }),
      commitGroupOffset: () => Effect.void,
      stopFetching: Effect.sync(() => {
        fetching = false
      }),
      endOffsetsSeen: Effect.sync(() => new Map([...positions.keys()].map((k) => [k, logs.get(k)!.length]))),
      failure: Deferred.await(failed)
    }

    const stop = yield* Deferred.make<void>()
    let outcome: Exit.Exit<RunSummary, RuntimeError> | undefined
    const fiber = yield* runTopology(topology, source, {
      stalledAfterMs: 60_000,
      drainTimeoutMs: 30_000,
      fencedBackoffMs: 1_000,
      ...options,
      budget
    }, stop).pipe(
      Effect.onExit((exit) => Effect.sync(() => {
        outcome = exit
      })),
      Effect.forkScoped
    )

    // Each step also lets the event loop turn once: a sink that writes real files (the lake's, in a
    // temporary folder) gets its I/O done between steps instead of racing the test clock.
    const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    const advance = (ms: number) =>
      Effect.gen(function*() {
        for (let left = ms; left > 0; left -= 5) {
          yield* TestClock.adjust(Math.min(5, left))
          yield* Effect.yieldNow
          yield* turn
        }
      })
    const advanceUntil = (done: () => boolean, maxMs: number) =>
      Effect.gen(function*() {
        for (let spent = 0; spent < maxMs && !done(); spent += 5) yield* advance(5)
        return done()
      })

    return {
      pipe: (topic, partition, values) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const log = logs.get(tpKey({ topic, partition }))
          if (log === undefined) throw new Error(`no partition ${topic}/${partition} in this driver`)
          for (const v of values) log.push({ offset: log.length, timestamp: now, key: null, value: v === null ? null : Buffer.from(v) })
        }),
      assign: (tps) => Queue.offer(assignments, tps).pipe(Effect.asVoid),
      advance,
      advanceUntil,
      consumed: (tps) =>
        tps.every((tp) => {
          const position = positions.get(tpKey(tp))
          return position !== undefined && position.next >= logs.get(tpKey(tp))!.length && Queue.sizeUnsafe(position.queue) === 0
        }),
      failSource: (error) => Deferred.fail(failed, error).pipe(Effect.asVoid),
      drain: Effect.gen(function*() {
        yield* Deferred.succeed(stop, undefined)
        for (let i = 0; i < 10_000 && outcome === undefined; i++) yield* advance(10)
        return outcome ?? (yield* Fiber.await(fiber))
      }),
      outcome: () => outcome
    }
  })

/** One window a recording sink committed. */
export interface RecordedCommit<V> {
  readonly partition: number
  readonly from: number
  readonly to: number
  readonly decisions: number
  readonly values: ReadonlyArray<V>
  readonly deadLetters: ReadonlyArray<number>
  /** The partition's state after the window, when the flow keeps one. */
  readonly state: number | undefined
}

export interface RecordingSink<T, V = T> extends Sink<T> {
  readonly commits: Array<RecordedCommit<V>>
  /** Sets what this sink has committed before the run (next offset, decisions version, partition state). */
  readonly preset: (partition: number, next: number, decisions: number, state?: number) => void
  /** How many times each partition was recovered. */
  readonly recoveries: Map<number, number>
}

type CommitHook = (c: Omit<RecordedCommit<unknown>, "values" | "deadLetters" | "state">) => Effect.Effect<void, SinkFenced | SinkError>

/**
 * A sink that keeps what it is given: the records' values, or what the processor `input` makes of
 * them. `beforeWrite` runs at the start of each commit, where a real sink encodes and writes its
 * files (interruptible); `whileWriting` runs in the uninterruptible check-and-write that records the
 * commit, as a real sink's log write.
 */
export const makeRecordingSink = <T, V = T>(
  name: string,
  hooks: { readonly beforeWrite?: CommitHook; readonly whileWriting?: CommitHook } = {},
  input?: Processor<T, V>
): RecordingSink<T, V> => {
  const committed = new Map<number, { next: number; decisions: number; state: number | undefined }>()
  const decisions = new Map<number, string>()
  const commits: Array<RecordedCommit<V>> = []
  const recoveries = new Map<number, number>()
  const position = (sp: SourcePartition): Effect.Effect<SinkPosition> =>
    Effect.sync(() => {
      const c = committed.get(sp.partition)
      return c === undefined ? { next: undefined, furthest: undefined } : { next: c.next, furthest: { next: c.next, decisions: c.decisions }, state: c.state }
    })
  return {
    name,
    commits,
    recoveries,
    preset: (partition, next, version, state) => {
      committed.set(partition, { next, decisions: version, state })
    },
    position,
    recover: (sp) =>
      Effect.suspend(() => {
        recoveries.set(sp.partition, (recoveries.get(sp.partition) ?? 0) + 1)
        return position(sp)
      }),
    targets: [{ name, location: "memory", input: input ?? "dead letters" }],
    open: (sp, from, decided) =>
      Effect.sync((): SinkWindow<T> => {
        const start = Math.max(from, committed.get(sp.partition)?.next ?? from)
        const values: Array<V> = []
        const letters: Array<number> = []
        return {
          add: (r: Decoded<T>) => {
            if (r.offset < start) return
            const v = input === undefined ? (r.value as unknown as V) : input.evaluate(r, decided)
            if (v !== undefined) values.push(v)
          },
          addDeadLetter: (d: DeadLetter) => {
            if (d.offset >= start) letters.push(d.offset)
          },
          commit: (to, state) =>
            Effect.gen(function*() {
              if (to < start) return
              const c = { partition: sp.partition, from: start, to, decisions: decided.version }
              yield* hooks.beforeWrite?.(c) ?? Effect.void
              yield* Effect.uninterruptible(Effect.gen(function*() {
                yield* hooks.whileWriting?.(c) ?? Effect.void
                commits.push({ ...c, values, deadLetters: letters, state })
                committed.set(sp.partition, { next: to + 1, decisions: decided.version, state })
              }))
            })
        }
      }),
    saveDecisions: (version, content) => Effect.sync(() => void decisions.set(version, content)),
    loadDecisions: (version) => Effect.sync(() => Option.fromNullishOr(decisions.get(version)))
  }
}
