/**
 * The contract every destination meets: it recovers its own committed offsets, and writes a
 * window exactly once, fenced against any other writer of the same partition.
 */
import { Data, type Effect } from "effect"
import type { Window } from "../topology/Window.ts"

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

export interface Sink<T> {
  readonly name: string
  /**
   * Reads the committed state of a partition and returns the next offset this sink needs, or
   * undefined when it has committed nothing for it. Forgets any earlier in-memory state.
   */
  readonly recover: (topic: string, partition: number) => Effect.Effect<number | undefined, SinkError>
  /**
   * Writes and commits a window. Records below the sink's own next offset are skipped, so a
   * window that starts earlier (another sink of the topic was behind) is still written once.
   */
  readonly write: (window: Window<T>) => Effect.Effect<void, SinkFenced | SinkError>
}
