/**
 * What a `read_committed` reader sees of a partition's record batches, exactly as Kafka's Java
 * consumer decides it: aborted transactional batches skipped (every aborted range, every producer),
 * control batches crossed, nothing at or past the last stable offset.
 */
import { IS_CONTROL, IS_TRANSACTIONAL } from "@platformatic/kafka"
import type { SourceRecord } from "./Record.ts"

/** An aborted transaction as a fetch response lists it: its producer and its first offset. */
export interface AbortedTransaction {
  readonly producerId: bigint
  readonly firstOffset: bigint
}

/** What is read of a record batch: the client's `RecordsBatch` fits, and so does `FetchResponse`'s. */
export interface CommittedBatchInput {
  readonly firstOffset: bigint
  readonly lastOffsetDelta: number
  readonly attributes: number
  readonly producerId: bigint
  readonly firstTimestamp: bigint
  readonly maxTimestamp: bigint
  readonly records: ReadonlyArray<{
    readonly offsetDelta: number
    readonly timestampDelta: bigint | number
    readonly key: Buffer | null
    readonly value: Buffer | null
  }>
}

/** What one partition's fetch yields for a read_committed reader. */
export interface CommittedRead {
  readonly records: Array<SourceRecord>
  /** The offset to fetch next: past every batch read, never past the last stable offset. */
  readonly nextOffset: number
}

/** Timestamp type bit of a batch's attributes: set when the broker stamped the records (LogAppendTime). */
const LOG_APPEND_TIME = 1 << 3

/** Control record types, from the first record's key (version int16, type int16). */
const ABORT_MARKER = 0

const isAbortMarker = (batch: CommittedBatchInput): boolean => {
  const key = batch.records[0]?.key
  return key != null && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER
}

/**
 * Reads the batches of one partition's fetch from offset `from`. `lastStableOffset` bounds what is
 * read (a negative value, as old brokers send, means no bound); `aborted` is the response's list of
 * aborted transactions overlapping the fetched range.
 */
export const readCommitted = (
  batches: ReadonlyArray<CommittedBatchInput>,
  aborted: ReadonlyArray<AbortedTransaction>,
  from: number,
  lastStableOffset: number
): CommittedRead => {
  const limit = lastStableOffset < 0 ? Number.POSITIVE_INFINITY : lastStableOffset
  // Aborted transactions by first offset: a producer's batches are skipped from its aborted
  // transaction's first offset until that producer's abort marker.
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0))
  let nextPending = 0
  const abortedProducers = new Set<bigint>()
  const records: Array<SourceRecord> = []
  let next = from
  for (const batch of batches) {
    const firstOffset = Number(batch.firstOffset)
    const lastOffset = firstOffset + batch.lastOffsetDelta
    if (firstOffset >= limit) break
    if (lastOffset + 1 > next) next = Math.min(lastOffset + 1, limit)
    const transactional = (batch.attributes & IS_TRANSACTIONAL) !== 0
    if (transactional) {
      while (nextPending < pending.length && Number(pending[nextPending]!.firstOffset) <= lastOffset) {
        abortedProducers.add(pending[nextPending]!.producerId)
        nextPending++
      }
    }
    if ((batch.attributes & IS_CONTROL) !== 0) {
      if (transactional && isAbortMarker(batch)) abortedProducers.delete(batch.producerId)
      continue
    }
    if (transactional && abortedProducers.has(batch.producerId)) continue
    const logAppendTime = (batch.attributes & LOG_APPEND_TIME) !== 0
    const firstTimestamp = Number(batch.firstTimestamp)
    const maxTimestamp = Number(batch.maxTimestamp)
    for (const r of batch.records) {
      const offset = firstOffset + r.offsetDelta
      if (offset < from) continue
      if (offset >= limit) break
      records.push({
        offset,
        timestamp: logAppendTime ? maxTimestamp : firstTimestamp + Number(r.timestampDelta),
        key: r.key,
        value: r.value
      })
    }
  }
  return { records, nextOffset: next }
}
