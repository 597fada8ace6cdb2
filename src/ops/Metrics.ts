/**
 * The service's Prometheus metrics and readiness, fed by the runtime's observer: one prom-client
 * registry with messages consumed and committed, dead letters, lag, commit and end-to-end latency.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client"
import type { MemoryBudget } from "../topology/MemoryBudget.ts"
import type { DeadLetterKind } from "../topology/Record.ts"
import type { ObservedPartition, Observer } from "../topology/Observer.ts"
import { BulkHistogram } from "./BulkHistogram.ts"

/** Whether the service can take its share of the work now, and if not, why. */
export interface Readiness {
  readonly ready: boolean
  readonly reason: string
}

/** What a progress display needs: messages committed by every sink since the start, and that plus what is left. */
export interface Backlog {
  readonly done: number
  /** `done` plus the offsets between every sink's commit and Kafka's end, over the assigned partitions. */
  readonly total: number
}

export interface Metrics {
  readonly registry: Registry
  readonly observer: Observer
  /** The Prometheus text exposition of every metric. */
  readonly text: () => Promise<string>
  readonly readiness: () => Readiness
  /** Undefined until Kafka's end of an assigned partition is known. */
  readonly backlog: () => Backlog | undefined
  /** Names the topology's sinks (once they are open): a window is committed once all of them committed it. */
  readonly watchSinks: (names: ReadonlyArray<string>) => void
  /** Reports the memory budget's use, size and early window closes (zero until given). */
  readonly watchBudget: (budget: MemoryBudget) => void
}

export interface MetricsOptions {
  readonly group: string
  /** Epoch millis (the lag in seconds is measured against it). */
  readonly now?: (() => number) | undefined
  /** Collect Node's process metrics (CPU, memory, event loop lag, GC) too (default true). */
  readonly processMetrics?: boolean | undefined
}

/**
 * End-to-end latency buckets, in seconds: every 25 ms up to half a second (small windows are read
 * there, their p99 interpolated within 25 ms), then up to an hour (a backlog read late).
 */
export const LATENCY_BUCKETS = [
  ...Array.from({ length: 20 }, (_, i) => (i + 1) * 25 / 1000),
  0.75, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600
]
export const COMMIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
export const WINDOW_RECORD_BUCKETS = [1, 10, 100, 1_000, 10_000, 50_000, 100_000, 500_000]
export const WINDOW_BYTE_BUCKETS = [1024, 16_384, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864, 268_435_456]

/** Which dependency a retried operation waits for, from the name `waitOut` was given. */
export const dependencyOf = (what: string): string => {
  const prefix = /^(lake|warehouse|kafka):/.exec(what)
  if (prefix !== null) return prefix[1]!
  return /^(fetch|join group)\b/.test(what) ? "kafka" : "other"
}

interface PartitionState {
  readonly tp: ObservedPartition
  recovered: boolean
  end: number | undefined
  /** Next offset each sink needs. */
  readonly next: Map<string, number>
  /** Fetched batches not yet committed by every sink: their end and first record's timestamp. */
  readonly pending: Array<{ readonly nextOffset: number; readonly firstTimestamp: number }>
}

const keyOf = (tp: ObservedPartition) => `${tp.topic}/${tp.partition}`

