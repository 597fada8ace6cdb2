import { Deferred, Effect, Exit, Fiber, Queue, Result } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import type { Decisions, DecisionSource } from "../../src/topology/Decisions.ts"
import { runPartition } from "../../src/topology/PartitionLoop.ts"
import { SinkFenced } from "../../src/topology/Sink.ts"
import { KafkaError, type SourceEvent } from "../../src/topology/Source.ts"
import { makeRecordingSink, makeTestDriver, type RecordingSink, TEST_TOPIC_ID } from "../../src/topology/TestDriver.ts"
import type { Topology } from "../../src/topology/Topology.ts"
import { failureOf } from "../support/Failure.ts"

const TOPIC = "t"
const sp = { topic: TOPIC, topicId: TEST_TOPIC_ID, partition: 0 }

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

const topologyOf = (sinks: ReadonlyArray<RecordingSink<string>>, options: { strict?: boolean; maxRecords?: number; maxAgeMs?: number } = {}): Topology => ({
  flows: [{ topic: TOPIC, decisions: decisions(options.strict ?? false), sinks }],
  window: { maxRecords: options.maxRecords ?? 1_000, maxBytes: 1 << 30, maxAgeMs: options.maxAgeMs ?? 200 }
})

const values = (n: number, from = 0) => Array.from({ length: n }, (_, i) => JSON.stringify(`v${from + i}`))
const partitionsOf = (n: number) => new Map([[TOPIC, n]])

/** Runs a test program under the test clock, in its own scope. */
const test = <A, E>(program: Effect.Effect<A, E, import("effect").Scope.Scope>) =>
  Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestClock.layer())))

