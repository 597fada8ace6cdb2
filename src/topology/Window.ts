/**
 * Windows: the unit of commit. A window holds the decoded records and dead letters of one
 * partition over a contiguous offset range, and closes on max records, max bytes or max age.
 */
import type { DeadLetter, Decoded } from "./Record.ts"

export interface WindowLimits {
  readonly maxRecords: number
  readonly maxBytes: number
  readonly maxAgeMs: number
}

export const defaultWindowLimits: WindowLimits = { maxRecords: 100_000, maxBytes: 64 * 1024 * 1024, maxAgeMs: 5_000 }

/** A closed window: offsets `from..to` of one partition, every one of them accounted for. */
export interface Window<T> {
  readonly topic: string
  readonly partition: number
  /** First offset the window covers. */
  readonly from: number
  /** Last offset the window covers (gaps such as transaction markers included). */
  readonly to: number
  readonly records: ReadonlyArray<Decoded<T>>
  readonly deadLetters: ReadonlyArray<DeadLetter>
  readonly bytes: number
  /** When the first offset entered the window, epoch millis. */
  readonly openedAt: number
}

/** An open window being filled by a partition's task. */
export class WindowBuffer<T> {
  readonly topic: string
  readonly partition: number
  readonly from: number
  to: number
  records: Array<Decoded<T>> = []
  deadLetters: Array<DeadLetter> = []
  bytes = 0
  openedAt = 0

  constructor(topic: string, partition: number, from: number) {
    this.topic = topic
    this.partition = partition
    this.from = from
    this.to = from - 1
  }

  /** True when no offset has entered the window yet. */
  get isEmpty(): boolean {
    return this.to < this.from
  }

  get count(): number {
    return this.records.length + this.deadLetters.length
  }

  /** Extends the window to cover offsets up to `offset` (inclusive). */
  cover(offset: number, now: number): void {
    if (this.isEmpty) this.openedAt = now
    if (offset > this.to) this.to = offset
  }

  isFull(limits: WindowLimits): boolean {
    return this.count >= limits.maxRecords || this.bytes >= limits.maxBytes
  }

  /** Epoch millis at which the window must close whatever its size. */
  deadline(limits: WindowLimits): number {
    return this.isEmpty ? Number.POSITIVE_INFINITY : this.openedAt + limits.maxAgeMs
  }

  close(): Window<T> {
    return {
      topic: this.topic,
      partition: this.partition,
      from: this.from,
      to: this.to,
      records: this.records,
      deadLetters: this.deadLetters,
      bytes: this.bytes,
      openedAt: this.openedAt
    }
  }
}
