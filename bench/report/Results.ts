/**
 * The shape of a bench result (bench/results/*.json) and how repeated runs of a scenario become
 * one figure: medians of the rates, the worst peak RSS, ratios to the ceiling, the baselines and the peers.
 */
import type { Machine } from "../harness/Machine.ts"
import { median, round } from "../harness/Stats.ts"

/** One run of a throughput scenario. */
export interface ThroughputRun {
  /** Messages the run read. */
  readonly messages: number
  /** The scenario's own rate: from its first fetched message to its last commit/write. */
  readonly msgPerSec: number
  /** `messages` over the process's wall time (start-up, group join and exit included). */
  readonly wallMsgPerSec: number
  readonly busySeconds: number
  readonly wallSeconds: number
  readonly cpuSeconds: number
  readonly peakRssMB: number
  /** Anything else the scenario measured (tool-specific figures). */
  readonly extra?: Readonly<Record<string, number | string | boolean>>
}

/** A run's figures: what the scenario counted, and what the process cost (from `Measured`). */
export const throughputRun = (
  run: { readonly wallMs: number; readonly cpuSeconds: number; readonly peakRssMB: number },
  counted: { readonly messages: number; readonly msgPerSec: number; readonly busySeconds: number; readonly extra?: ThroughputRun["extra"] }
): ThroughputRun => ({
  messages: counted.messages,
  msgPerSec: counted.msgPerSec,
  wallMsgPerSec: counted.messages / (run.wallMs / 1000),
  busySeconds: counted.busySeconds,
  wallSeconds: run.wallMs / 1000,
  cpuSeconds: run.cpuSeconds,
  peakRssMB: run.peakRssMB,
  ...(counted.extra === undefined ? {} : { extra: counted.extra })
})

export interface ThroughputResult {
  readonly messages: number
  readonly runs: number
  /** Median over the runs of `ThroughputRun.msgPerSec`. */
  readonly msgPerSec: number
  /** What `msgPerSec` measures, in words. */
  readonly msgPerSecMeasures: string
  /** Median over the runs of `ThroughputRun.wallMsgPerSec`. */
  readonly wallMsgPerSec: number
  readonly wallSeconds: number
  /** Message values (not keys) per second at `msgPerSec`, in MB (10^6 bytes). */
  readonly mbPerSec: number
  /** Median CPU seconds (user + system, the whole process) per million messages read. */
  readonly cpuSecondsPerMillion: number
  /** Largest peak RSS over the runs. */
  readonly peakRssMB: number
  /** The same figure under the name the peers and the whole bench use for it. */
  readonly rssMaxMB: number
  ratioToCeiling?: number
  /** Against `baseline` (naive consumer with one INSERT per message). */
  ratioToBaseline?: number
  /** Against `baseline-lake` (the naive consumer writing Parquet only). */
  ratioToBaselineLake?: number
  readonly note?: string
  readonly samples: ReadonlyArray<ThroughputRun>
}

export type ScenarioResult = ThroughputResult | { readonly skipped: string } | { readonly failed: string }

export const isMeasured = (r: ScenarioResult | undefined): r is ThroughputResult => r !== undefined && "msgPerSec" in r

/** Sluice's `lake` scenario against a peer: each figure of `lake` ÷ the peer's. */
export interface LakeRatios {
  /** msg/s: above 1, Sluice lands the topic faster. */
  readonly throughput: number
  /** CPU seconds per million messages: below 1, Sluice spends less CPU per message. */
  readonly cpuPerMessage: number
  /** Peak RSS: below 1, Sluice needs less memory. */
  readonly memory: number
}

/** Another program doing the lake's job on the same topic, measured as the scenarios are. */
export interface PeerResult {
  /** What runs, in words. */
  readonly description: string
  readonly messages: number
  readonly runs: number
  /** Median over the runs of `ThroughputRun.msgPerSec`. */
  readonly msgPerSec: number
  readonly msgPerSecMeasures: string
  readonly wallMsgPerSec: number
  readonly wallSeconds: number
  readonly mbPerSec: number
  readonly cpuSecondsPerMillion: number
  /** Largest peak RSS over the runs. */
  readonly rssMaxMB: number
  /** Set when `lake` ran in the same invocation. */
  lakeRatios?: LakeRatios
  readonly samples: ReadonlyArray<ThroughputRun>
}

