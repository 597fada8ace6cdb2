/**
 * Output topics, exactly once, as Kafka Streams writes them: per source partition, a
 * transactional producer publishes a window's values and commits the window's end as the offset
 * of a consumer group of its own in the same Kafka transaction. That group's offset is this sink's
 * committed position; a new owner's producer, sharing the transactional id, fences the old one.
 */
import { Consumer, findErrorBy, type Producer } from "@platformatic/kafka"
import { Data, Effect, Option, type Scope } from "effect"
import type { Decisions } from "../../topology/Decisions.ts"
import { crashNow } from "../CrashPoint.ts"
import { makeTransactionalProducer } from "./TransactionalProducer.ts"
import { isTransientKafkaError, KafkaError } from "../../topology/Fetch.ts"
import { type OutagePolicy, waitOut } from "../../topology/Outage.ts"
import type { Processor } from "../../topology/Processor.ts"
import type { Decoded, SourcePartition } from "../../topology/Record.ts"
import { type Sink, SinkError, SinkFenced, type SinkPosition, type SinkTarget, type SinkWindow } from "../../topology/Sink.ts"

/** One output topic: the values of a processor, keyed and serialized. */
export interface KafkaOutput<T, A> {
  readonly topic: string
  readonly input: Processor<T, A>
  readonly key: (value: A) => string
  readonly value: (value: A, record: Decoded<T>) => string
}

export interface KafkaSinkOptions<T> {
  readonly brokers: ReadonlyArray<string>
  /** The service's consumer group: the sink's own group and transactional ids derive from it. */
  readonly group: string
  /** The source topic. */
  readonly topic: string
  readonly outputs: ReadonlyArray<KafkaOutput<T, any>>
  readonly outage: OutagePolicy
}

const SINK = "kafka"
/** Messages per produce request. */
const SEND_CHUNK = 500

/** The incarnation of a topic in a group or transactional id: the first 12 hex digits of its id. */
const incarnationOf = (topicId: string): string => topicId.replaceAll("-", "").slice(0, 12).toLowerCase()

/** The group whose offsets are this sink's positions, for one incarnation of the source topic. */
export const publishGroup = (group: string, sp: SourcePartition): string => `${group}.publish.${incarnationOf(sp.topicId)}`

/** The transactional id of a source partition's producer: the same for every owner, so a new one fences the old. */
export const transactionalId = (group: string, sp: SourcePartition): string =>
  `${group}.publish.${sp.topic}.${incarnationOf(sp.topicId)}.${sp.partition}`

class ProducerFencedError extends Data.TaggedError("ProducerFenced")<{ readonly detail: string }> {}

