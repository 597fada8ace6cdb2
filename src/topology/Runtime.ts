/**
 * The runtime that drives a topology: one task per assigned partition (recover the sinks, seek,
 * decode into windows, write each window to every sink), reassignment, idle detection and drain.
 */
import { Deferred, Effect, Fiber, Option, Queue } from "effect"
import type { SinkError, SinkFenced } from "./Sink.ts"
import { decodeRecord, isDeadLetter } from "./Decode.ts"
import type { RecordBatch } from "./Record.ts"
import { type KafkaError, type Source, type TopicPartition, tpKey } from "./Source.ts"
import { flowOf, type Topology } from "./Topology.ts"
import { WindowState } from "./Window.ts"

export interface RuntimeOptions {
  /** Stop once every assigned partition is committed up to its end offset and nothing arrived for this long. */
  readonly untilIdleMs?: number | undefined
  /** How long a drain may take to flush and commit open windows. */
  readonly drainTimeoutMs: number
  /**
   * Close a window as soon as its partition has caught up with Kafka's end offset (batch and
   * catch-up runs), instead of waiting for it to fill or age.
   */
  readonly flushWhenCaughtUp?: boolean | undefined
  /** How long a fenced partition waits before it recovers and seeks again. */
  readonly fencedBackoffMs: number
}

/** What one partition has done since this process started. */
export interface PartitionProgress {
  readonly topic: string
  readonly partition: number
  /** Next offset not yet committed by every sink. */
  committed: number
  records: number
  deadLetters: number
  windows: number
  /** Offset after the last record fetched. */
  fetched: number
  lastActivityAt: number
  windowOpen: boolean
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

export type RuntimeError = SinkError | KafkaError

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
    const startedAt = Date.now()
    const progress = new Map<string, PartitionProgress>()
    const tasks = new Map<string, Fiber.Fiber<void, RuntimeError>>()
    const failure = yield* Deferred.make<never, RuntimeError>()
    let draining = false
    let firstRecordAt: number | undefined
    let lastCommitAt: number | undefined
    let reason: RunSummary["reason"] = "drained"

    const consume = (tp: TopicPartition, queue: Queue.Dequeue<RecordBatch>, from: number, state: PartitionProgress) =>
      Effect.gen(function*() {
        const flow = flowOf(topology, tp.topic)!
        const limits = topology.window
        const openWindow = (start: number) =>
          Effect.map(Effect.forEach(flow.sinks, (sink) => sink.open(tp.partition, start)), (sinks) => ({ state: new WindowState(start), sinks }))
        let window = yield* openWindow(from)
        let records = 0
        let deadLetters = 0
        // The previous window's commit, still running while the next window fills.
        let inFlight: Fiber.Fiber<void, SinkFenced | SinkError | KafkaError> | undefined

        const awaitInFlight = Effect.suspend(() => {
          const fiber = inFlight
          inFlight = undefined
          return fiber === undefined ? Effect.void : Fiber.join(fiber)
        })

        const commit = (closing: typeof window, to: number, counts: { records: number; deadLetters: number }) =>
          Effect.gen(function*() {
            yield* Effect.forEach(closing.sinks, (w) => w.commit(to), { concurrency: "unbounded", discard: true })
            state.committed = to + 1
            state.records += counts.records
            state.deadLetters += counts.deadLetters
            state.windows += 1
            state.lastActivityAt = Date.now()
            lastCommitAt = state.lastActivityAt
            yield* source.commitGroupOffset(tp, to + 1)
          })

        /**
         * Closes the window: its commit starts, and the next window opens at once and fills while it
         * runs. Commits stay in order, one at a time: a second close first waits for the first.
         */
        const flush = Effect.gen(function*() {
          const closing = window
          const to = closing.state.to
          const counts = { records, deadLetters }
          records = 0
          deadLetters = 0
          yield* awaitInFlight
          window = yield* openWindow(to + 1)
          state.windowOpen = false
          inFlight = yield* Effect.forkChild(commit(closing, to, counts))
        })

        for (;;) {
          // A finished commit is joined as soon as it ends, so that its failure is not left unseen.
          if (inFlight?.pollUnsafe() !== undefined) yield* awaitInFlight
          if (draining && Queue.sizeUnsafe(queue) === 0) {
            if (!window.state.isEmpty) yield* flush
            return yield* awaitInFlight
          }
          const now = Date.now()
          // Short waits, so that a drain or a window's deadline is noticed within 100 ms.
          const wait = Math.min(100, Math.max(0, window.state.deadline(limits) - now))
          const next = yield* Queue.take(queue).pipe(Effect.timeoutOption(wait))
          if (Option.isSome(next)) {
            const batch = next.value
            // A window's age counts from when its data was fetched, not from when it was dequeued.
            const at = Math.min(Date.now(), batch.fetchedAt)
            firstRecordAt ??= at
            for (const record of batch.records) {
              const decoded = decodeRecord(tp.topic, tp.partition, record, flow.decode, topology.decodePolicy)
              if (isDeadLetter(decoded)) {
                for (const w of window.sinks) w.addDeadLetter(decoded)
                deadLetters++
              } else {
                for (const w of window.sinks) w.add(decoded)
                records++
              }
              const ws = window.state
              ws.count++
              ws.bytes += record.value?.length ?? 0
              ws.cover(record.offset, at)
              // A fetch can hold more than a window: close it exactly at its limit, mid-batch.
              if (ws.isFull(limits)) yield* flush
            }
            window.state.cover(batch.nextOffset - 1, at)
            state.fetched = batch.nextOffset
            state.lastActivityAt = Date.now()
            state.windowOpen = !window.state.isEmpty
            const caughtUp = options.flushWhenCaughtUp === true && batch.nextOffset >= batch.highWatermark && Queue.sizeUnsafe(queue) === 0
            if (caughtUp && !window.state.isEmpty) yield* flush
          }
          if (!window.state.isEmpty && Date.now() >= window.state.deadline(limits)) yield* flush
        }
      })

