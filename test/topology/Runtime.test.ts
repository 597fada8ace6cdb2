import { Deferred, Effect, Exit, Fiber, Queue, Result } from "effect"
import { describe, expect, it } from "vitest"
import type { Decisions, DecisionSource } from "../../src/topology/Decisions.ts"
import { runPartition } from "../../src/topology/PartitionLoop.ts"
import { runTopology } from "../../src/topology/Runtime.ts"
import { KafkaError, type SourceEvent } from "../../src/topology/Source.ts"
import type { Topology } from "../../src/topology/Topology.ts"
import { failureOf } from "../support/Failure.ts"
import { makeMemorySource, makeRecordingSink, MEMORY_TOPIC_ID, type RecordingSink } from "../support/MemoryTopology.ts"

const TOPIC = "t"
const sp = { topic: TOPIC, topicId: MEMORY_TOPIC_ID, partition: 0 }

/** Decisions that accept every string, or (strict) refuse the value "x". */
const decisionsOf = (strict: boolean): Decisions<string> => ({
  version: strict ? 2 : 1,
  content: JSON.stringify({ strict }),
  decode: (json) => (strict && json === "x" ? Result.fail({ message: "x is refused" }) : Result.succeed(String(json))),
  policy: { maxMessageBytes: 1024 },
  state: undefined,
  summary: strict ? "strict" : "lenient"
})
const decisions = (strict: boolean): DecisionSource<string> => ({
  current: () => decisionsOf(strict),
  restore: (content) => decisionsOf((JSON.parse(content) as { strict: boolean }).strict)
})

const topologyOf = (sinks: ReadonlyArray<RecordingSink<string>>, strict = false, maxRecords = 1_000): Topology => ({
  flows: [{ topic: TOPIC, decisions: decisions(strict), sinks }],
  window: { maxRecords, maxBytes: 1 << 30, maxAgeMs: 200 }
})

const options = { untilIdleMs: 100, stalledAfterMs: 5_000, drainTimeoutMs: 5_000, flushWhenCaughtUp: true, fencedBackoffMs: 10 }

const values = (n: number, from = 0) => Array.from({ length: n }, (_, i) => JSON.stringify(`v${from + i}`))

describe("runTopology", () => {
  it("commits every offset once, each window closed exactly at its limit", async () => {
    const sink = makeRecordingSink<string>("a")
    const summary = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const source = yield* makeMemorySource(new Map([[TOPIC, 1]]))
      source.append({ topic: TOPIC, partition: 0 }, values(2_500))
      source.assign([{ topic: TOPIC, partition: 0 }])
      return yield* runTopology(topologyOf([sink], false, 1_000), source, options, yield* Deferred.make<void>())
    })))
    expect(summary).toMatchObject({ reason: "idle", records: 2_500 })
    expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 999], [1_000, 1_999], [2_000, 2_499]])
    expect(sink.commits.flatMap((c) => c.values)).toEqual(values(2_500).map((v) => JSON.parse(v)))
  })

  it("replays the offsets another sink committed with that commit's decisions, in a window that ends where it ended", async () => {
    const ahead = makeRecordingSink<string>("ahead")
    const behind = makeRecordingSink<string>("behind")
    // `ahead` committed 0..149 under the lenient decisions; `behind` only 0..49. Now the strict ones are in force.
    ahead.preset(0, 150, decisionsOf(false).version)
    behind.preset(0, 50, decisionsOf(false).version)
    await Effect.runPromise(ahead.saveDecisions(decisionsOf(false).version, decisionsOf(false).content))
    const log = Array.from({ length: 300 }, (_, i) => (i % 10 === 0 ? JSON.stringify("x") : JSON.stringify(`v${i}`)))
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const source = yield* makeMemorySource(new Map([[TOPIC, 1]]))
      source.append({ topic: TOPIC, partition: 0 }, log)
      source.assign([{ topic: TOPIC, partition: 0 }])
      return yield* runTopology(topologyOf([ahead, behind], true, 1_000), source, options, yield* Deferred.make<void>())
    })))
    expect(behind.commits.map((c) => [c.from, c.to, c.decisions])).toEqual([[50, 149, 1], [150, 299, 2]])
    expect(ahead.commits.map((c) => [c.from, c.to, c.decisions])).toEqual([[150, 299, 2]])
    // Offsets 50..149 were values for `ahead`: they are values for `behind` too, "x" included.
    expect(behind.commits[0]!.values).toHaveLength(100)
    expect(behind.commits[0]!.deadLetters).toEqual([])
    expect(behind.commits[1]!.deadLetters).toEqual(Array.from({ length: 15 }, (_, i) => 150 + i * 10))
  })

  it("stops at once when a partition meets a defect, naming the partition", async () => {
    const sink = makeRecordingSink<string>("a", { beforeWrite: () => Effect.die(new RangeError("Invalid time value")) })
    const exit = await Effect.runPromiseExit(Effect.scoped(Effect.gen(function*() {
      const source = yield* makeMemorySource(new Map([[TOPIC, 2]]))
      source.append({ topic: TOPIC, partition: 1 }, values(10))
      source.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      return yield* runTopology(topologyOf([sink]), source, { ...options, untilIdleMs: undefined }, yield* Deferred.make<void>())
    })))
    const error = failureOf(exit)
    expect(error).toMatchObject({ _tag: "PartitionDefect", topic: TOPIC, partition: 1 })
    expect(error.message).toBe("t/1 stopped on an unexpected error: Invalid time value")
  })

  it("stops when the source fails, with the source's error", async () => {
    const exit = await Effect.runPromiseExit(Effect.scoped(Effect.gen(function*() {
      const source = yield* makeMemorySource(new Map([[TOPIC, 1]]))
      source.assign([{ topic: TOPIC, partition: 0 }])
      yield* Effect.forkChild(Effect.sleep("100 millis").pipe(Effect.andThen(Effect.sync(() => source.fail(new KafkaError({ op: "fetch", cause: new Error("no broker answers") }))))))
      return yield* runTopology(topologyOf([makeRecordingSink<string>("a")]), source, { ...options, untilIdleMs: undefined }, yield* Deferred.make<void>())
    })))
    expect(failureOf(exit)).toMatchObject({ _tag: "KafkaError", op: "fetch" })
  })
})

