import { Clock, Effect, Result } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { BulkHistogram } from "../../src/ops/BulkHistogram.ts"
import { liveFrom, parseMetrics, type Sample } from "../../src/ops/Live.ts"
import { dependencyOf, makeMetrics } from "../../src/ops/Metrics.ts"
import type { Decisions, DecisionSource } from "../../src/topology/Decisions.ts"
import { heldBytesOf, MemoryBudget } from "../../src/topology/MemoryBudget.ts"
import { SinkFenced } from "../../src/topology/Sink.ts"
import { makeRecordingSink, makeTestDriver, type RecordingSink } from "../../src/topology/TestDriver.ts"
import type { Topology } from "../../src/topology/Topology.ts"

const TOPIC = "t"

const lenient: Decisions<string> = {
  version: 1,
  content: "{}",
  decode: (json) => Result.succeed(String(json)),
  policy: { maxMessageBytes: 1024 },
  state: undefined,
  summary: "lenient"
}
const decisions: DecisionSource<string> = { current: () => lenient, restore: () => lenient }

const topologyOf = (sinks: ReadonlyArray<RecordingSink<string>>, maxRecords = 1_000): Topology => ({
  flows: [{ topic: TOPIC, decisions, sinks }],
  window: { maxRecords, maxBytes: 1 << 30, maxAgeMs: 200 }
})

const test = <A, E>(program: Effect.Effect<A, E, import("effect").Scope.Scope>) =>
  Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestClock.layer())))

