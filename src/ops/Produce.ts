/**
 * The load generator behind `sluice produce`: seeded transactions (a share of them malformed)
 * sent to Kafka by an idempotent producer, at a fixed rate or as fast as the broker takes them.
 */
import { Producer } from "@platformatic/kafka"
import { SingleBar } from "cli-progress"
import { Effect } from "effect"
import { type GeneratedMessage, makeMessageGenerator } from "../domain/Generator.ts"
import { KafkaError } from "../topology/Source.ts"
import { ensureTopic } from "./KafkaAdmin.ts"

export interface ProduceOptions {
  readonly brokers: ReadonlyArray<string>
  readonly topic: string
  readonly messages: number
  /** Messages per second; 0 sends as fast as possible. */
  readonly rate: number
  readonly partitions: number
  readonly badRatio: number
  readonly seed: number
  readonly progress: boolean
}

export interface ProduceReport {
  readonly sent: number
  readonly bad: number
  readonly elapsedMs: number
}

const BATCH = 1_000
const SEND_DEADLINE_MS = 30_000

export const produce = (options: ProduceOptions): Effect.Effect<ProduceReport, KafkaError> =>
  Effect.gen(function*() {
    yield* ensureTopic(options.brokers, options.topic, options.partitions)
    const next = makeMessageGenerator({ seed: options.seed, badRatio: options.badRatio })
    const bar = options.progress
      ? new SingleBar({ format: `${options.topic} [{bar}] {percentage}% | {value}/{total} | {rate} msg/s | ETA {eta}s`, hideCursor: true })
      : undefined
    bar?.start(options.messages, 0, { rate: 0 })
    const startedAt = Date.now()
    let sent = 0
    let bad = 0
    yield* Effect.acquireUseRelease(
      Effect.sync(() =>
        new Producer({
          clientId: "sluice-produce",
          bootstrapBrokers: [...options.brokers],
          idempotent: true,
          acks: -1,
          retries: 5
        })
      ),
      (producer) =>
        Effect.gen(function*() {
          while (sent < options.messages) {
            const size = Math.min(BATCH, options.messages - sent, options.rate > 0 ? Math.max(1, Math.ceil(options.rate / 10)) : BATCH)
            const batch: Array<GeneratedMessage> = []
            for (let i = 0; i < size; i++) batch.push(next())
            yield* Effect.tryPromise({
              try: () =>
                producer.send({
                  messages: batch.map((m) => ({ topic: options.topic, key: Buffer.from(m.key), value: m.value }))
                }),
              catch: (cause) => new KafkaError({ op: `produce to ${options.topic}`, cause })
            }).pipe(
              Effect.timeoutOrElse({
                duration: SEND_DEADLINE_MS,
                orElse: () =>
                  Effect.fail(new KafkaError({ op: `produce to ${options.topic}`, cause: new Error(`no acknowledgement within ${SEND_DEADLINE_MS / 1000} s`) }))
              })
            )
            sent += size
            bad += batch.filter((m) => m.bad !== undefined).length
            const elapsed = Date.now() - startedAt
            bar?.update(sent, { rate: Math.round(sent / Math.max(elapsed / 1000, 0.001)) })
            if (options.rate > 0) {
              // Hold the offered load: sleep until the schedule catches up with what was sent.
              const due = startedAt + (sent / options.rate) * 1000
              if (due > Date.now()) yield* Effect.sleep(due - Date.now())
            }
          }
        }),
      (producer) => Effect.promise(() => producer.close().catch(() => undefined))
    ).pipe(Effect.ensuring(Effect.sync(() => bar?.stop())))
    return { sent, bad, elapsedMs: Date.now() - startedAt }
  })