export type PeerEntry = PeerResult | { readonly skipped: string } | { readonly failed: string }

export const isPeerMeasured = (r: PeerEntry | undefined): r is PeerResult => r !== undefined && "msgPerSec" in r

export interface LatencyResult {
  /** Offered load, messages per second. */
  readonly rate: number
  readonly seconds: number
  readonly produced: number
  /** Rows of transaction_stream the percentiles are computed over. */
  readonly rows: number
  readonly windowMaxAgeMs: number
  /** maxAge + 250 ms. */
  readonly targetP99Ms: number
  readonly p50Ms: number
  readonly p95Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly metTarget: boolean
  /** Whether the lag (Kafka end − lake committed) trended up over the run; see `lagSlopePerSecond`. */
  readonly lagGrew: boolean
  readonly lagMax: number
  /** Least-squares slope of the lag samples while producing, messages per second. */
  readonly lagSlopePerSecond: number
  /** From the producer's last message to the lake having committed every offset. */
  readonly caughtUpAfterMs: number | null
  /** Percentiles of the last feed committed per window (transaction_flattened), for reference. */
  readonly lastFeed: { readonly feed: string; readonly p50Ms: number; readonly p95Ms: number; readonly p99Ms: number }
  readonly drainExitCode: number | null
  readonly cpuSeconds: number
  readonly peakRssMB: number
  /** [seconds since the producer started, lag] every second. */
  readonly lagSamples: ReadonlyArray<readonly [number, number]>
}

export type LatencyEntry = LatencyResult | { readonly skipped: string } | { readonly failed: string }

/** Produce → commit percentiles of one sink, in ms. */
export interface SinkLatency {
  readonly p50Ms: number
  readonly p95Ms: number
  readonly p99Ms: number
  /** Records the percentiles are computed over. */
  readonly samples: number
  /** The largest latency (the Delta log measure), or the upper bound of the highest non-empty bucket (the service's histogram). */
  readonly maxMs: number
  /** Share of the records committed within the target, in percent (exact: a bucket bound sits at the target). */
  readonly withinTargetPct?: number
  /** How it is measured. */
  readonly measuredBy: string
}

/** Live files of one stream table after the run, per day partition (from its Delta log). */
export interface FeedFiles {
  readonly maxPerPartition: number
  readonly partitions: Readonly<Record<string, number>>
}

/** The latency run with small windows, both sinks and compaction in the background. */
export interface LowWindowLatencyResult {
  readonly rate: number
  readonly seconds: number
  readonly produced: number
  /** The event times span this many days (`sluice produce --event-days`): live transactions fall in today's partition. */
  readonly eventDays: number
  readonly windowMaxAgeMs: number
  readonly sinks: string
  readonly targetP99Ms: number
  /** Every row of transaction_stream: its commit's `commitInfo.timestamp` − its `_kafka_timestamp`. */
  readonly lake: SinkLatency
  /** The service's `sluice_end_to_end_latency_seconds{sink="lake"}`: the whole lake sink's commit (every feed) − Kafka timestamp. */
  readonly lakeService: SinkLatency
  /** The service's `sluice_end_to_end_latency_seconds{sink="warehouse"}`: the MySQL COMMIT's return − Kafka timestamp. */
  readonly warehouse: SinkLatency
  readonly metTarget: boolean
  readonly lagGrew: boolean
  readonly lagMax: number
  readonly lagSlopePerSecond: number
  readonly caughtUpAfterMs: number | null
  readonly cpuSeconds: number
  readonly peakRssMB: number
  /** `sluice schedule` beside the service: its command, compaction runs and its own CPU. */
  readonly compaction: { readonly command: string; readonly runs: ReadonlyArray<string>; readonly cpuSeconds: number; readonly peakRssMB: number }
  /** Per stream table (and dead letters), after the run. */
  readonly files: Readonly<Record<string, FeedFiles>>
  /** Load average (1 min) when the run started and ended. */
  readonly loadAverage: readonly [number, number]
  readonly lagSamples: ReadonlyArray<readonly [number, number]>
}

export type LowWindowLatencyEntry = LowWindowLatencyResult | { readonly skipped: string } | { readonly failed: string }

