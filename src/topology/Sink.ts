/**
 * The port every destination implements: it reports what it has committed for a partition, takes
 * a window's records as they are decoded, and commits the window exactly once, fenced against any
 * other writer of the same partition; it also keeps the decisions snapshots its commits name.
 */
import { Data, Effect, type Option } from "effect"
import type { Decisions } from "./Decisions.ts"
import type { Processor } from "./Processor.ts"
import type { DeadLetter, Decoded, SourcePartition } from "./Record.ts"
import type { Window } from "./Window.ts"

/** A writer lost the race for a partition: its window is dropped and it must recover and re-seek. */
export class SinkFenced extends Data.TaggedError("SinkFenced")<{
  readonly sink: string
  readonly topic: string
  readonly partition: number
  readonly detail: string
}> {
  override get message(): string {
    return `${this.sink} fenced on ${this.topic}/${this.partition}: ${this.detail}`
  }
}

/** A destination failed in a way that retrying the same window will not fix. */
export class SinkError extends Data.TaggedError("SinkError")<{
  readonly sink: string
  readonly topic: string
  readonly partition: number
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.sink} on ${this.topic}/${this.partition < 0 ? "*" : this.partition}: ${this.reason}`
  }
}

/** What a sink has durably committed for one partition. */
export interface SinkPosition {
  /** The next offset it needs (the smallest over its tables), or undefined when it has committed nothing. */
  readonly next: number | undefined
  /**
   * The furthest next offset any of its tables committed, with the decisions version of that
   * commit: offsets below it were decided once and must be decided the same way again.
   */
  readonly furthest: { readonly next: number; readonly decisions: number | undefined } | undefined
  /** The partition's state after offset `next - 1`, when the flow keeps one and the sink recorded it. */
  readonly state?: number | undefined
}

/** A window being filled: records go in as they are decoded (the hot path), then one commit. */
export interface SinkWindow<T> {
  /** Takes a record; records below the sink's own next offset are skipped. */
  readonly add: (record: Decoded<T>) => void
  readonly addDeadLetter: (letter: DeadLetter) => void
  /**
   * Writes what was added and commits the window's offsets up to `to` (inclusive), with the
   * partition's state after them when its flow keeps one (see `PartitionState`).
   */
  readonly commit: (to: number, state?: number) => Effect.Effect<void, SinkFenced | SinkError>
}

/** One thing a sink writes, for `sluice topology`: what it reads, and where it goes. */
export interface SinkTarget {
  /** e.g. `streams/transaction_stream`, or `daily facts`. */
  readonly name: string
  /** A path or URL (no password). */
  readonly location: string
  /** The processor whose values it writes, or the dead letters. */
  readonly input: Processor<any, any> | "dead letters"
  /** How the values are combined before they are written, when they are. */
  readonly aggregation?: string | undefined
}

export interface Sink<T> {
  readonly name: string
  /** What the sink writes, from which processors. */
  readonly targets: ReadonlyArray<SinkTarget>
  /**
   * Commits a window only once every other sink has: such a sink is never ahead of the others, so
   * it need not record the decisions a window used (they do).
   */
  readonly commitsLast?: boolean | undefined
  /** What the sink has committed for a partition, read from its durable state; changes nothing. */
  readonly position: (sp: SourcePartition) => Effect.Effect<SinkPosition, SinkError>
  /** Reads the committed state of a partition and forgets any in-memory state of it, before writing it. */
  readonly recover: (sp: SourcePartition) => Effect.Effect<SinkPosition, SinkError>
  /** Opens a window of the partition whose first offset is `from`, decided with `decisions`. */
  readonly open: (sp: SourcePartition, from: number, decisions: Decisions<T, any>) => Effect.Effect<SinkWindow<T>, SinkError>
  /** Keeps a decisions snapshot under its version, before any commit names it (idempotent). */
  readonly saveDecisions: (version: number, content: string) => Effect.Effect<void, SinkError>
  /** A decisions snapshot this sink kept, or none. */
  readonly loadDecisions: (version: number) => Effect.Effect<Option.Option<string>, SinkError>
}

/** Writes a whole window at once (for batch callers and tests): open, add everything, commit. */
export const writeWindow = <T>(
  sink: Sink<T>,
  sp: SourcePartition,
  window: Window<T>,
  decisions: Decisions<T, any>
): Effect.Effect<void, SinkFenced | SinkError> =>
  Effect.gen(function*() {
    const w = yield* sink.open(sp, window.from, decisions)
    for (const r of window.records) w.add(r)
    for (const d of window.deadLetters) w.addDeadLetter(d)
    yield* w.commit(window.to)
  })
