/**
 * The load generator behind `sluice produce`: seeded transactions or sales (a share of them
 * malformed, and of sales late) sent to Kafka by an idempotent producer, at a fixed rate or as fast
 * as the broker takes them; optionally inside Kafka transactions, some of them aborted, as an
 * exactly-once upstream writes.
 */
import { Producer } from "@platformatic/kafka"
import { makeTransactionalProducer } from "../sinks/kafka/TransactionalProducer.ts"
import { Effect } from "effect"
import { makeMessageGenerator } from "../domain/Generator.ts"
import { makeVenteMessageGenerator } from "../domain/VenteGenerator.ts"
import { KafkaError } from "../topology/Source.ts"
import { ensureTopic } from "./KafkaAdmin.ts"
import { startProgress } from "./Progress.ts"

/** What `produce` generates: `transaction_stream` transactions, or `ventes_stream` sales. */
export const ProduceKinds = ["transactions", "ventes"] as const
export type ProduceKind = (typeof ProduceKinds)[number]

export interface ProduceOptions {
  readonly brokers: ReadonlyArray<string>
  /** Transactions (the default, keyed by transaction id) or sales (keyed by client id). */
  readonly kind?: ProduceKind | undefined
  readonly topic: string
  readonly messages: number
  /** Messages per second; 0 sends as fast as possible. */
  readonly rate: number
  readonly partitions: number
  readonly badRatio: number
  /** Sales only: the share whose event time lies 15 to 90 minutes behind the stream (default 0). */
  readonly lateRatio?: number | undefined
  readonly seed: number
  /** Transactions only: their event times are spread over this many days before noon UTC, 22 Nov 2026 (default 5). */
  readonly eventDays?: number | undefined
  /** Show a progress bar (on a terminal, see Progress.ts). */
  readonly progress: boolean
  /** Messages per Kafka transaction; 0 (the default) sends without transactions. */
  readonly transactionSize?: number | undefined
  /** With transactions: every n-th one is aborted (0, the default: none). */
  readonly abortEvery?: number | undefined
}

export interface ProduceReport {
  /** Messages sent and, with transactions, committed. */
  readonly sent: number
  readonly bad: number
  /** Sales sent with an event time well behind the stream (0 for transactions). */
  readonly late: number
  /** Messages sent in transactions that were aborted (not counted in `sent`). */
  readonly aborted: number
  readonly elapsedMs: number
}

const BATCH = 1_000
const SEND_DEADLINE_MS = 30_000

interface Message {
  readonly key: string
  readonly value: Buffer
  readonly bad: string | undefined
  readonly late: boolean
}

const messageGenerator = (options: ProduceOptions): (() => Message) => {
  if (options.kind === "ventes") {
    return makeVenteMessageGenerator({ seed: options.seed, badRatio: options.badRatio, lateRatio: options.lateRatio ?? 0 })
  }
  const next = makeMessageGenerator({ seed: options.seed, badRatio: options.badRatio, ...(options.eventDays === undefined ? {} : { days: options.eventDays }) })
  return () => ({ ...next(), late: false })
}

export const produce = (options: ProduceOptions): Effect.Effect<ProduceReport, KafkaError> =>
  Effect.gen(function*() {
    yield* ensureTopic(options.brokers, options.topic, options.partitions)
    const next = messageGenerator(options)
    const bar = startProgress(options.topic, options.progress)
    bar.update(0, options.messages)
    const startedAt = Date.now()
    let sent = 0
    let bad = 0
    let late = 0
    let aborted = 0
    let transactions = 0
    const transactionSize = options.transactionSize ?? 0
    const abortEvery = options.abortEvery ?? 0
    const transactional = transactionSize > 0
    const deadline = <A>(op: Effect.Effect<A, KafkaError>) =>
      op.pipe(
        Effect.timeoutOrElse({
          duration: SEND_DEADLINE_MS,
          orElse: () => Effect.fail(new KafkaError({ op: `produce to ${options.topic}`, cause: new Error(`no acknowledgement within ${SEND_DEADLINE_MS / 1000} s`) }))
        })
      )
    const call = <A>(what: string, f: () => Promise<A>) =>
      deadline(Effect.tryPromise({ try: f, catch: (cause) => new KafkaError({ op: `${what} on ${options.topic}`, cause }) }))
    yield* Effect.acquireUseRelease(
      Effect.sync(() =>
        transactional
          ? makeTransactionalProducer({ clientId: "sluice-produce", brokers: options.brokers, transactionalId: `sluice-produce-${options.topic}-${options.seed}` })
          : new Producer({ clientId: "sluice-produce", bootstrapBrokers: [...options.brokers], idempotent: true, acks: -1, retries: 5 })
      ),
      (producer) =>
        Effect.gen(function*() {
          while (sent < options.messages) {
            const size = Math.min(
              transactional ? transactionSize : BATCH,
              options.messages - sent,
              options.rate > 0 ? Math.max(1, Math.ceil(options.rate / 10)) : BATCH
            )
            const batch: Array<Message> = []
            for (let i = 0; i < size; i++) batch.push(next())
            const messages = batch.map((m) => ({ topic: options.topic, key: Buffer.from(m.key), value: m.value }))
            if (transactional) {
              transactions++
              const abort = abortEvery > 0 && transactions % abortEvery === 0
              const transaction = yield* call("begin a transaction", () => producer.beginTransaction())
              yield* call("send in a transaction", () => transaction.send({ messages }))
              yield* call(abort ? "abort a transaction" : "commit a transaction", () => (abort ? transaction.abort() : transaction.commit()))
              if (abort) {
                aborted += size
                continue
              }
            } else {
              yield* call("produce", () => producer.send({ messages }))
            }
            sent += size
            bad += batch.filter((m) => m.bad !== undefined).length
            late += batch.filter((m) => m.late && m.bad === undefined).length
            bar.update(sent, options.messages)
            if (options.rate > 0) {
              // Hold the offered load: sleep until the schedule catches up with what was sent.
              const due = startedAt + (sent / options.rate) * 1000
              if (due > Date.now()) yield* Effect.sleep(due - Date.now())
            }
          }
        }),
      (producer) => Effect.promise(() => producer.close().catch(() => undefined))
    ).pipe(Effect.ensuring(Effect.sync(() => bar.stop())))
    return { sent, bad, late, aborted, elapsedMs: Date.now() - startedAt }
  })
