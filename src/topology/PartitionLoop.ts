/**
 * One partition's loop: decode each batch into the open window's sinks, close the window at its
 * limits (mid-batch if need be), and commit it while the next one fills, one commit at a time.
 */
import { Clock, Effect, Fiber, Option, Queue } from "effect"
import type { Decisions } from "./Decisions.ts"
import { decodeRecord, isDeadLetter } from "./Decode.ts"
import { heldBytesOf, heldBytesOfAll, type MemoryBudget, unlimitedBudget } from "./MemoryBudget.ts"
import { noObserver, type Observer } from "./Observer.ts"
import type { SourcePartition } from "./Record.ts"
import type { SinkError, SinkFenced, SinkWindow } from "./Sink.ts"
import { type KafkaError, type OffsetOutOfRange, type SourceEvent, tpKey } from "./Source.ts"
import type { TopicFlow } from "./Topology.ts"
import { type WindowLimits, WindowState } from "./Window.ts"

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

/** Where the loop starts, and how the offsets that some sink already committed are decided. */
export interface LoopStart<T> {
  readonly from: number
  /** The decisions in force when a window opens (kept by every sink before it is returned). */
  readonly decisions: Effect.Effect<Decisions<T, any>, SinkError>
  /**
   * Offsets up to `end` (inclusive) were committed by some sinks with `decisions`: the first window
   * ends exactly there and is decided with them, whatever is in force now.
   */
  readonly replay?: { readonly end: number; readonly decisions: Decisions<T, any> } | undefined
  /** The partition's state before offset `from` (see `PartitionState`). */
  readonly state?: number | undefined
}

export interface LoopOptions {
  readonly window: WindowLimits
  /** Close a window as soon as the partition has caught up with Kafka's end (catch-up runs). */
  readonly flushWhenCaughtUp: boolean
  /** True once the service drains: write what is held, then return. */
  readonly draining: () => boolean
  /** Called after every window every sink committed. */
  readonly onCommitted: (next: number, at: number) => Effect.Effect<void>
  /** Called with the time of the first record fetched. */
  readonly onFirstRecord: (at: number) => void
  /** Told of each batch decoded and each sink's commit (metrics); nothing by default. */
  readonly observer?: Observer | undefined
  /** The memory budget every partition shares: past it, the fullest window closes early. Unlimited by default. */
  readonly budget?: MemoryBudget | undefined
}

/** Why a loop ended without failing. */
export type LoopEnd = "drained" | "ended"

export type LoopError = SinkFenced | SinkError | KafkaError | OffsetOutOfRange

interface OpenWindow<T> {
  readonly state: WindowState
  readonly sinks: ReadonlyArray<SinkWindow<T>>
  readonly decisions: Decisions<T, any>
  records: number
  deadLetters: number
  /** What the window is charged in the memory budget. */
  held: number
  /** The Kafka timestamps of the window's records, for the observer's end-to-end latency. */
  readonly timestamps: Array<number>
}