export interface BenchResult {
  readonly date: string
  readonly commit: string
  readonly quick: boolean
  readonly machine: Machine
  readonly messages: number
  readonly topic: { readonly name: string; readonly partitions: number; readonly seed: number; readonly badRatio: number; readonly valueBytes: number; readonly avgValueBytes: number }
  readonly settings: Readonly<Record<string, string | number>>
  readonly scenarios: Readonly<Record<string, ScenarioResult>>
  /** Programs other than Sluice on the same topic (absent from results written before peers existed). */
  readonly peers?: Readonly<Record<string, PeerEntry>>
  readonly latency: Readonly<Record<string, LatencyEntry>>
  /** Latency with `SLUICE_WINDOW_MAX_AGE_MS=100`, lake and warehouse, compaction beside (absent from results written before it existed). */
  readonly latencyLowWindow?: Readonly<Record<string, LowWindowLatencyEntry>>
  /** Largest peak RSS of any `sluice run` of this bench (throughput and latency). */
  readonly rssMaxMB: number
  readonly elapsedSeconds: number
  readonly notes: ReadonlyArray<string>
}

/** Folds the runs of one scenario into its result. */
export const summarize = (
  runs: ReadonlyArray<ThroughputRun>,
  valueBytesPerMessage: number,
  msgPerSecMeasures: string,
  note?: string
): ThroughputResult => {
  const rate = median(runs.map((r) => r.msgPerSec))
  return {
    messages: runs[0]?.messages ?? 0,
    runs: runs.length,
    msgPerSec: round(rate),
    msgPerSecMeasures,
    wallMsgPerSec: round(median(runs.map((r) => r.wallMsgPerSec))),
    wallSeconds: round(median(runs.map((r) => r.wallSeconds)), 2),
    mbPerSec: round((rate * valueBytesPerMessage) / 1e6, 1),
    cpuSecondsPerMillion: round(median(runs.map((r) => (r.cpuSeconds / r.messages) * 1e6)), 1),
    peakRssMB: round(Math.max(...runs.map((r) => r.peakRssMB))),
    rssMaxMB: round(Math.max(...runs.map((r) => r.peakRssMB))),
    ...(note === undefined ? {} : { note }),
    samples: runs
  }
}

/** Adds each measured scenario's ratios to the ceiling and to the baselines. */
export const addRatios = (scenarios: Record<string, ScenarioResult>): void => {
  const ceiling = scenarios["ceiling"]
  const baseline = scenarios["baseline"]
  const baselineLake = scenarios["baseline-lake"]
  for (const result of Object.values(scenarios)) {
    if (!isMeasured(result)) continue
    if (isMeasured(ceiling)) result.ratioToCeiling = round(result.msgPerSec / ceiling.msgPerSec, 3)
    if (isMeasured(baseline)) result.ratioToBaseline = round(result.msgPerSec / baseline.msgPerSec, 2)
    if (isMeasured(baselineLake)) result.ratioToBaselineLake = round(result.msgPerSec / baselineLake.msgPerSec, 2)
  }
}

/** Folds the runs of a peer into its result, with the same medians as `summarize`. */
export const summarizePeer = (
  runs: ReadonlyArray<ThroughputRun>,
  valueBytesPerMessage: number,
  description: string,
  msgPerSecMeasures: string
): PeerResult => {
  const s = summarize(runs, valueBytesPerMessage, msgPerSecMeasures)
  return {
    description,
    messages: s.messages,
    runs: s.runs,
    msgPerSec: s.msgPerSec,
    msgPerSecMeasures,
    wallMsgPerSec: s.wallMsgPerSec,
    wallSeconds: s.wallSeconds,
    mbPerSec: s.mbPerSec,
    cpuSecondsPerMillion: s.cpuSecondsPerMillion,
    rssMaxMB: s.peakRssMB,
    samples: s.samples
  }
}

/** Adds to each measured peer the `lake` scenario's ratios to it, when `lake` was measured. */
export const addLakeRatios = (peers: Record<string, PeerEntry>, scenarios: Readonly<Record<string, ScenarioResult>>): void => {
  const lake = scenarios["lake"]
  if (!isMeasured(lake)) return
  for (const peer of Object.values(peers)) {
    if (!isPeerMeasured(peer)) continue
    peer.lakeRatios = {
      throughput: round(lake.msgPerSec / peer.msgPerSec, 2),
      cpuPerMessage: round(lake.cpuSecondsPerMillion / peer.cpuSecondsPerMillion, 2),
      memory: round(lake.peakRssMB / peer.rssMaxMB, 2)
    }
  }
}
