/**
 * Windows: the unit of commit. A window covers a contiguous offset range of one partition, and
 * closes on max records, max bytes or max age, whichever comes first.
 */
import type { DeadLetter, Decoded } from "./Record.ts"

export interface WindowLimits {
  readonly maxRecords: number
  readonly maxBytes: number
  readonly maxAgeMs: number
}

export const defaultWindowLimits: WindowLimits = { maxRecords: 100_000, maxBytes: 64 * 1024 * 1024, maxAgeMs: 5_000 }

/** A whole window as a value: offsets `from..to` of one partition, every one of them accounted for. */
export interface Window<T> {
  readonly topic: string
  readonly partition: number
  readonly from: number
  /** Last offset the window covers (gaps such as transaction markers included). */
  readonly to: number
  readonly records: ReadonlyArray<Decoded<T>>
  readonly deadLetters: ReadonlyArray<DeadLetter>
}

/** The bookkeeping of an open window: its range, size and age (the records live in the sinks). */
export class WindowState {
  readonly from: number
  to: number
  count = 0
  bytes = 0
  openedAt = 0

  constructor(from: number) {
    this.from = from
    this.to = from - 1
  }

  /** True when no offset has entered the window yet. */
  get isEmpty(): boolean {
    return this.to < this.from
  }

  /** Extends the window to cover offsets up to `offset` (inclusive); `at` is when its data was fetched. */
  cover(offset: number, at: number): void {
    if (this.isEmpty) this.openedAt = at
    if (offset > this.to) this.to = offset
  }

  isFull(limits: WindowLimits): boolean {
    return this.count >= limits.maxRecords || this.bytes >= limits.maxBytes
  }

  /** Epoch millis at which the window must close whatever its size. */
  deadline(limits: WindowLimits): number {
    return this.isEmpty ? Number.POSITIVE_INFINITY : this.openedAt + limits.maxAgeMs
  }
}
