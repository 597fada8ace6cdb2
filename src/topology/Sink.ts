/**
 * The contract every destination meets: it recovers its own committed offsets, takes a window's
 * records as they are decoded, and commits the window exactly once, fenced against any other
 * writer of the same partition.
 */
import { Data, Effect } from "effect"
import type { DeadLetter, Decoded } from "./Record.ts"
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
    return `${this.sink} on ${this.topic}/${this.partition}: ${this.reason}`
  }
}

/** A window being filled: records go in as they are decoded (the hot path), then one commit. */
export interface SinkWindow<T> {
  /** Takes a record; records below the sink's own next offset are skipped. */
  readonly add: (record: Decoded<T>) => void
  readonly addDeadLetter: (letter: DeadLetter) => void
  /** Writes what was added and commits the window's offsets up to `to` (inclusive). */
  readonly commit: (to: number) => Effect.Effect<void, SinkFenced | SinkError>
}

export interface Sink<T> {
  readonly name: string
  /**
   * Reads the committed state of a partition and returns the next offset this sink needs, or
   * undefined when it has committed nothing for it. Forgets any earlier in-memory state.
   */
  readonly recover: (topic: string, partition: number) => Effect.Effect<number | undefined, SinkError>
  /** Opens a window of `partition` whose first offset is `from`. */
  readonly open: (partition: number, from: number) => Effect.Effect<SinkWindow<T>, SinkError>
}

/** Writes a whole window at once: for batch callers and tests. */
export const writeWindow = <T>(sink: Sink<T>, window: Window<T>): Effect.Effect<void, SinkFenced | SinkError> =>
  Effect.gen(function*() {
    const w = yield* sink.open(window.partition, window.from)
    for (const r of window.records) w.add(r)
    for (const d of window.deadLetters) w.addDeadLetter(d)
    yield* w.commit(window.to)
  })