/** Runs one partition of one topic incarnation until the service drains or the incarnation ends. */
export const runPartition = <T>(
  flow: TopicFlow<T>,
  sp: SourcePartition,
  queue: Queue.Dequeue<SourceEvent>,
  start: LoopStart<T>,
  progress: PartitionProgress,
  options: LoopOptions
): Effect.Effect<LoopEnd, LoopError> =>
  Effect.gen(function*() {
    const limits = options.window
    const observer = options.observer ?? noObserver
    const budget = options.budget ?? unlimitedBudget()
    const key = tpKey(sp)
    let replay = start.replay !== undefined && start.replay.end >= start.from ? start.replay : undefined
    const keeps = flow.partitionState
    let state = start.state ?? keeps?.initial ?? 0
    // A window keeps the decisions it opened with: those of the replay, else those in force then.
    const open = (from: number) =>
      Effect.gen(function*() {
        const decisions = replay?.decisions ?? (yield* start.decisions)
        const sinks = yield* Effect.forEach(flow.sinks, (sink) => sink.open(sp, from, decisions))
        return { state: new WindowState(from), sinks, decisions, records: 0, deadLetters: 0, held: 0, timestamps: [] as Array<number> } satisfies OpenWindow<T>
      })
    let window = yield* open(start.from)
    // The previous window's commit, still running while the next window fills.
    let inFlight: Fiber.Fiber<void, LoopError> | undefined

    const awaitInFlight = Effect.suspend(() => {
      const fiber = inFlight
      inFlight = undefined
      return fiber === undefined ? Effect.void : Fiber.join(fiber)
    })

    const commit = (closing: OpenWindow<T>, to: number, stateAfter: number | undefined) =>
      Effect.gen(function*() {
        const sinkCommit = (w: SinkWindow<T>, i: number) =>
          Effect.gen(function*() {
            const started = yield* Clock.currentTimeMillis
            yield* w.commit(to, stateAfter)
            const at = yield* Clock.currentTimeMillis
            const { records, deadLetters, timestamps } = closing
            observer.windowCommitted({ ...sp, sink: flow.sinks[i]!.name, from: closing.state.from, to, records, deadLetters, bytes: closing.state.bytes, durationMs: at - started, committedAt: at, timestamps })
          })
        const first = closing.sinks.flatMap((w, i) => (flow.sinks[i]!.commitsLast !== true ? [sinkCommit(w, i)] : []))
        const last = closing.sinks.flatMap((w, i) => (flow.sinks[i]!.commitsLast === true ? [sinkCommit(w, i)] : []))
        yield* Effect.all(first, { concurrency: "unbounded", discard: true })
        yield* Effect.all(last, { discard: true })
        const now = yield* Clock.currentTimeMillis
        progress.committed = to + 1
        progress.records += closing.records
        progress.deadLetters += closing.deadLetters
        progress.windows += 1
        progress.lastActivityAt = now
        yield* options.onCommitted(to + 1, now)
      })

    /**
     * Closes the window: its commit starts, and the next window opens at once and fills while it
     * runs. Commits stay in order, one at a time: a second close first waits for the first.
     */
    const flush = Effect.gen(function*() {
      const closing = window
      const to = closing.state.to
      // Counted as leaving at once, so that other windows do not close early for the same bytes.
      budget.closing(key, closing.held)
      yield* awaitInFlight
      if (replay !== undefined && to >= replay.end) replay = undefined
      window = yield* open(to + 1)
      progress.windowOpen = false
      inFlight = yield* Effect.forkChild(commit(closing, to, keeps === undefined ? undefined : state).pipe(
        Effect.ensuring(Effect.sync(() => budget.committed(closing.held))),
        Effect.annotateLogs({ offsets: `${closing.state.from}..${to}` })
      ))
    })

    /** Whether the open window has records and is past its age limit. */
    const overdue = (now: number) => !window.state.isEmpty && now >= window.state.deadline(limits)

    const loop = Effect.gen(function*() {
      for (;;) {
        // A finished commit is joined as soon as it ends, so that its failure is not left unseen.
        if (inFlight?.pollUnsafe() !== undefined) yield* awaitInFlight
        if (options.draining() && Queue.sizeUnsafe(queue) === 0) {
          if (!window.state.isEmpty) yield* flush
          yield* awaitInFlight
          return "drained" as const
        }
        const now = yield* Clock.currentTimeMillis
        // A window past its deadline whose predecessor is still committing waits for that commit
        // and takes the records that come meanwhile: closing it would not start its commit sooner.
        const waitingFor = overdue(now) ? inFlight : undefined
        // Short waits, so that a drain or a window's deadline is noticed within 100 ms.
        const wait = waitingFor !== undefined ? 100 : Math.min(100, Math.max(0, window.state.deadline(limits) - now))
        const take = Queue.take(queue).pipe(Effect.timeoutOption(wait))
        const next = yield* (waitingFor === undefined ? take : Effect.raceFirst(take, Effect.as(Fiber.await(waitingFor), Option.none())))
        if (Option.isSome(next)) {
          const event = next.value
          if (event._tag === "Failed") return yield* event.error
          if (event._tag === "Ended") {
            yield* Effect.logWarning(`${sp.topic}/${sp.partition}: ${event.reason}; committing what was read of topic id ${sp.topicId}`)
            if (!window.state.isEmpty) yield* flush
            yield* awaitInFlight
            return "ended" as const
          }
          const batch = event.batch
          budget.take(key, heldBytesOfAll(batch.records))
          // An empty window takes the decisions in force when its first record comes, not those of when it opened.
          if (window.state.isEmpty && replay === undefined) {
            const now = yield* start.decisions
            if (now.version !== window.decisions.version) window = yield* open(window.state.from)
          }
          // A window's age counts from when its data was fetched, not from when it was dequeued.
          const at = Math.min(yield* Clock.currentTimeMillis, batch.fetchedAt)
          options.onFirstRecord(at)
          for (const record of batch.records) {
            // The offsets some sinks committed already are decided with their decisions, in a window of their own.
            if (replay !== undefined && record.offset > replay.end) {
              window.state.cover(replay.end, at)
              yield* flush
            }
            const decisions = window.decisions
            const decoded = decodeRecord(sp.topic, sp.partition, record, decisions.decode, decisions.policy)
            if (isDeadLetter(decoded)) {
              for (const w of window.sinks) w.addDeadLetter(decoded)
              window.deadLetters++
              observer.deadLetter(sp, decoded.kind)
            } else {
              if (keeps !== undefined) decoded.stateBefore = state
              for (const w of window.sinks) w.add(decoded)
              window.records++
              if (keeps !== undefined) state = keeps.next(state, decoded)
            }
            window.timestamps.push(record.timestamp)
            window.held += heldBytesOf(record)
            const ws = window.state
            ws.count++
            ws.bytes += record.value?.length ?? 0
            ws.cover(record.offset, at)
            // A fetch can hold more than a window: close it exactly at its limit, mid-batch.
            if (ws.isFull(limits)) yield* flush
          }
          const covered = batch.nextOffset - 1
          if (replay !== undefined && covered >= replay.end) {
            window.state.cover(replay.end, at)
            yield* flush
          }
          window.state.cover(covered, at)
          observer.batchDecoded({ ...sp, records: batch.records.length, firstTimestamp: batch.records[0]?.timestamp, nextOffset: batch.nextOffset, endOffset: batch.endOffset })
          progress.fetched = batch.nextOffset
          progress.lastActivityAt = yield* Clock.currentTimeMillis
          progress.windowOpen = !window.state.isEmpty
          const caughtUp = options.flushWhenCaughtUp && batch.nextOffset >= batch.endOffset && Queue.sizeUnsafe(queue) === 0
          if (caughtUp && !window.state.isEmpty) yield* flush
        }
        if (overdue(yield* Clock.currentTimeMillis) && (inFlight === undefined || inFlight.pollUnsafe() !== undefined)) yield* flush
        // The budget is reached: the fullest window of all closes now, an earlier commit than its limits'.
        else if (!window.state.isEmpty && budget.shouldClose(key)) {
          budget.closedEarly++
          yield* flush
        }
      }
    })

    // Interrupted (revoked, or the service stops at once): the commit in flight is interrupted and
    // awaited, and the sinks' commits are uninterruptible from their final check to their write, so
    // that no commit lands once this returns.
    return yield* loop.pipe(
      Effect.onInterrupt(() => Effect.suspend(() => (inFlight === undefined ? Effect.void : Fiber.interrupt(inFlight)))),
      Effect.ensuring(Effect.sync(() => budget.forgetOpen(key)))
    )
  })