/** Another producer of the transactional id took over: this one is a zombie. */
const isFenced = (cause: unknown): boolean =>
  ["PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "INVALID_TXN_STATE"].some((id) => findErrorBy((cause ?? null) as Error, "apiId", id) !== null)

export const makeKafkaSink = <T>(options: KafkaSinkOptions<T>): Effect.Effect<Sink<T>, never, Scope.Scope> =>
  Effect.gen(function*() {
    // A producer per source partition this member writes, and a consumer per group to read offsets with.
    const producers = new Map<string, Producer<Buffer, Buffer, Buffer, Buffer>>()
    const readers = new Map<string, Consumer>()
    const next = new Map<string, number | undefined>()
    const keyOf = (sp: SourcePartition) => `${sp.topicId}/${sp.partition}`
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        for (const p of producers.values()) await p.close().catch(() => undefined)
        for (const c of readers.values()) await c.close(true).catch(() => undefined)
      })
    )

    const call = <A>(op: string, partition: number, f: () => Promise<A>) =>
      Effect.tryPromise({
        try: f,
        catch: (cause) => (isFenced(cause) ? new ProducerFencedError({ detail: `${op}: ${(cause as Error)?.message}` }) : new KafkaError({ op, cause }))
      }).pipe(
        (effect) => waitOut(`kafka: ${op}`, effect, (e) => e._tag === "KafkaError" && isTransientKafkaError(e), options.outage),
        Effect.mapError((e) =>
          e._tag === "ProducerFenced"
            ? new SinkFenced({ sink: SINK, topic: options.topic, partition, detail: e.detail })
            : new SinkError({ sink: SINK, topic: options.topic, partition, reason: e.message, cause: e })
        )
      )

    const readerOf = (sp: SourcePartition) => {
      const group = publishGroup(options.group, sp)
      let reader = readers.get(group)
      if (reader === undefined) {
        reader = new Consumer({ clientId: `sluice-publish-offsets`, groupId: group, bootstrapBrokers: [...options.brokers], retries: 2 })
        readers.set(group, reader)
      }
      return reader
    }

    /** Outside a commit, a fence is no race to lose: an error. */
    const unfenced = <A>(effect: Effect.Effect<A, SinkError | SinkFenced>) =>
      Effect.mapError(effect, (e) => (e._tag === "SinkFenced" ? new SinkError({ sink: SINK, topic: e.topic, partition: e.partition, reason: e.detail }) : e))

    const position = (sp: SourcePartition) =>
      unfenced(call(`read the offsets of ${publishGroup(options.group, sp)}`, sp.partition, () =>
        readerOf(sp).listCommittedOffsets({ topics: [{ topic: sp.topic, partitions: [sp.partition] }] })
      )).pipe(
        Effect.map((offsets): SinkPosition => {
          const offset = Number(offsets.get(sp.topic)?.[sp.partition] ?? -1n)
          // This sink commits after the others: it is never the furthest, so it never decides a replay.
          return { next: offset < 0 ? undefined : offset, furthest: undefined }
        })
      )

    const recover: Sink<T>["recover"] = (sp) =>
      Effect.gen(function*() {
        // A new producer for the transactional id fences any other owner's and aborts its open transaction.
        const previous = producers.get(keyOf(sp))
        if (previous !== undefined) yield* Effect.promise(() => previous.close().catch(() => undefined))
        const producer = makeTransactionalProducer({ clientId: `sluice-publish-${sp.partition}`, brokers: options.brokers, transactionalId: transactionalId(options.group, sp) })
        producers.set(keyOf(sp), producer)
        yield* unfenced(call(`fence the earlier producers of ${transactionalId(options.group, sp)}`, sp.partition, async () => {
          const transaction = await producer.beginTransaction()
          await transaction.cancel()
        }))
        const p = yield* position(sp)
        next.set(keyOf(sp), p.next)
        return p
      })

    const open = (sp: SourcePartition, from: number, decisions: Decisions<T, any>) =>
      Effect.gen(function*() {
        const producer = producers.get(keyOf(sp))
        if (producer === undefined || !next.has(keyOf(sp))) {
          return yield* new SinkError({ sink: SINK, topic: options.topic, partition: sp.partition, reason: "window opened before recover" })
        }
        const opened = next.get(keyOf(sp))
        const start = opened === undefined ? from : Math.max(from, opened)
        const messages: Array<{ topic: string; key: Buffer; value: Buffer }> = []
        const window: SinkWindow<T> = {
          add: (record) => {
            if (record.offset < start) return
            for (const out of options.outputs) {
              const value = out.input.evaluate(record, decisions)
              if (value !== undefined) messages.push({ topic: out.topic, key: Buffer.from(out.key(value)), value: Buffer.from(out.value(value, record)) })
            }
          },
          addDeadLetter: () => undefined,
          commit: (to) =>
            Effect.suspend(() => {
              const expected = next.get(keyOf(sp))
              if (to < start) return Effect.void
              if (expected !== undefined && start > expected) {
                return Effect.fail(new SinkError({ sink: SINK, topic: options.topic, partition: sp.partition, reason: `offsets ${expected}..${start - 1} were never published (window starts at ${start})` }))
              }
              const reader = readerOf(sp)
              const group = publishGroup(options.group, sp)
              return call(`publish ${options.topic}/${sp.partition} ${start}..${to}`, sp.partition, async () => {
                const transaction = await producer.beginTransaction()
                try {
                  // In requests the broker takes (1 MiB by default), one after the other, in order.
                  for (let i = 0; i < messages.length; i += SEND_CHUNK) await transaction.send({ messages: messages.slice(i, i + SEND_CHUNK) })
                  await transaction.addConsumer(reader)
                  // The group's offset is the next offset to publish from, committed with the messages.
                  await transaction.addOffset({
                    topic: sp.topic,
                    partition: sp.partition,
                    offset: BigInt(to),
                    key: null,
                    value: null,
                    headers: new Map(),
                    timestamp: 0n,
                    metadata: { consumer: { groupId: group, generationId: -1, memberId: "", coordinatorId: await coordinatorOf(reader) } }
                  } as never)
                  crashNow("kafka:before-commit")
                  await transaction.commit()
                  crashNow("kafka:after-commit")
                } catch (e) {
                  await transaction.abort().catch(() => undefined)
                  throw e
                }
              }).pipe(
                Effect.uninterruptible,
                Effect.andThen(Effect.sync(() => {
                  next.set(keyOf(sp), to + 1)
                }))
              )
            })
        }
        return window
      })

    const targets: Array<SinkTarget> = options.outputs.map((o) => ({
      name: o.topic,
      location: `topic ${o.topic} on ${options.brokers.join(",")} (transactional)`,
      input: o.input
    }))

    return {
      name: SINK,
      targets,
      commitsLast: true,
      position,
      recover,
      open,
      // The decisions a window used are recorded by the lake and the warehouse, which commit first.
      saveDecisions: () => Effect.void,
      loadDecisions: () => Effect.succeed(Option.none())
    } satisfies Sink<T>
  })

/** The broker coordinating a group's offsets, as the group's consumer found it. */
const coordinatorOf = async (consumer: Consumer): Promise<number> => {
  // Reading the group's offsets once makes the consumer find its coordinator.
  if (consumer.coordinatorId === null || consumer.coordinatorId === undefined) await consumer.listCommittedOffsets({ topics: [] }).catch(() => undefined)
  return consumer.coordinatorId as unknown as number
}