/** The value of one sample, or undefined when the exposition has no such series. */
const valueOf = (samples: ReadonlyArray<Sample>, name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value

const values = (n: number) => Array.from({ length: n }, (_, i) => (i % 100 === 7 ? null : JSON.stringify(`v${i}`)))

describe("metrics fed by the runtime's observer", () => {
  it("count what the runtime consumed and every sink committed, with dead letters by kind, lag and latency", () =>
    test(Effect.gen(function*() {
      let now = 0
      const metrics = makeMetrics({ group: "g", now: () => now, processMetrics: false })
      const a = makeRecordingSink<string>("a")
      const b = makeRecordingSink<string>("b")
      metrics.watchSinks(["a", "b"])
      expect(metrics.readiness()).toEqual({ ready: false, reason: "not a member of group g yet" })
      const driver = yield* makeTestDriver(topologyOf([a, b]), new Map([[TOPIC, 2]]), { observer: metrics.observer })
      yield* driver.pipe(TOPIC, 0, values(2_500))
      yield* driver.pipe(TOPIC, 1, values(300))
      yield* TestClock.adjust(1_500)
      yield* driver.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* driver.advance(1_000)
      now = yield* Clock.currentTimeMillis
      const samples = parseMetrics(yield* Effect.promise(() => metrics.text()))
      // 25 + 3 records have a null value: dead letters of kind `empty`.
      expect(valueOf(samples, "sluice_messages_consumed_total", { topic: TOPIC })).toBe(2_800)
      expect(valueOf(samples, "sluice_messages_committed_total", { topic: TOPIC, sink: "a" })).toBe(2_800)
      expect(valueOf(samples, "sluice_messages_committed_total", { topic: TOPIC, sink: "b" })).toBe(2_800)
      expect(valueOf(samples, "sluice_dead_letters_total", { topic: TOPIC, kind: "empty" })).toBe(28)
      expect(valueOf(samples, "sluice_windows_committed_total", { topic: TOPIC, sink: "a" })).toBe(4)
      expect(valueOf(samples, "sluice_partition_lag_messages", { topic: TOPIC, partition: "0" })).toBe(0)
      expect(valueOf(samples, "sluice_partition_lag_seconds", { topic: TOPIC, partition: "0" })).toBe(0)
      expect(valueOf(samples, "sluice_partition_end_offset", { topic: TOPIC, partition: "0" })).toBe(2_500)
      expect(valueOf(samples, "sluice_partition_committed_offset", { topic: TOPIC, partition: "1" })).toBe(300)
      expect(valueOf(samples, "sluice_assigned_partitions")).toBe(2)
      expect(valueOf(samples, "sluice_ready")).toBe(1)
      // Every message's latency: its window committed at least 1.5 s of test time after it was stamped.
      expect(valueOf(samples, "sluice_end_to_end_latency_seconds_count", { sink: "a" })).toBe(2_800)
      expect(valueOf(samples, "sluice_end_to_end_latency_seconds_bucket", { sink: "a", le: "1" })).toBe(0)
      expect(valueOf(samples, "sluice_end_to_end_latency_seconds_bucket", { sink: "a", le: "5" })).toBe(2_800)
      expect(valueOf(samples, "sluice_commit_duration_seconds_count", { sink: "b" })).toBe(4)
      // Windows counted once, when the slower sink committed them: 1,000 + 1,000 + 500 + 300.
      expect(valueOf(samples, "sluice_window_records_count")).toBe(4)
      expect(valueOf(samples, "sluice_window_records_sum")).toBe(2_800)
      expect(metrics.backlog()).toEqual({ done: 2_800, total: 2_800 })
      expect(metrics.readiness()).toEqual({ ready: true, reason: "member of group g with 2 partitions recovered" })
      const live = liveFrom(samples, now)
      expect(live.consumed).toBe(2_800)
      expect(live.committed).toEqual({ a: 2_800, b: 2_800 })
      expect(live.partitions.map((p) => [p.partition, p.endOffset, p.committedOffset, p.lagMessages])).toEqual([[0, 2_500, 2_500, 0], [1, 300, 300, 0]])
    })))

  it("measure lag in messages and seconds while a partition is behind", () =>
    test(Effect.gen(function*() {
      let now = 0
      const metrics = makeMetrics({ group: "g", now: () => now, processMetrics: false })
      // Commits wait until `open` is set: the partition falls behind while they do.
      let open = false
      const slow = makeRecordingSink<string>("slow", { beforeWrite: () => Effect.suspend(() => (open ? Effect.void : Effect.never)) })
      metrics.watchSinks(["slow"])
      const driver = yield* makeTestDriver(topologyOf([slow], 10_000), new Map([[TOPIC, 1]]), { observer: metrics.observer })
      yield* driver.pipe(TOPIC, 0, values(1_000))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }])
      yield* driver.advance(300)
      now = (yield* Clock.currentTimeMillis) + 4_000
      const behind = parseMetrics(yield* Effect.promise(() => metrics.text()))
      expect(valueOf(behind, "sluice_partition_lag_messages", { partition: "0" })).toBe(1_000)
      expect(valueOf(behind, "sluice_partition_lag_seconds", { partition: "0" })).toBeCloseTo(4.3, 1)
      expect(metrics.backlog()).toEqual({ done: 0, total: 1_000 })
      open = true
      yield* driver.drain
    })))

  it("count fences and retries, and are not ready while a dependency is waited for", () =>
    test(Effect.gen(function*() {
      const metrics = makeMetrics({ group: "g", processMetrics: false })
      let fenced = false
      const sink = makeRecordingSink<string>("lake", {
        whileWriting: (c) =>
          fenced ? Effect.void : Effect.fail(new SinkFenced({ sink: "lake", topic: TOPIC, partition: c.partition, detail: "another writer" })).pipe(Effect.ensuring(Effect.sync(() => (fenced = true))))
      })
      metrics.watchSinks(["lake"])
      const driver = yield* makeTestDriver(topologyOf([sink], 10), new Map([[TOPIC, 1]]), { observer: metrics.observer, fencedBackoffMs: 100 })
      yield* driver.pipe(TOPIC, 0, values(10))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }])
      yield* driver.advance(1_000)
      metrics.observer.retrying("lake: commit transaction_stream t/0 0..9", "ENOSPC: no space left on device")
      metrics.observer.retrying("fetch", "connection refused")
      expect(metrics.readiness()).toEqual({
        ready: false,
        reason: "waiting for lake: commit transaction_stream t/0 0..9: ENOSPC: no space left on device; waiting for fetch: connection refused"
      })
      metrics.observer.restored("lake: commit transaction_stream t/0 0..9")
      metrics.observer.restored("fetch")
      expect(metrics.readiness().ready).toBe(true)
      const samples = parseMetrics(yield* Effect.promise(() => metrics.text()))
      expect(valueOf(samples, "sluice_fenced_commits_total", { topic: TOPIC, sink: "lake" })).toBe(1)
      expect(valueOf(samples, "sluice_dependency_retries_total", { dependency: "lake" })).toBe(1)
      expect(valueOf(samples, "sluice_dependency_retries_total", { dependency: "kafka" })).toBe(1)
      expect(sink.commits.map((c) => [c.from, c.to])).toEqual([[0, 9]])
    })))

  it("report the memory budget's use and size, and the windows it closed early", () =>
    test(Effect.gen(function*() {
      const metrics = makeMetrics({ group: "g", processMetrics: false })
      const a = makeRecordingSink<string>("a")
      metrics.watchSinks(["a"])
      const idle = parseMetrics(yield* Effect.promise(() => metrics.text()))
      expect(valueOf(idle, "sluice_memory_budget_bytes", {})).toBe(0)
      // A budget of a few records: windows of 1,000 records close early, in the budget's turn.
      const budget = new MemoryBudget(40 * heldBytesOf({ offset: 0, timestamp: 0, key: null, value: Buffer.from(values(1)[0]!) }))
      metrics.watchBudget(budget)
      const driver = yield* makeTestDriver(topologyOf([a], 1_000), new Map([[TOPIC, 2]]), { observer: metrics.observer, budget })
      yield* driver.pipe(TOPIC, 0, values(300))
      yield* driver.pipe(TOPIC, 1, values(300))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* driver.advance(100)
      const samples = parseMetrics(yield* Effect.promise(() => metrics.text()))
      expect(valueOf(samples, "sluice_memory_budget_bytes", {})).toBe(budget.limitBytes)
      expect(valueOf(samples, "sluice_memory_budget_used_bytes", {})).toBe(budget.usedBytes)
      expect(valueOf(samples, "sluice_windows_closed_early_total", {})).toBe(budget.closedEarly)
      expect(budget.closedEarly).toBeGreaterThan(0)
    })))

  it("tell which dependency a retried operation waits for", () => {
    expect(dependencyOf("warehouse: commit t/0 0..9")).toBe("warehouse")
    expect(dependencyOf("lake: read t/1")).toBe("lake")
    expect(dependencyOf("kafka: send")).toBe("kafka")
    expect(dependencyOf("join group sluice")).toBe("kafka")
    expect(dependencyOf("fetch")).toBe("kafka")
    expect(dependencyOf("something else")).toBe("other")
  })

  it("are not ready before the sinks are open, and after a revoke forget the partition", () => {
    const metrics = makeMetrics({ group: "g", processMetrics: false })
    expect(metrics.readiness()).toEqual({ ready: false, reason: "starting: opening the sinks" })
    metrics.watchSinks(["lake"])
    metrics.observer.assigned([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
    metrics.observer.recovered({ topic: TOPIC, partition: 1 }, 5)
    expect(metrics.readiness()).toEqual({ ready: false, reason: "recovering 1 of 2 assigned partitions: t/0" })
    metrics.observer.revoked({ topic: TOPIC, partition: 0 })
    expect(metrics.readiness().ready).toBe(true)
    // Joined with no partition (more members than partitions): ready, with nothing to do.
    metrics.observer.assigned([])
    expect(metrics.readiness()).toEqual({ ready: true, reason: "member of group g with 0 partitions recovered" })
  })

  it("include Node's process metrics when asked", async () => {
    const samples = parseMetrics(await makeMetrics({ group: "g" }).text())
    expect(valueOf(samples, "process_cpu_seconds_total")).toBeGreaterThan(0)
    expect(valueOf(samples, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0)
  })
})

describe("the bulk histogram", () => {
  it("buckets a window's latencies cumulatively, with their sum and count", async () => {
    const h = new BulkHistogram({ name: "x_seconds", help: "x", labelNames: ["sink"], buckets: [1, 5] })
    h.observeSince({ sink: "lake" }, 10_000, [9_500, 9_000, 7_000, 2_000])
    const { values } = await h.get()
    const bucket = (le: string | number) => values.find((v) => v.metricName === "x_seconds_bucket" && v.labels.le === le)?.value
    expect([bucket(1), bucket(5), bucket("+Inf")]).toEqual([2, 3, 4])
    expect(values.find((v) => v.metricName === "x_seconds_sum")?.value).toBe(0.5 + 1 + 3 + 8)
    expect(values.find((v) => v.metricName === "x_seconds_count")?.value).toBe(4)
  })
})

describe("the Prometheus text parser", () => {
  it("reads names, escaped labels and special values, and skips comments", () => {
    const samples = parseMetrics([
      "# HELP a_total an a",
      "# TYPE a_total counter",
      "a_total{topic=\"t\",kind=\"quote \\\" and \\\\ back\"} 3",
      "b_bucket{le=\"+Inf\"} 7",
      "c NaN",
      "d +Inf",
      ""
    ].join("\n"))
    expect(samples[0]).toEqual({ name: "a_total", labels: { topic: "t", kind: "quote \" and \\ back" }, value: 3 })
    expect(samples[1]).toEqual({ name: "b_bucket", labels: { le: "+Inf" }, value: 7 })
    expect(Number.isNaN(samples[2]!.value)).toBe(true)
    expect(samples[3]!.value).toBe(Infinity)
    expect(samples).toHaveLength(4)
  })
})