describe("the runtime, driven by the topology test driver", () => {
  it("closes each window exactly at its record limit, mid-batch, and commits every offset once", () =>
    test(Effect.gen(function*() {
      const sink = makeRecordingSink<string>("a")
      const driver = yield* makeTestDriver(topologyOf([sink], { maxAgeMs: 60_000 }), partitionsOf(1))
      yield* driver.pipe(TOPIC, 0, values(2_500))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }])
      yield* driver.advance(200)
      // Two full windows; the rest waits for its age, which is a minute here.
      expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 999], [1_000, 1_999]])
      const summary = yield* driver.drain
      expect(Exit.isSuccess(summary) && summary.value).toMatchObject({ reason: "drained", records: 2_500, windows: 3 })
      expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 999], [1_000, 1_999], [2_000, 2_499]])
      expect(sink.commits.flatMap((c) => c.values)).toEqual(values(2_500).map((v) => JSON.parse(v)))
    })))

  it("closes a window when it reaches its age, by the clock", () =>
    test(Effect.gen(function*() {
      const sink = makeRecordingSink<string>("a")
      const driver = yield* makeTestDriver(topologyOf([sink], { maxAgeMs: 1_000 }), partitionsOf(1))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }])
      yield* driver.advance(50)
      yield* driver.pipe(TOPIC, 0, values(10))
      yield* driver.advance(900)
      expect(sink.commits).toEqual([])
      yield* driver.advance(200)
      expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 9]])
    })))

  it("fills the next window while the previous one commits, and keeps commits in order", () =>
    test(Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const sink = makeRecordingSink<string>("a", { beforeWrite: (c) => (c.from === 0 ? Deferred.await(release) : Effect.void) })
      const driver = yield* makeTestDriver(topologyOf([sink], { maxRecords: 100, maxAgeMs: 60_000 }), partitionsOf(1))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }])
      yield* driver.pipe(TOPIC, 0, values(150))
      yield* driver.advance(100)
      // The first window's commit hangs; the second window has filled meanwhile but waits its turn.
      expect(sink.commits).toEqual([])
      yield* driver.pipe(TOPIC, 0, values(50, 150))
      yield* driver.advance(100)
      expect(sink.commits).toEqual([])
      yield* Deferred.succeed(release, undefined)
      yield* driver.advance(50)
      expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 99], [100, 199]])
    })))

  it("drops a revoked partition's open window, and commits it again from its owner's recovery", () =>
    test(Effect.gen(function*() {
      const sink = makeRecordingSink<string>("a")
      const driver = yield* makeTestDriver(topologyOf([sink], { maxAgeMs: 60_000 }), partitionsOf(2))
      yield* driver.pipe(TOPIC, 0, values(30))
      yield* driver.pipe(TOPIC, 1, values(30))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* driver.advance(50)
      yield* driver.assign([{ topic: TOPIC, partition: 1 }])
      yield* driver.advance(50)
      yield* driver.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* driver.advance(50)
      yield* driver.drain
      // Partition 0 was read twice but committed once; partition 1 was never interrupted.
      expect(sink.recoveries).toEqual(new Map([[0, 2], [1, 1]]))
      expect(sink.commits.map((c) => [c.partition, c.from, c.to]).sort()).toEqual([[0, 0, 29], [1, 0, 29]])
    })))

  it("backs off after a fence, then recovers and seeks again", () =>
    test(Effect.gen(function*() {
      let fenced = false
      const sink = makeRecordingSink<string>("a", {
        beforeWrite: () => {
          if (fenced) return Effect.void
          fenced = true
          return Effect.fail(new SinkFenced({ sink: "a", topic: TOPIC, partition: 0, detail: "another writer got there" }))
        }
      })
      const driver = yield* makeTestDriver(topologyOf([sink], { maxRecords: 10, maxAgeMs: 60_000 }), partitionsOf(1), { fencedBackoffMs: 1_000 })
      yield* driver.pipe(TOPIC, 0, values(10))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }])
      yield* driver.advance(100)
      expect(sink.recoveries.get(0)).toBe(1)
      yield* driver.advance(800)
      expect(sink.recoveries.get(0)).toBe(1)
      yield* driver.advance(300)
      expect(sink.recoveries.get(0)).toBe(2)
      expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 9]])
    })))

  it("replays the offsets another sink committed with that commit's decisions, in a window that ends where it ended", () =>
    test(Effect.gen(function*() {
      const ahead = makeRecordingSink<string>("ahead")
      const behind = makeRecordingSink<string>("behind")
      // `ahead` committed 0..149 under the lenient decisions; `behind` only 0..49. Now the strict ones are in force.
      ahead.preset(0, 150, decisionsOf(false).version)
      behind.preset(0, 50, decisionsOf(false).version)
      yield* ahead.saveDecisions(decisionsOf(false).version, decisionsOf(false).content)
      const driver = yield* makeTestDriver(topologyOf([ahead, behind], { strict: true, maxAgeMs: 60_000 }), partitionsOf(1))
      yield* driver.pipe(TOPIC, 0, Array.from({ length: 300 }, (_, i) => (i % 10 === 0 ? JSON.stringify("x") : JSON.stringify(`v${i}`))))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }])
      yield* driver.advance(100)
      yield* driver.drain
      expect(behind.commits.map((c) => [c.from, c.to, c.decisions])).toEqual([[50, 149, 1], [150, 299, 2]])
      expect(ahead.commits.map((c) => [c.from, c.to, c.decisions])).toEqual([[150, 299, 2]])
      // Offsets 50..149 were values for `ahead`: they are values for `behind` too, "x" included.
      expect(behind.commits[0]!.values).toHaveLength(100)
      expect(behind.commits[0]!.deadLetters).toEqual([])
      expect(behind.commits[1]!.deadLetters).toEqual(Array.from({ length: 15 }, (_, i) => 150 + i * 10))
    })))

  it("stops at once when a partition meets a defect, naming the partition", () =>
    test(Effect.gen(function*() {
      const sink = makeRecordingSink<string>("a", { beforeWrite: () => Effect.die(new RangeError("Invalid time value")) })
      const driver = yield* makeTestDriver(topologyOf([sink], { maxAgeMs: 100 }), partitionsOf(2))
      yield* driver.pipe(TOPIC, 1, values(10))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* driver.advance(300)
      const outcome = driver.outcome()
      expect(outcome).toBeDefined()
      const error = failureOf(outcome!)
      expect(error).toMatchObject({ _tag: "PartitionDefect", topic: TOPIC, partition: 1 })
      expect(error.message).toBe("t/1 stopped on an unexpected error: Invalid time value")
    })))

  it("stops when the source fails, with the source's error", () =>
    test(Effect.gen(function*() {
      const driver = yield* makeTestDriver(topologyOf([makeRecordingSink<string>("a")]), partitionsOf(1))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }])
      yield* driver.advance(50)
      yield* driver.failSource(new KafkaError({ op: "fetch", cause: new Error("no broker answers") }))
      yield* driver.advance(100)
      expect(failureOf(driver.outcome()!)).toMatchObject({ _tag: "KafkaError", op: "fetch" })
    })))

  it("with --until-idle, ends once every partition is committed and quiet", () =>
    test(Effect.gen(function*() {
      const sink = makeRecordingSink<string>("a")
      const driver = yield* makeTestDriver(topologyOf([sink], { maxAgeMs: 60_000 }), partitionsOf(2), { untilIdleMs: 500, flushWhenCaughtUp: true })
      yield* driver.pipe(TOPIC, 0, values(40))
      yield* driver.pipe(TOPIC, 1, values(40))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* driver.advance(300)
      expect(driver.outcome()).toBeUndefined()
      yield* driver.advance(1_500)
      const outcome = driver.outcome()
      expect(outcome !== undefined && Exit.isSuccess(outcome) && outcome.value).toMatchObject({ reason: "idle", records: 80 })
    })))
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
    batch: { topic: TOPIC, partition: 0, records: values(n).map((v, offset) => ({ offset, timestamp: 0, key: null, value: Buffer.from(v) })), nextOffset: n, endOffset: n, logStartOffset: 0, fetchedAt: 0 }
  })

  it("never commits once the interruption returned, when its commit had not reached its write", () =>
    test(Effect.gen(function*() {
      const writing = yield* Deferred.make<void>()
      const sink = makeRecordingSink<string>("a", { beforeWrite: () => Deferred.succeed(writing, undefined).pipe(Effect.andThen(Effect.never)) })
      const queue = yield* Queue.bounded<SourceEvent>(4)
      yield* Queue.offer(queue, batch(10))
      const fiber = yield* Effect.forkChild(loop(sink, queue))
      yield* Deferred.await(writing)
      yield* Fiber.interrupt(fiber)
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
      yield* TestClock.adjust(1_000)
      expect(sink.commits).toEqual([])
    })))

  it("waits for a commit already writing, so that it lands before the interruption returns", () =>
    test(Effect.gen(function*() {
      const writing = yield* Deferred.make<void>()
      const sink = makeRecordingSink<string>("a", { whileWriting: () => Deferred.succeed(writing, undefined).pipe(Effect.andThen(Effect.sleep("300 millis"))) })
      const queue = yield* Queue.bounded<SourceEvent>(4)
      yield* Queue.offer(queue, batch(10))
      const fiber = yield* Effect.forkChild(loop(sink, queue))
      yield* Deferred.await(writing)
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(fiber))
      yield* TestClock.adjust(100)
      expect(sink.commits).toEqual([])
      yield* TestClock.adjust(300)
      yield* Fiber.join(interrupting)
      // Returned: the commit that was writing has landed, and nothing comes after it.
      expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 9]])
      yield* TestClock.adjust(1_000)
      expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 9]])
    })))
})
