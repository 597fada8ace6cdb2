import { Effect, Exit, Result } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import type { Decisions } from "../../src/topology/Decisions.ts"
import { heldBytesOf, MemoryBudget } from "../../src/topology/MemoryBudget.ts"
import { makeRecordingSink, makeTestDriver, type RecordingSink } from "../../src/topology/TestDriver.ts"
import type { Topology } from "../../src/topology/Topology.ts"

const TOPIC = "t"
const PARTITIONS = 4
const PER_PARTITION = 3_000

const accept: Decisions<string> = {
  version: 1,
  content: "{}",
  decode: (json) => Result.succeed(String(json)),
  policy: { maxMessageBytes: 1024 },
  state: undefined,
  summary: "accept all"
}

/** Windows that close only at drain: a minute old, a million records. */
const topologyOf = (sink: RecordingSink<string>): Topology => ({
  flows: [{ topic: TOPIC, decisions: { current: () => accept, restore: () => accept }, sinks: [sink] }],
  window: { maxRecords: 1_000_000, maxBytes: 1 << 30, maxAgeMs: 60_000 }
})

const values = (partition: number) => Array.from({ length: PER_PARTITION }, (_, i) => JSON.stringify(`p${partition}-${i}`))
/** What one fetch of the driver (500 records) is charged, at most. */
const batchBytes = 500 * heldBytesOf({ offset: 0, timestamp: 0, key: null, value: Buffer.from(JSON.stringify(`p0-${PER_PARTITION}`)) })

const test = <A, E>(program: Effect.Effect<A, E, import("effect").Scope.Scope>) =>
  Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestClock.layer())))

const committedOffsets = (sink: RecordingSink<string>, partition: number) =>
  sink.commits.filter((c) => c.partition === partition).flatMap((c) => Array.from({ length: c.to - c.from + 1 }, (_, i) => c.from + i))

/** Pipes every partition, assigns them all, and runs until every record is committed (or 60 s of test time). */
const runAll = (budget: MemoryBudget | undefined, untilCommitted: boolean) =>
  Effect.gen(function*() {
    const sink = makeRecordingSink<string>("a")
    const driver = yield* makeTestDriver(topologyOf(sink), new Map([[TOPIC, PARTITIONS]]), budget === undefined ? {} : { budget })
    for (let p = 0; p < PARTITIONS; p++) yield* driver.pipe(TOPIC, p, values(p))
    yield* driver.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition })))
    const committed = () => sink.commits.reduce((n, c) => n + c.to - c.from + 1, 0)
    if (untilCommitted) yield* driver.advanceUntil(() => committed() === PARTITIONS * PER_PARTITION, 60_000)
    else yield* driver.advance(2_000)
    const beforeDrain = sink.commits.length
    const summary = yield* driver.drain
    return { sink, beforeDrain, summary }
  })

describe("the memory budget", () => {
  it("without one, windows that close only at drain hold every partition's records at once", () =>
    test(Effect.gen(function*() {
      const { sink, beforeDrain } = yield* runAll(undefined, false)
      expect(beforeDrain).toBe(0)
      expect(sink.commits).toHaveLength(PARTITIONS)
    })))

  it("when reached, closes the fullest windows early and pauses fetching; every record is committed once, in order", () =>
    test(Effect.gen(function*() {
      // Room for a little over two fetches: four partitions of 3,000 records cannot all be held.
      const budget = new MemoryBudget(Math.round(2.2 * batchBytes))
      const { sink, beforeDrain, summary } = yield* runAll(budget, true)
      expect(Exit.isSuccess(summary) && summary.value).toMatchObject({ reason: "drained", records: PARTITIONS * PER_PARTITION })
      // Everything was committed before the drain, in windows the budget closed.
      expect(beforeDrain).toBe(sink.commits.length)
      expect(budget.closedEarly).toBeGreaterThanOrEqual(PARTITIONS)
      expect(budget.fetchPauses).toBeGreaterThan(0)
      for (let p = 0; p < PARTITIONS; p++) {
        // Contiguous windows from 0 to the end: no offset twice, none missing.
        expect(committedOffsets(sink, p)).toEqual(Array.from({ length: PER_PARTITION }, (_, i) => i))
        expect(sink.commits.filter((c) => c.partition === p).flatMap((c) => c.values)).toEqual(values(p).map((v) => JSON.parse(v)))
      }
      // Held at most the budget and one fetch over it (a fetch is admitted while any room is left).
      expect(budget.peakBytes).toBeLessThanOrEqual(budget.limitBytes + batchBytes)
      expect(budget.usedBytes).toBe(0)
    })))

  it("lets go of what a revoked partition held", () =>
    test(Effect.gen(function*() {
      const budget = new MemoryBudget(100 * batchBytes)
      const sink = makeRecordingSink<string>("a")
      const driver = yield* makeTestDriver(topologyOf(sink), new Map([[TOPIC, 2]]), { budget })
      yield* driver.pipe(TOPIC, 0, values(0))
      yield* driver.pipe(TOPIC, 1, values(1))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* driver.advance(200)
      expect(budget.usedBytes).toBeGreaterThan(0)
      yield* driver.assign([{ topic: TOPIC, partition: 1 }])
      yield* driver.advance(200)
      // Partition 1's window alone is held: all of its records, nothing of partition 0.
      expect(budget.usedBytes).toBe(values(1).reduce((n, v) => n + heldBytesOf({ offset: 0, timestamp: 0, key: null, value: Buffer.from(v) }), 0))
      yield* driver.assign([])
      yield* driver.advance(200)
      expect(budget.usedBytes).toBe(0)
      expect(budget.closedEarly).toBe(0)
    })))

  it("admits the partitions that fit, at least one while there is room, taking turns", () => {
    const budget = new MemoryBudget(10_000)
    const raw = 1_000
    const record = { offset: 0, timestamp: 0, key: null, value: Buffer.alloc(raw) }
    budget.fetched("t/9", [record])
    const charged = heldBytesOf(record)
    expect(budget.usedBytes).toBe(charged)
    const fits = Math.floor((10_000 - charged) / charged)
    const first = budget.admit(["a", "b", "c", "d", "e", "f", "g", "h"], raw)
    expect(first).toHaveLength(Math.max(1, fits))
    expect(budget.admit(["a", "b", "c", "d", "e", "f", "g", "h"], raw)[0]).not.toBe(first[0])
    budget.fetched("t/9", Array.from({ length: 10 }, () => record))
    expect(budget.admit(["a"], raw)).toEqual([])
    budget.forgetQueued("t/9")
    expect(budget.usedBytes).toBe(0)
    expect(budget.admit(["a", "b"], raw)).toEqual(["a", "b"])
  })
})
