/**
 * Reads a whole topic, from each partition's log start to the end offset it had when the read
 * began, without joining a group: the way reference data (exchange rates) is loaded.
 */
import { Consumer } from "@platformatic/kafka"
import { Effect } from "effect"
import { fetchOnce, KafkaError } from "./Fetch.ts"
import type { SourceRecord } from "./Record.ts"

export interface TopicRecord extends SourceRecord {
  readonly partition: number
}

const DEADLINE_MS = 60_000

export const readTopic = (brokers: ReadonlyArray<string>, topic: string): Effect.Effect<Array<TopicRecord>, KafkaError> =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      new Consumer({ clientId: "sluice-reader", groupId: "sluice-reader", bootstrapBrokers: [...brokers], retries: 2 })
    ),
    (consumer) =>
      Effect.gen(function*() {
        const list = (timestamp: bigint) =>
          Effect.tryPromise({
            try: () => consumer.listOffsets({ topics: [topic], timestamp }),
            catch: (cause) => new KafkaError({ op: `list offsets of ${topic}`, cause })
          }).pipe(Effect.map((offsets) => (offsets.get(topic) ?? []).map(Number)))
        const starts = yield* list(-2n)
        const ends = yield* list(-1n)
        const positions = starts.map((offset, partition) => ({ topic, partition, offset }))
        const out: Array<TopicRecord> = []
        for (;;) {
          const wanted = positions.filter((p) => p.offset < (ends[p.partition] ?? 0))
          if (wanted.length === 0) return out
          const fetched = yield* fetchOnce(consumer, wanted, { maxWaitMs: 100, maxBytesPerPartition: 4 * 1024 * 1024 })
          for (const f of fetched) {
            const end = ends[f.partition] ?? 0
            for (const r of f.batch.records) if (r.offset < end) out.push({ ...r, partition: f.partition })
            const position = positions[f.partition]!
            position.offset = Math.max(position.offset, f.batch.nextOffset)
          }
        }
      }).pipe(
        Effect.timeoutOrElse({
          duration: DEADLINE_MS,
          orElse: () => Effect.fail(new KafkaError({ op: `read ${topic}`, cause: new Error(`not read to its end within ${DEADLINE_MS / 1000} s`) }))
        })
      ),
    (consumer) => Effect.promise(() => consumer.close(true).catch(() => undefined))
  )
