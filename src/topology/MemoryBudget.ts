/**
 * The memory budget: one count, shared by every partition, of the bytes the process holds in
 * fetched batches not yet decoded, in open windows and in windows being committed. Past the
 * budget, fetching pauses and the fullest open windows close early (an earlier commit, nothing
 * else), so that what is held stays bounded whatever the number of partitions.
 */
import type { SourceRecord } from "./Record.ts"

/**
 * What one record is charged besides its key and value: its share of the columns an open window
 * builds. Measured on the lake sink's window of the bench's transactions (483-byte messages):
 * 144 bytes of heap and 492 of buffers per record once decoded into its feeds' columns.
 */
export const RECORD_OVERHEAD_BYTES = 640

/** Windows close early once the bytes fetched and in open windows reach this share of the budget. */
const CLOSE_AT = 0.75

/** The bytes a record is charged for while it is held. */
export const heldBytesOf = (record: SourceRecord): number =>
  (record.value?.length ?? 0) + (record.key?.length ?? 0) + RECORD_OVERHEAD_BYTES

/** The bytes a batch of records is charged for. */
export const heldBytesOfAll = (records: ReadonlyArray<SourceRecord>): number => {
  let bytes = 0
  for (const r of records) bytes += heldBytesOf(r)
  return bytes
}

/**
 * The budget's counts. The fetch loop charges what it fetches (`fetched`) and asks which partitions
 * it may fetch (`admit`); each partition loop moves a batch it takes into its open window (`take`),
 * a closing window into the commits (`closing`), and lets go of it once committed (`committed`).
 */
export class MemoryBudget {
  readonly limitBytes: number
  /** Fetched batches waiting in the partitions' queues, by partition key. */
  private readonly queued = new Map<string, number>()
  /** Open windows, by partition key. */
  private readonly open = new Map<string, number>()
  fetchedBytes = 0
  openBytes = 0
  committingBytes = 0
  /** Largest `usedBytes` seen. */
  peakBytes = 0
  /** Windows closed before their own limits because the budget was reached. */
  closedEarly = 0
  /** Fetch rounds that left partitions out because the budget was reached. */
  fetchPauses = 0
  /** Where the next `admit` starts, so that the partitions left out take turns. */
  private turn = 0
  /** Bytes charged and message bytes fetched so far: a fetch of N message bytes is charged about N × their ratio. */
  private chargedSeen = 0
  private rawSeen = 0

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes
  }

  get usedBytes(): number {
    return this.fetchedBytes + this.openBytes + this.committingBytes
  }

  private noteUse(): void {
    const used = this.usedBytes
    if (used > this.peakBytes) this.peakBytes = used
  }

  /**
   * The wanted partitions this fetch round may ask for, each planned to bring up to `maxRawBytes`
   * of messages: as many as fit in what is left of the budget, at least one while anything is
   * left, taking turns.
   */
  admit<A>(wanted: ReadonlyArray<A>, maxRawBytes: number): ReadonlyArray<A> {
    if (wanted.length === 0) return wanted
    const room = this.limitBytes - this.usedBytes
    if (!Number.isFinite(room)) return wanted
    if (room <= 0) {
      this.fetchPauses++
      return []
    }
    // Until a fetch tells what message bytes are charged, one partition at a time.
    const planned = this.rawSeen > 0 ? Math.max(1, maxRawBytes) * (this.chargedSeen / this.rawSeen) : room
    const fits = Math.floor(room / planned)
    if (fits >= wanted.length) return wanted
    this.fetchPauses++
    const count = Math.max(1, fits)
    const start = this.turn % wanted.length
    this.turn = start + count
    return Array.from({ length: count }, (_, i) => wanted[(start + i) % wanted.length]!)
  }

  /** A batch of `records` was fetched for partition `key` and queued. */
  fetched(key: string, records: ReadonlyArray<SourceRecord>): void {
    const bytes = heldBytesOfAll(records)
    this.chargedSeen += bytes
    this.rawSeen += bytes - records.length * RECORD_OVERHEAD_BYTES
    this.queued.set(key, (this.queued.get(key) ?? 0) + bytes)
    this.fetchedBytes += bytes
    this.noteUse()
  }

  /** Partition `key`'s queue was dropped (detached, or attached again): its queued batches are gone. */
  forgetQueued(key: string): void {
    this.fetchedBytes -= this.queued.get(key) ?? 0
    this.queued.delete(key)
  }

  /** Partition `key`'s loop took a batch of `bytes` from its queue into its open window. */
  take(key: string, bytes: number): void {
    const queued = this.queued.get(key) ?? 0
    const taken = Math.min(queued, bytes)
    this.queued.set(key, queued - taken)
    this.fetchedBytes -= taken
    this.open.set(key, (this.open.get(key) ?? 0) + bytes)
    this.openBytes += bytes
    this.noteUse()
  }

  /** Partition `key`'s window of `bytes` closed: its bytes are held until its commit ends. */
  closing(key: string, bytes: number): void {
    const open = this.open.get(key) ?? 0
    const moved = Math.min(open, bytes)
    this.open.set(key, open - moved)
    this.openBytes -= moved
    this.committingBytes += moved
  }

  /** A commit of `bytes` ended (or was abandoned). */
  committed(bytes: number): void {
    this.committingBytes -= bytes
  }

  /** Partition `key`'s loop ended: whatever its open window held is let go. */
  forgetOpen(key: string): void {
    this.openBytes -= this.open.get(key) ?? 0
    this.open.delete(key)
  }

  /**
   * True when partition `key` should close its open window now: what is fetched and open reached
   * the closing share of the budget, and its window is the fullest (the bytes already being
   * committed are on their way out and do not make more windows close).
   */
  shouldClose(key: string): boolean {
    if (this.fetchedBytes + this.openBytes < this.limitBytes * CLOSE_AT) return false
    const mine = this.open.get(key) ?? 0
    if (mine === 0) return false
    for (const [other, bytes] of this.open) if (bytes > mine || (bytes === mine && other < key)) return false
    return true
  }
}

/** A budget nothing reaches: the default of runtimes and sources given none. */
export const unlimitedBudget = (): MemoryBudget => new MemoryBudget(Number.POSITIVE_INFINITY)