describe("runPartition, interrupted (its partition revoked)", () => {
  const loop = (sink: RecordingSink<string>, queue: Queue.Queue<SourceEvent>) =>
    runPartition({ topic: TOPIC, decisions: decisions(false), sinks: [sink] }, sp, queue, { from: 0, decisions: Effect.succeed(decisionsOf(false)) }, {
      topic: TOPIC,
      partition: 0,
      committed: 0,
      records: 0,
      deadLetters: 0,
      windows: 0,
      fetched: 0,
      lastActivityAt: 0,
      windowOpen: false
    }, { window: { maxRecords: 10, maxBytes: 1 << 30, maxAgeMs: 60_000 }, flushWhenCaughtUp: false, draining: () => false, onCommitted: () => Effect.void, onFirstRecord: () => {} })

  const batch = (n: number): SourceEvent => ({
    _tag: "Batch",
    batch: { topic: TOPIC, partition: 0, records: values(n).map((v, offset) => ({ offset, timestamp: 0, key: null, value: Buffer.from(v) })), nextOffset: n, endOffset: n, logStartOffset: 0, fetchedAt: Date.now() }
  })

  it("never commits once the interruption returned, when its commit had not reached its write", async () => {
    const writing = Deferred.makeUnsafe<void>()
    const sink = makeRecordingSink<string>("a", { beforeWrite: () => Deferred.succeed(writing, undefined).pipe(Effect.andThen(Effect.never)) })
    await Effect.runPromise(Effect.gen(function*() {
      const queue = yield* Queue.bounded<SourceEvent>(4)
      yield* Queue.offer(queue, batch(10))
      const fiber = yield* Effect.forkChild(loop(sink, queue))
      yield* Deferred.await(writing)
      yield* Fiber.interrupt(fiber)
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
      yield* Effect.sleep("100 millis")
    }))
    expect(sink.commits).toEqual([])
  })

  it("waits for a commit already writing, so that it lands before the interruption returns", async () => {
    const sink = makeRecordingSink<string>("a", { whileWriting: () => Effect.sleep("300 millis") })
    await Effect.runPromise(Effect.gen(function*() {
      const queue = yield* Queue.bounded<SourceEvent>(4)
      yield* Queue.offer(queue, batch(10))
      const fiber = yield* Effect.forkChild(loop(sink, queue))
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(fiber)
      // Returned: the commit that was writing has landed, and nothing comes after it.
      expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 9]])
      yield* Effect.sleep("100 millis")
    }))
    expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 9]])
  })
})
