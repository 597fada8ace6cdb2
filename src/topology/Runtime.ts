/**
 * The runtime that drives a topology: one task per assigned partition (recover the sinks, seek,
 * run the partition loop; again after a fence or a new topic incarnation), reassignment,
 * catch-up detection and drain. Any failure of a partition stops the whole service, loudly.
 */
import { Cause, Clock, Data, Deferred, Effect, Fiber, Option, Queue, Semaphore } from "effect"
import { makeCatchUpCheck, type PartitionsStalled } from "./CatchUp.ts"
import { type Decisions, formatVersion } from "./Decisions.ts"
import { type LoopError, type PartitionProgress, runPartition } from "./PartitionLoop.ts"
import { noObserver, type Observer } from "./Observer.ts"
import type { MemoryBudget } from "./MemoryBudget.ts"
import { type DecisionsMissing, recoverPartition } from "./Recovery.ts"
import type { SourcePartition } from "./Record.ts"
import type { SinkError, SinkFenced } from "./Sink.ts"
import { type KafkaError, type OffsetOutOfRange, type Source, type TopicPartition, tpKey } from "./Source.ts"
import { flowOf, type TopicFlow, type Topology } from "./Topology.ts"

export type { PartitionProgress } from "./PartitionLoop.ts"

export interface RuntimeOptions {
  /** Stop once every partition is committed up to its end offset and nothing arrived for this long. */
  readonly untilIdleMs?: number | undefined
  /** With `untilIdleMs`: how long partitions owned elsewhere may make no progress before the run fails. */
  readonly stalledAfterMs: number
  /** How long a drain may take to flush and commit open windows. */
  readonly drainTimeoutMs: number
  /**
   * Close a window as soon as its partition has caught up with Kafka's end offset (batch and
   * catch-up runs), instead of waiting for it to fill or age.
   */
  readonly flushWhenCaughtUp?: boolean | undefined
  /** How long a fenced partition waits before it recovers and seeks again. */
  readonly fencedBackoffMs: number
  /** Told what the runtime does (metrics, readiness, progress); nothing by default. */
  readonly observer?: Observer | undefined
  /** The memory budget the partitions share (the source's too); unlimited by default. */
  readonly budget?: MemoryBudget | undefined
}

export interface RunSummary {
  readonly reason: "idle" | "drained"
  /** False when the drain deadline passed with windows still unwritten (they will be replayed). */
  readonly drainedInTime: boolean
  readonly elapsedMs: number
  /** From the first record fetched to the last window committed: the time spent moving data. */
  readonly busyMs: number
  readonly records: number
  readonly deadLetters: number
  readonly windows: number
  readonly partitions: ReadonlyArray<PartitionProgress>
}

/** A partition's task failed in a way nobody expected (a bug, or data the code cannot handle). */
export class PartitionDefect extends Data.TaggedError("PartitionDefect")<{
  readonly topic: string
  readonly partition: number
  readonly defect: unknown
}> {
  override get message(): string {
    const d = this.defect as Error | undefined
    return `${this.topic}/${this.partition} stopped on an unexpected error: ${d?.message ?? String(this.defect)}`
  }
}

export type RuntimeError = SinkError | KafkaError | OffsetOutOfRange | DecisionsMissing | PartitionsStalled | PartitionDefect

/**
 * Runs until `stop` completes (a signal) or, with `untilIdleMs`, until caught up; then drains:
 * fetching stops, open windows are written and committed, and the summary is returned.
 */