    /** A partition's life: recover every sink, seek to the smallest next offset, consume; again when fenced. */
    const task = (tp: TopicPartition): Effect.Effect<void, RuntimeError> =>
      Effect.gen(function*() {
        const flow = flowOf(topology, tp.topic)!
        for (;;) {
          const nexts = yield* Effect.forEach(flow.sinks, (sink) => sink.recover(tp.topic, tp.partition))
          const start = nexts.some((n) => n === undefined) ? undefined : Math.min(...(nexts as Array<number>))
          const { queue, from } = yield* source.attach(tp, start)
          const state: PartitionProgress = progress.get(tpKey(tp)) ?? {
            topic: tp.topic,
            partition: tp.partition,
            committed: from,
            records: 0,
            deadLetters: 0,
            windows: 0,
            fetched: from,
            lastActivityAt: Date.now(),
            windowOpen: false
          }
          state.committed = from
          state.fetched = from
          state.windowOpen = false
          progress.set(tpKey(tp), state)
          yield* Effect.logInfo(`${tpKey(tp)}: assigned, resuming at offset ${from}`)
          const fenced = yield* consume(tp, queue, from, state).pipe(
            Effect.as(false),
            Effect.catchTag("SinkFenced", (e: SinkFenced) =>
              Effect.logWarning(`${e.message}; recovering`).pipe(Effect.as(true)))
          )
          if (!fenced) return
          yield* Effect.sleep(options.fencedBackoffMs)
        }
      })

    const start = (tp: TopicPartition) =>
      Effect.gen(function*() {
        const fiber = yield* task(tp).pipe(
          Effect.tapError((e) => Deferred.fail(failure, e)),
          Effect.forkChild
        )
        tasks.set(tpKey(tp), fiber)
      })

    const revoke = (key: string, tp: TopicPartition) =>
      Effect.gen(function*() {
        const fiber = tasks.get(key)
        tasks.delete(key)
        if (fiber) yield* Fiber.interrupt(fiber)
        yield* source.detach(tp)
        progress.delete(key)
        yield* Effect.logInfo(`${key}: revoked; its open window is dropped`)
      })

    const caughtUp = Effect.gen(function*() {
      if (options.untilIdleMs === undefined || tasks.size === 0) return false
      const highWatermarks = yield* source.highWatermarks
      const now = Date.now()
      for (const key of tasks.keys()) {
        const state = progress.get(key)
        const hw = highWatermarks.get(key)
        if (state === undefined || hw === undefined || hw < 0) return false
        if (state.windowOpen || state.committed < hw) return false
        if (now - state.lastActivityAt < options.untilIdleMs) return false
      }
      return true
    })

    const assigned = new Map<string, TopicPartition>()
    while (!(yield* Deferred.isDone(stop))) {
      if (Deferred.isDoneUnsafe(failure)) return yield* Deferred.await(failure)
      const latest = yield* Queue.poll(source.assignments)
      if (Option.isSome(latest)) {
        const wanted = new Map(
          latest.value.filter((tp) => flowOf(topology, tp.topic) !== undefined).map((tp) => [tpKey(tp), tp])
        )
        for (const [key, tp] of assigned) {
          if (!wanted.has(key)) {
            yield* revoke(key, tp)
            assigned.delete(key)
          }
        }
        for (const [key, tp] of wanted) {
          if (!assigned.has(key)) {
            assigned.set(key, tp)
            yield* start(tp)
          }
        }
        continue
      }
      if (yield* caughtUp) {
        reason = "idle"
        break
      }
      yield* Effect.sleep("50 millis")
    }

    // Drain: no more fetching; each task writes what it holds and returns.
    draining = true
    yield* source.stopFetching
    const drained = yield* Effect.forEach([...tasks.values()], Fiber.join, { discard: true }).pipe(
      Effect.raceFirst(Deferred.await(failure)),
      Effect.timeoutOption(options.drainTimeoutMs)
    )
    if (Option.isNone(drained)) {
      yield* Effect.logError(`drain did not finish within ${options.drainTimeoutMs} ms; uncommitted windows are dropped`)
    }
    const partitions = [...progress.values()]
    return {
      reason,
      drainedInTime: Option.isSome(drained),
      elapsedMs: Date.now() - startedAt,
      busyMs: firstRecordAt === undefined || lastCommitAt === undefined ? 0 : lastCommitAt - firstRecordAt,
      records: partitions.reduce((n, p) => n + p.records, 0),
      deadLetters: partitions.reduce((n, p) => n + p.deadLetters, 0),
      windows: partitions.reduce((n, p) => n + p.windows, 0),
      partitions
    }
  })