export const makeMetrics = (options: MetricsOptions): Metrics => {
  const now = options.now ?? Date.now
  const registry = new Registry()
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const partitions = new Map<string, PartitionState>()
  const outages = new Map<string, string>()
  let joined = false
  let sinks: ReadonlyArray<string> = []
  let committedTotal = 0
  let budget: MemoryBudget | undefined

  const committedOf = (p: PartitionState): number | undefined => {
    if (sinks.length === 0 || p.next.size < sinks.length) return undefined
    return Math.min(...p.next.values())
  }

  const consumed = new Counter({ name: "sluice_messages_consumed_total", help: "Messages fetched and decoded (valid and dead letters), per topic", labelNames: ["topic"], registers })
  const committed = new Counter({
    name: "sluice_messages_committed_total",
    help: "Messages (valid and dead letters) in windows a sink committed, per topic and sink",
    labelNames: ["topic", "sink"],
    registers
  })
  const feedRows = new Counter({
    name: "sluice_feed_rows_committed_total",
    help: "Rows a sink's table committed, per feed (the lake's streams and dead letters)",
    labelNames: ["sink", "feed"],
    registers
  })
  const deadLetters = new Counter({ name: "sluice_dead_letters_total", help: "Messages that could not be decoded, per topic and kind", labelNames: ["topic", "kind"], registers })
  const windows = new Counter({ name: "sluice_windows_committed_total", help: "Windows committed, per topic and sink", labelNames: ["topic", "sink"], registers })
  const fenced = new Counter({ name: "sluice_fenced_commits_total", help: "Commits refused because another writer got the partition first", labelNames: ["topic", "sink"], registers })
  const retries = new Counter({ name: "sluice_dependency_retries_total", help: "Retries of an operation on a lost dependency (kafka, lake, warehouse)", labelNames: ["dependency"], registers })
  const commitDuration = new Histogram({
    name: "sluice_commit_duration_seconds",
    help: "How long a sink's commit of a window took",
    labelNames: ["sink"],
    buckets: COMMIT_BUCKETS,
    registers
  })
  const windowRecords = new Histogram({ name: "sluice_window_records", help: "Messages per committed window", buckets: WINDOW_RECORD_BUCKETS, registers })
  const windowBytes = new Histogram({ name: "sluice_window_bytes", help: "Bytes of message values per committed window", buckets: WINDOW_BYTE_BUCKETS, registers })
  const latency = new BulkHistogram({
    name: "sluice_end_to_end_latency_seconds",
    help: "From a message's Kafka timestamp to the sink's commit of its window, per message",
    labelNames: ["sink"],
    buckets: LATENCY_BUCKETS
  })
  registry.registerMetric(latency as never)

  const perPartition = (name: string, help: string, value: (p: PartitionState) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ["topic", "partition"],
      registers,
      collect() {
        this.reset()
        for (const p of partitions.values()) {
          const v = value(p)
          if (v !== undefined) this.set({ topic: p.tp.topic, partition: p.tp.partition }, v)
        }
      }
    })
  const lagOf = (p: PartitionState) => {
    const c = committedOf(p)
    return p.end === undefined || c === undefined ? undefined : Math.max(0, p.end - c)
  }
  perPartition("sluice_partition_lag_messages", "Offsets between Kafka's end and every sink's commit, per assigned partition", lagOf)
  perPartition("sluice_partition_lag_seconds", "Age of the oldest fetched message not yet committed by every sink (0 when caught up)", (p) => {
    const lag = lagOf(p)
    if (lag === undefined) return undefined
    const oldest = p.pending[0]
    return lag === 0 || oldest === undefined ? 0 : Math.max(0, (now() - oldest.firstTimestamp) / 1000)
  })
  perPartition("sluice_partition_end_offset", "Kafka's end (last stable offset) of the partition, as last fetched", (p) => p.end)
  perPartition("sluice_partition_committed_offset", "Next offset of the partition not yet committed by every sink", committedOf)
  new Gauge({
    name: "sluice_assigned_partitions",
    help: "Partitions the group gave this member",
    registers,
    collect() {
      this.set(partitions.size)
    }
  })
  new Gauge({
    name: "sluice_memory_budget_used_bytes",
    help: "Bytes the memory budget counts as held: fetched batches not yet decoded, open windows, windows being committed",
    registers,
    collect() {
      this.set(budget?.usedBytes ?? 0)
    }
  })
  new Gauge({
    name: "sluice_memory_budget_bytes",
    help: "The memory budget (SLUICE_MEMORY_MB) windows and fetches share over every partition",
    registers,
    collect() {
      this.set(budget === undefined || !Number.isFinite(budget.limitBytes) ? 0 : budget.limitBytes)
    }
  })
  new Counter({
    name: "sluice_windows_closed_early_total",
    help: "Windows closed before their own limits because the memory budget was reached",
    registers,
    collect() {
      this.reset()
      this.inc(budget?.closedEarly ?? 0)
    }
  })
  const readiness = (): Readiness => {
    if (sinks.length === 0) return { ready: false, reason: "starting: opening the sinks" }
    if (!joined) return { ready: false, reason: `not a member of group ${options.group} yet` }
    const recovering = [...partitions.values()].filter((p) => !p.recovered).map((p) => keyOf(p.tp))
    if (recovering.length > 0) return { ready: false, reason: `recovering ${recovering.length} of ${partitions.size} assigned partitions: ${recovering.join(", ")}` }
    if (outages.size > 0) return { ready: false, reason: [...outages].map(([what, error]) => `waiting for ${what}: ${error}`).join("; ") }
    return { ready: true, reason: `member of group ${options.group} with ${partitions.size} partitions recovered` }
  }
  new Gauge({
    name: "sluice_ready",
    help: "1 when /readyz answers 200: joined, every assigned partition recovered, no dependency being waited for",
    registers,
    collect() {
      this.set(readiness().ready ? 1 : 0)
    }
  })

  const stateOf = (tp: ObservedPartition): PartitionState => {
    const key = keyOf(tp)
    let p = partitions.get(key)
    if (p === undefined) {
      p = { tp: { topic: tp.topic, partition: tp.partition }, recovered: false, end: undefined, next: new Map(), pending: [] }
      partitions.set(key, p)
    }
    return p
  }

  const observer: Observer = {
    assigned: (tps) => {
      joined = true
      const wanted = new Set(tps.map(keyOf))
      for (const key of partitions.keys()) if (!wanted.has(key)) partitions.delete(key)
      for (const tp of tps) stateOf(tp)
    },
    recovered: (tp, from) => {
      const p = stateOf(tp)
      p.recovered = true
      p.end = undefined
      p.pending.length = 0
      for (const sink of sinks) p.next.set(sink, from)
    },
    revoked: (tp) => {
      partitions.delete(keyOf(tp))
    },
    batchDecoded: (batch) => {
      consumed.inc({ topic: batch.topic }, batch.records)
      const p = partitions.get(keyOf(batch))
      if (p === undefined) return
      p.end = batch.endOffset
      if (batch.firstTimestamp !== undefined) p.pending.push({ nextOffset: batch.nextOffset, firstTimestamp: batch.firstTimestamp })
    },
    endOffsets: (ends) => {
      for (const [key, end] of ends) {
        const p = partitions.get(key)
        if (p !== undefined && end >= 0 && (p.end === undefined || end > p.end)) p.end = end
      }
    },
    deadLetter: (tp, kind: DeadLetterKind) => {
      deadLetters.inc({ topic: tp.topic, kind })
    },
    windowCommitted: (w) => {
      const messages = w.records + w.deadLetters
      committed.inc({ topic: w.topic, sink: w.sink }, messages)
      windows.inc({ topic: w.topic, sink: w.sink })
      commitDuration.observe({ sink: w.sink }, w.durationMs / 1000)
      latency.observeSince({ sink: w.sink }, w.committedAt, w.timestamps)
      const p = partitions.get(keyOf(w))
      if (p === undefined) return
      const before = committedOf(p)
      p.next.set(w.sink, w.to + 1)
      const after = committedOf(p)
      if (after !== undefined && before !== undefined && after > before) {
        // The window is committed by every sink once the slowest one is done: count it once.
        committedTotal += messages
        windowRecords.observe(messages)
        windowBytes.observe(w.bytes)
        while (p.pending.length > 0 && p.pending[0]!.nextOffset <= after) p.pending.shift()
      }
    },
    tableCommitted: (t) => {
      feedRows.inc({ sink: t.sink, feed: t.table }, t.rows)
    },
    fenced: (tp, sink) => {
      fenced.inc({ topic: tp.topic, sink })
    },
    retrying: (what, error) => {
      retries.inc({ dependency: dependencyOf(what) })
      outages.set(what, error)
    },
    restored: (what) => {
      outages.delete(what)
    }
  }

  return {
    registry,
    observer,
    text: () => registry.metrics(),
    readiness,
    watchSinks: (names) => {
      sinks = [...names]
    },
    watchBudget: (b) => {
      budget = b
    },
    backlog: () => {
      let left: number | undefined
      for (const p of partitions.values()) {
        const lag = lagOf(p)
        if (lag !== undefined) left = (left ?? 0) + lag
      }
      return left === undefined ? undefined : { done: committedTotal, total: committedTotal + left }
    }
  }
}