export const runTopology = (
  topology: Topology,
  source: Source,
  options: RuntimeOptions,
  stop: Deferred.Deferred<void>
): Effect.Effect<RunSummary, RuntimeError> =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const observer = options.observer ?? noObserver
    const progress = new Map<string, PartitionProgress>()
    const tasks = new Map<string, Fiber.Fiber<void, never>>()
    const failure = yield* Deferred.make<never, RuntimeError>()
    let draining = false
    let firstRecordAt: number | undefined
    let lastCommitAt: number | undefined
    let reason: RunSummary["reason"] = "drained"
    // Decisions versions every sink of a flow holds already, so each is saved (and said) once per process.
    const saved = new Set<string>()
    const saving = yield* Semaphore.make(1)
    const ensureSaved = <T>(flow: TopicFlow<T>, decisions: Decisions<T, any>) =>
      saving.withPermits(1)(Effect.suspend(() => {
        const key = `${flow.topic}:${decisions.version}`
        return saved.has(key)
          ? Effect.void
          : Effect.forEach(flow.sinks, (sink) => sink.saveDecisions(decisions.version, decisions.content), { discard: true }).pipe(
            Effect.tap(() => Effect.sync(() => saved.add(key))),
            Effect.tap(() => Effect.logInfo(`${flow.topic}: decisions ${formatVersion(decisions.version)} in force: ${decisions.summary}`))
          )
      }))

    const waitForTopic = (topic: string) =>
      Effect.gen(function*() {
        let said = false
        for (;;) {
          const id = yield* source.topicId(topic)
          if (id !== undefined) return id
          if (!said) yield* Effect.logWarning(`topic ${topic} does not exist; waiting for it`)
          said = true
          yield* Effect.sleep("1 second")
        }
      })

    /** A partition's life: recover every sink, seek, run the loop; again when fenced or when the topic is recreated. */
    const task = <T>(flow: TopicFlow<T>, tp: TopicPartition): Effect.Effect<void, Exclude<LoopError, SinkFenced> | DecisionsMissing> =>
      Effect.gen(function*() {
        for (;;) {
          const topicId = yield* waitForTopic(tp.topic)
          const sp: SourcePartition = { topic: tp.topic, topicId, partition: tp.partition }
          const current = flow.decisions.current()
          yield* ensureSaved(flow, current)
          const recovered = yield* recoverPartition(flow.sinks, flow.decisions, current, sp)
          const { queue, from } = yield* source.attach(sp, recovered.start)
          const now = yield* Clock.currentTimeMillis
          const state: PartitionProgress = progress.get(tpKey(tp)) ?? {
            topic: tp.topic,
            partition: tp.partition,
            committed: from,
            records: 0,
            deadLetters: 0,
            windows: 0,
            fetched: from,
            lastActivityAt: now,
            windowOpen: false
          }
          state.committed = from
          state.fetched = from
          state.windowOpen = false
          progress.set(tpKey(tp), state)
          yield* Effect.logInfo(`${tpKey(tp)}: assigned, resuming at offset ${from} (topic id ${topicId})`)
          observer.recovered(tp, from)
          const decisions = Effect.suspend(() => {
            const now = flow.decisions.current()
            return Effect.as(ensureSaved(flow, now), now)
          })
          const end = yield* runPartition(flow, sp, queue, { from, decisions, replay: recovered.replay, state: recovered.state }, state, {
            window: topology.window,
            flushWhenCaughtUp: options.flushWhenCaughtUp === true,
            draining: () => draining,
            onCommitted: (next, at) =>
              Effect.suspend(() => {
                lastCommitAt = at
                return source.commitGroupOffset(tp, next)
              }),
            onFirstRecord: (at) => {
              firstRecordAt ??= at
            },
            observer,
            budget: options.budget
          }).pipe(
            Effect.catchTag("SinkFenced", (e: SinkFenced) =>
              Effect.logWarning(`${e.message}; recovering`).pipe(Effect.tap(Effect.sync(() => observer.fenced(tp, e.sink))), Effect.as("fenced" as const)))
          )
          if (end === "drained") return
          if (end === "fenced") yield* Effect.sleep(options.fencedBackoffMs)
        }
      })

    const start = (flow: TopicFlow<any>, tp: TopicPartition) =>
      Effect.gen(function*() {
        const fiber = yield* task(flow, tp).pipe(
          Effect.annotateLogs({ topic: tp.topic, partition: tp.partition }),
          Effect.catchDefect((defect) =>
            Effect.logError(`${tpKey(tp)}: unexpected error`, defect).pipe(
              Effect.andThen(Effect.fail(new PartitionDefect({ topic: tp.topic, partition: tp.partition, defect })))
            )
          ),
          Effect.catchCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Deferred.failCause(failure, cause))),
          Effect.ignoreCause,
          Effect.forkChild
        )
        tasks.set(tpKey(tp), fiber)
      })

    const revoke = (key: string, tp: TopicPartition) =>
      Effect.gen(function*() {
        const fiber = tasks.get(key)
        tasks.delete(key)
        // Returns once the partition's commit in flight has landed or been stopped before its write.
        if (fiber) yield* Fiber.interrupt(fiber)
        yield* source.detach(tp)
        progress.delete(key)
        observer.revoked(tp)
        yield* Effect.logInfo(`${key}: revoked; its open window is dropped`)
      })

    const catchUp = makeCatchUpCheck(topology, source, options.stalledAfterMs)
    let lastCatchUpCheck = 0
    let lastEndsReport = 0
    const caughtUp = Effect.gen(function*() {
      if (options.untilIdleMs === undefined) return false
      const endOffsets = yield* source.endOffsetsSeen
      const now = yield* Clock.currentTimeMillis
      for (const key of tasks.keys()) {
        const state = progress.get(key)
        const end = endOffsets.get(key)
        if (state === undefined || end === undefined || end < 0) return false
        if (state.windowOpen || state.committed < end) return false
        if (now - state.lastActivityAt < options.untilIdleMs) return false
      }
      // Our partitions are done: are everybody's? (read from the sinks, at most once a second)
      if (now - lastCatchUpCheck < 1_000) return false
      lastCatchUpCheck = now
      return yield* catchUp.done(new Set(tasks.keys()))
    })

    const assigned = new Map<string, TopicPartition>()
    const sourceFailure = yield* Effect.forkChild(source.failure.pipe(Effect.catchCause((c) => Deferred.failCause(failure, c))))
    while (!(yield* Deferred.isDone(stop))) {
      if (Deferred.isDoneUnsafe(failure)) return yield* Deferred.await(failure)
      const latest = yield* Queue.poll(source.assignments)
      if (Option.isSome(latest)) {
        const wanted = new Map(
          latest.value.filter((tp) => flowOf(topology, tp.topic) !== undefined).map((tp) => [tpKey(tp), tp])
        )
        observer.assigned([...wanted.values()])
        for (const [key, tp] of assigned) {
          if (!wanted.has(key)) {
            yield* revoke(key, tp)
            assigned.delete(key)
          }
        }
        for (const [key, tp] of wanted) {
          if (!assigned.has(key)) {
            assigned.set(key, tp)
            yield* start(flowOf(topology, tp.topic)!, tp)
          }
        }
        continue
      }
      // Reference data changed (a state topic moved): the new decisions are kept by the sinks and said at once.
      for (const flow of topology.flows) yield* ensureSaved(flow, flow.decisions.current()).pipe(Effect.catchCause((cause) => Deferred.failCause(failure, cause)))
      if ((yield* Clock.currentTimeMillis) - lastEndsReport >= 1_000) {
        lastEndsReport = yield* Clock.currentTimeMillis
        observer.endOffsets(yield* source.endOffsetsSeen)
      }
      const idle = yield* caughtUp.pipe(Effect.catchCause((cause) => Deferred.failCause(failure, cause).pipe(Effect.as(false))))
      if (idle) {
        reason = "idle"
        break
      }
      yield* Effect.sleep("50 millis")
    }
    if (Deferred.isDoneUnsafe(failure)) return yield* Deferred.await(failure)

    // Drain: no more fetching; each task writes what it holds and returns.
    draining = true
    yield* source.stopFetching
    const drained = yield* Effect.forEach([...tasks.values()], Fiber.join, { discard: true }).pipe(
      Effect.raceFirst(Deferred.await(failure)),
      Effect.timeoutOption(options.drainTimeoutMs)
    )
    yield* Fiber.interrupt(sourceFailure)
    if (Option.isNone(drained)) {
      yield* Effect.logError(`drain did not finish within ${options.drainTimeoutMs} ms; uncommitted windows are dropped`)
    }
    const partitions = [...progress.values()]
    const endedAt = yield* Clock.currentTimeMillis
    return {
      reason,
      drainedInTime: Option.isSome(drained),
      elapsedMs: endedAt - startedAt,
      busyMs: firstRecordAt === undefined || lastCommitAt === undefined ? 0 : lastCommitAt - firstRecordAt,
      records: partitions.reduce((n, p) => n + p.records, 0),
      deadLetters: partitions.reduce((n, p) => n + p.deadLetters, 0),
      windows: partitions.reduce((n, p) => n + p.windows, 0),
      partitions
    }
  })
