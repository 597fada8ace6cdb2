/**
 * A topology's edges in memory, for driving the runtime without a broker: a source whose
 * partitions are arrays the test appends to and whose assignment the test sets, and a sink that
 * records every window it opens and commits (with hooks to slow a commit down or make it die).
 */
import { Deferred, Effect, Exit, Option, Queue, type Scope } from "effect"
import type { DeadLetter, Decoded, SourcePartition, SourceRecord } from "../../src/topology/Record.ts"
import type { Sink, SinkPosition, SinkWindow } from "../../src/topology/Sink.ts"
import { type KafkaError, type Source, type SourceEvent, type TopicPartition, tpKey } from "../../src/topology/Source.ts"

export const MEMORY_TOPIC_ID = "00000000-0000-4000-8000-000000000001"

export interface MemorySource extends Source {
  /** Appends values to a partition's log (offsets follow on). */
  readonly append: (tp: TopicPartition, values: ReadonlyArray<string>) => void
  /** Publishes a new assignment, as a group rebalance does. */
  readonly assign: (tps: ReadonlyArray<TopicPartition>) => void
  /** Makes the source fail, as an unreachable broker past its deadline does. */
  readonly fail: (error: KafkaError) => void
}

export const makeMemorySource = (partitions: ReadonlyMap<string, number>): Effect.Effect<MemorySource, never, Scope.Scope> =>
  Effect.gen(function*() {
    const logs = new Map<string, Array<SourceRecord>>()
    for (const [topic, count] of partitions) for (let p = 0; p < count; p++) logs.set(tpKey({ topic, partition: p }), [])
    const assignments = yield* Queue.unbounded<ReadonlyArray<TopicPartition>>()
    const failed = yield* Deferred.make<never, KafkaError>()
    const positions = new Map<string, { next: number; queue: Queue.Queue<SourceEvent> }>()
    let fetching = true

    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function*() {
          if (fetching) {
            for (const [key, position] of positions) {
              const log = logs.get(key)!
              if (position.next >= log.length || Queue.sizeUnsafe(position.queue) >= 4) continue
              const records = log.slice(position.next, position.next + 500)
              const [topic, partition] = key.split("/") as [string, string]
              position.next += records.length
              Queue.offerUnsafe(position.queue, {
                _tag: "Batch",
                batch: { topic, partition: Number(partition), records, nextOffset: position.next, endOffset: log.length, logStartOffset: 0, fetchedAt: Date.now() }
              })
            }
          }
          yield* Effect.sleep("5 millis")
        })
      )
    )

    const source: MemorySource = {
      assignments,
      topicId: (topic) => Effect.succeed(partitions.has(topic) ? MEMORY_TOPIC_ID : undefined),
      endOffsets: (topic) =>
        Effect.succeed(Array.from({ length: partitions.get(topic) ?? 0 }, (_, partition) => ({ partition, start: 0, end: logs.get(tpKey({ topic, partition }))!.length }))),
      attach: (sp, offset) =>
        Effect.gen(function*() {
          const queue = yield* Queue.bounded<SourceEvent>(5)
          const from = offset ?? 0
          positions.set(tpKey(sp), { next: from, queue })
          return { queue, from }
        }),
      detach: (tp) =>
        Effect.suspend(() => {
          const position = positions.get(tpKey(tp))
          positions.delete(tpKey(tp))
          return position ? Queue.shutdown(position.queue).pipe(Effect.asVoid) : Effect.void
        }),
      commitGroupOffset: () => Effect.void,
      stopFetching: Effect.sync(() => {
        fetching = false
      }),
      endOffsetsSeen: Effect.sync(() => new Map([...positions.keys()].map((k) => [k, logs.get(k)!.length]))),
      failure: Deferred.await(failed),
      append: (tp, values) => {
        const log = logs.get(tpKey(tp))!
        for (const v of values) log.push({ offset: log.length, timestamp: Date.now(), key: null, value: Buffer.from(v) })
      },
      assign: (tps) => {
        Queue.offerUnsafe(assignments, tps)
      },
      fail: (error) => {
        Deferred.doneUnsafe(failed, Exit.fail(error))
      }
    }
    return source
  })

/** One window a recording sink committed. */
export interface RecordedCommit<T> {
  readonly partition: number
  readonly from: number
  readonly to: number
  readonly decisions: number
  readonly values: ReadonlyArray<T>
  readonly deadLetters: ReadonlyArray<number>
}

export interface RecordingSink<T> extends Sink<T> {
  readonly commits: Array<RecordedCommit<T>>
  /** Sets what this sink has committed before the run (next offset and decisions version). */
  readonly preset: (partition: number, next: number, decisions: number) => void
}

type CommitHook<T> = (c: Omit<RecordedCommit<T>, "values" | "deadLetters">) => Effect.Effect<void>

/** A sink of the records of `topic`, for the tests' topologies. */

/**
 * A sink that keeps what it is given. `beforeWrite` runs at the start of each commit, where a
 * real sink encodes and writes its files (interruptible); `whileWriting` runs in the
 * uninterruptible check-and-write that records the commit, as a real sink's log write.
 */
export const makeRecordingSink = <T>(
  name: string,
  hooks: { readonly beforeWrite?: CommitHook<T>; readonly whileWriting?: CommitHook<T> } = {}
): RecordingSink<T> => {
  const committed = new Map<number, { next: number; decisions: number }>()
  const decisions = new Map<number, string>()
  const commits: Array<RecordedCommit<T>> = []
  const position = (sp: SourcePartition): Effect.Effect<SinkPosition> =>
    Effect.sync(() => {
      const c = committed.get(sp.partition)
      return c === undefined ? { next: undefined, furthest: undefined } : { next: c.next, furthest: { next: c.next, decisions: c.decisions } }
    })
  return {
    name,
    commits,
    preset: (partition, next, version) => {
      committed.set(partition, { next, decisions: version })
    },
    position,
    recover: position,
    targets: [{ name, location: "memory", input: "dead letters" }],
    open: (sp, from, decided) =>
      Effect.sync((): SinkWindow<T> => {
        const start = Math.max(from, committed.get(sp.partition)?.next ?? from)
        const values: Array<T> = []
        const letters: Array<number> = []
        return {
          add: (r: Decoded<T>) => {
            if (r.offset >= start) values.push(r.value)
          },
          addDeadLetter: (d: DeadLetter) => {
            if (d.offset >= start) letters.push(d.offset)
          },
          commit: (to) =>
            Effect.gen(function*() {
              if (to < start) return
              const c = { partition: sp.partition, from: start, to, decisions: decided.version }
              yield* hooks.beforeWrite?.(c) ?? Effect.void
              yield* Effect.uninterruptible(Effect.gen(function*() {
                yield* hooks.whileWriting?.(c) ?? Effect.void
                commits.push({ ...c, values, deadLetters: letters })
                committed.set(sp.partition, { next: to + 1, decisions: decided.version })
              }))
            })
        }
      }),
    saveDecisions: (version, content) => Effect.sync(() => void decisions.set(version, content)),
    loadDecisions: (version) => Effect.sync(() => Option.fromNullishOr(decisions.get(version)))
  }
}
