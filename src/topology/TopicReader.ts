/**
 * Reads a topic without joining a group, as a read_committed reader: a whole topic from each
 * partition's log start to the end it had when the read began (how reference data such as EUR
 * rates is loaded), or the offsets that carry data in a range of one partition (how `verify` tells
 * transaction markers, aborted and compacted records from lost ones), or the records a span of
 * Kafka timestamps holds (what a backfill of one day reads).
 */
import { Consumer, ListOffsetTimestamps } from "@platformatic/kafka"
import { Effect } from "effect"
import { fetchOnce, KafkaError } from "./Fetch.ts"
import type { SourceRecord } from "./Record.ts"

export interface TopicRecord extends SourceRecord {
  readonly partition: number
}

const DEADLINE_MS = 60_000

const withReader = <A>(brokers: ReadonlyArray<string>, use: (consumer: Consumer) => Effect.Effect<A, KafkaError>) =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      new Consumer({ clientId: "sluice-reader", groupId: "sluice-reader", bootstrapBrokers: [...brokers], retries: 2 })
    ),
    use,
    (consumer) => Effect.promise(() => consumer.close(true).catch(() => undefined))
  )

const listOffsets = (consumer: Consumer, topic: string, timestamp: bigint) =>
  Effect.tryPromise({
    try: () => consumer.listOffsets({ topics: [topic], timestamp }),
    catch: (cause) => new KafkaError({ op: `list offsets of ${topic}`, cause })
  }).pipe(Effect.map((offsets) => (offsets.get(topic) ?? []).map(Number)))

/** Reads `ranges` (per partition, from `from` up to but excluding `to`), calling `onRecords` with what carries data. */
const readRanges = (
  consumer: Consumer,
  topic: string,
  ranges: ReadonlyArray<{ readonly partition: number; readonly from: number; readonly to: number }>,
  onRecords: (partition: number, records: ReadonlyArray<SourceRecord>, to: number) => void,
  deadlineMs: number
) =>
  Effect.gen(function*() {
    const positions = ranges.map((r) => ({ topic, partition: r.partition, offset: r.from, to: r.to }))
    for (;;) {
      const wanted = positions.filter((p) => p.offset < p.to)
      if (wanted.length === 0) return
      const fetched = yield* fetchOnce(consumer, wanted, { maxWaitMs: 100, maxBytesPerPartition: 4 * 1024 * 1024 })
      for (const f of fetched) {
        const position = positions.find((p) => p.partition === f.partition)!
        if (f.errorCode !== 0) {
          return yield* new KafkaError({ op: `read ${topic}/${f.partition} at ${position.offset}`, cause: new Error(`broker error code ${f.errorCode}`) })
        }
        onRecords(f.partition, f.batch.records, position.to)
        if (f.batch.nextOffset > position.offset) position.offset = f.batch.nextOffset
        // Nothing more to read before the range's end: the log (or its stable part) ends there.
        else if (position.offset >= f.batch.endOffset) position.to = position.offset
      }
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: deadlineMs,
      orElse: () => Effect.fail(new KafkaError({ op: `read ${topic}`, cause: new Error(`not read to its end within ${deadlineMs / 1000} s`) }))
    })
  )

/** Every record of a topic present when the read begins, as a read_committed reader sees them. */
export const readTopic = (brokers: ReadonlyArray<string>, topic: string): Effect.Effect<Array<TopicRecord>, KafkaError> =>
  withReader(brokers, (consumer) =>
    Effect.gen(function*() {
      const starts = yield* listOffsets(consumer, topic, ListOffsetTimestamps.EARLIEST)
      const ends = yield* listOffsets(consumer, topic, ListOffsetTimestamps.LATEST)
      const out: Array<TopicRecord> = []
      yield* readRanges(
        consumer,
        topic,
        starts.map((from, partition) => ({ partition, from, to: ends[partition] ?? 0 })),
        (partition, records, to) => {
          for (const r of records) if (r.offset < to) out.push({ ...r, partition })
        },
        DEADLINE_MS
      )
      return out
    }))

/** The offsets in `from..to` (inclusive) of one partition that carry data for a read_committed reader. */
export const dataOffsets = (
  brokers: ReadonlyArray<string>,
  topic: string,
  partition: number,
  from: number,
  to: number
): Effect.Effect<Array<number>, KafkaError> =>
  withReader(brokers, (consumer) =>
    Effect.gen(function*() {
      const out: Array<number> = []
      yield* readRanges(consumer, topic, [{ partition, from, to: to + 1 }], (_, records, end) => {
        for (const r of records) if (r.offset < end) out.push(r.offset)
      }, 10 * DEADLINE_MS)
      return out
    }))

/** A span of one partition's offsets: from `from` up to but excluding `to`. */
export interface OffsetRange {
  readonly partition: number
  readonly from: number
  readonly to: number
}

/**
 * Per partition, the offsets of the records stamped in `[fromMs, toMs)`: from the first offset
 * whose timestamp is at or after `fromMs` to the first at or after `toMs` (the partition's end when
 * none is), as Kafka's ListOffsets by timestamp finds them.
 */
export const offsetsForTimes = (
  brokers: ReadonlyArray<string>,
  topic: string,
  fromMs: number,
  toMs: number
): Effect.Effect<Array<OffsetRange>, KafkaError> =>
  withReader(brokers, (consumer) =>
    Effect.gen(function*() {
      const ends = yield* listOffsets(consumer, topic, ListOffsetTimestamps.LATEST)
      // A timestamp after every record's finds none (-1): the span runs to the end.
      const at = (offsets: ReadonlyArray<number>) => ends.map((end, p) => (offsets[p] === undefined || offsets[p]! < 0 ? end : offsets[p]!))
      const from = at(yield* listOffsets(consumer, topic, BigInt(fromMs)))
      const to = at(yield* listOffsets(consumer, topic, BigInt(toMs)))
      return ends.map((_, partition) => ({ partition, from: from[partition]!, to: Math.max(from[partition]!, to[partition]!) }))
    }))

/**
 * Reads `ranges` as a read_committed reader, calling `onRecords` with each fetch's records in the
 * ranges, in offset order per partition.
 */
export const readOffsetRanges = (
  brokers: ReadonlyArray<string>,
  topic: string,
  ranges: ReadonlyArray<OffsetRange>,
  onRecords: (partition: number, records: ReadonlyArray<SourceRecord>) => void
): Effect.Effect<void, KafkaError> =>
  withReader(brokers, (consumer) =>
    readRanges(consumer, topic, ranges.filter((r) => r.to > r.from), (partition, records, to) => {
      const inRange = records.filter((r) => r.offset < to)
      if (inRange.length > 0) onRecords(partition, inRange)
    }, 10 * DEADLINE_MS))
