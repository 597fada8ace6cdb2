/**
 * What the runtime tells an onlooker (metrics, readiness, progress) as it runs: batches decoded,
 * windows committed, fences, assignments, recoveries and retries of lost dependencies.
 */
import type { DeadLetterKind } from "./Record.ts"

/** A partition of a topic, as the observer sees it. */
export interface ObservedPartition {
  readonly topic: string
  readonly partition: number
}

/** One fetched batch, once every record of it went into the open window. */
export interface BatchDecoded extends ObservedPartition {
  /** Records in the batch: valid ones and dead letters. */
  readonly records: number
  /** The Kafka timestamp of its first record (epoch millis), when it has one. */
  readonly firstTimestamp: number | undefined
  /** The offset after the batch. */
  readonly nextOffset: number
  /** Kafka's end (last stable offset) when the batch was fetched. */
  readonly endOffset: number
}

/** A window one sink committed. */
export interface WindowCommitted extends ObservedPartition {
  readonly sink: string
  /** The window's offsets, inclusive. */
  readonly from: number
  readonly to: number
  readonly records: number
  readonly deadLetters: number
  readonly bytes: number
  /** How long the sink's commit took. */
  readonly durationMs: number
  /** When it ended, epoch millis. */
  readonly committedAt: number
  /** The Kafka timestamps of the window's records (valid and dead letters), in offset order. */
  readonly timestamps: ArrayLike<number>
}

/** The rows one table of a sink committed in one window (per feed of the lake). */
export interface TableCommitted extends ObservedPartition {
  readonly sink: string
  readonly table: string
  readonly rows: number
}

/**
 * The callbacks, all synchronous and cheap: they run on the partitions' path. An observer must not
 * throw; it records and returns.
 */
export interface Observer {
  /** The group gave this member these partitions (the whole assignment, possibly empty). */
  readonly assigned: (partitions: ReadonlyArray<ObservedPartition>) => void
  /** A partition's sinks are recovered and it resumes at `from`. */
  readonly recovered: (partition: ObservedPartition, from: number) => void
  readonly revoked: (partition: ObservedPartition) => void
  readonly batchDecoded: (batch: BatchDecoded) => void
  /** Kafka's end (last stable offset) of the attached partitions as last fetched, by `topic/partition`; -1 while unknown. Reported about once a second. */
  readonly endOffsets: (ends: ReadonlyMap<string, number>) => void
  readonly deadLetter: (partition: ObservedPartition, kind: DeadLetterKind) => void
  readonly windowCommitted: (window: WindowCommitted) => void
  readonly tableCommitted: (table: TableCommitted) => void
  /** A sink lost the race for a partition; the partition recovers and seeks again. */
  readonly fenced: (partition: ObservedPartition, sink: string) => void
  /** A lost dependency (`what` starts with `lake:`, `warehouse:`, `kafka:`, or is a fetch or join) failed and is retried. */
  readonly retrying: (what: string, error: string) => void
  /** The operation that was being retried succeeded. */
  readonly restored: (what: string) => void
}

/** Observes nothing: the default, so that a runtime without an onlooker behaves as before. */
export const noObserver: Observer = {
  assigned: () => {},
  recovered: () => {},
  revoked: () => {},
  batchDecoded: () => {},
  endOffsets: () => {},
  deadLetter: () => {},
  windowCommitted: () => {},
  tableCommitted: () => {},
  fenced: () => {},
  retrying: () => {},
  restored: () => {}
}
