/**
 * The Markdown form of a bench result: the machine, one row per throughput scenario and peer, one
 * row per offered load of the latency scenario, and what each figure measures.
 */
import { type BenchResult, isMeasured, isPeerMeasured, type LatencyEntry, type PeerEntry, type ScenarioResult, type SinkLatency } from "./Results.ts"

/** Display names and what each scenario runs, in report order. */
export const scenarioLabels: ReadonlyArray<readonly [key: string, label: string]> = [
  ["ceiling", "ceiling — Kafka ConsumerPerformance"],
  ["lake", "lake — sluice run, lake only"],
  ["lake-p64", "lake-p64 — sluice run, lake only, 64 partitions"],
  ["lake-s3", "lake-s3 — sluice run, lake only, in S3 (S3Proxy)"],
  ["warehouse", "warehouse — sluice run, warehouse only"],
  ["both", "both — sluice run, lake + warehouse"],
  ["baseline", "baseline — naive: Parquet + 1 INSERT/msg"],
  ["baseline-lake", "baseline-lake — naive: Parquet only"]
]

/** Display names of the peers, in report order. */
export const peerLabels: ReadonlyArray<readonly [key: string, label: string]> = [
  ["spark", "spark — peer: the seed's Spark + Delta job"]
]

const n = (x: number | undefined, digits = 0): string =>
  x === undefined || !Number.isFinite(x) ? "–" : x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

const ratio = (x: number | undefined): string => (x === undefined ? "–" : `${x < 0.1 ? x.toFixed(3) : x.toFixed(2)}×`)

export const machineLine = (r: BenchResult): string =>
  `${r.machine.cpu} · ${r.machine.cores} cores · ${r.machine.memoryGB} GB · ${r.machine.os} · Node ${r.machine.node} · ` +
  `Kafka ${r.machine.kafka} (broker ${r.machine.brokers}, on the same machine)`

const scenarioRow = (label: string, result: ScenarioResult | undefined, messages: number): string => {
  if (result === undefined) return `| ${label} | not run |  |  |  |  |  |  |  |`
  if (!isMeasured(result)) return `| ${label} | ${"skipped" in result ? `skipped: ${result.skipped}` : `FAILED: ${result.failed.split("\n")[0]}`} |  |  |  |  |  |  |  |`
  const read = result.messages === messages ? "" : ` (first ${n(result.messages)} msgs)`
  return `| ${label}${read} | **${n(result.msgPerSec)}** | ${n(result.wallMsgPerSec)} | ${n(result.mbPerSec, 1)} | ${n(result.cpuSecondsPerMillion, 1)} | ${n(result.peakRssMB)} | ${ratio(result.ratioToCeiling)} | ${ratio(result.ratioToBaseline)} | ${ratio(result.ratioToBaselineLake)} |`
}

const peerRow = (label: string, peer: PeerEntry | undefined, r: BenchResult): string => {
  if (peer === undefined) return `| ${label} | not run |  |  |  |  |  |  |  |`
  if (!isPeerMeasured(peer)) return `| ${label} | ${"skipped" in peer ? `skipped: ${peer.skipped}` : `FAILED: ${peer.failed.split("\n")[0]}`} |  |  |  |  |  |  |  |`
  const to = (key: string): string => {
    const other = r.scenarios[key]
    return isMeasured(other) ? ratio(peer.msgPerSec / other.msgPerSec) : "–"
  }
  const read = peer.messages === r.messages ? "" : ` (first ${n(peer.messages)} msgs)`
  return `| ${label}${read} | **${n(peer.msgPerSec)}** | ${n(peer.wallMsgPerSec)} | ${n(peer.mbPerSec, 1)} | ${n(peer.cpuSecondsPerMillion, 1)} | ${n(peer.rssMaxMB)} | ${to("ceiling")} | ${to("baseline")} | ${to("baseline-lake")} |`
}

/** What the peers run, and Sluice's `lake` against each. */
const peerLines = (r: BenchResult): Array<string> =>
  peerLabels.flatMap(([key]) => {
    const peer = r.peers?.[key]
    if (!isPeerMeasured(peer)) return []
    const versus = peer.lakeRatios === undefined
      ? ""
      : ` Sluice's \`lake\` against it: **${ratio(peer.lakeRatios.throughput)} the msg/s**, ${ratio(peer.lakeRatios.cpuPerMessage)} the CPU per message, ` +
        `${ratio(peer.lakeRatios.memory)} the peak RSS.`
    return [`- **${key}** (peer): ${peer.description}; msg/s is ${peer.msgPerSecMeasures}.${versus}`]
  })

const latencyRow = (rate: string, entry: LatencyEntry | undefined): string => {
  if (entry === undefined) return `| ${n(Number(rate))} msg/s | not run |`
  if (!("p99Ms" in entry)) return `| ${n(Number(rate))} msg/s | ${"skipped" in entry ? `skipped: ${entry.skipped}` : `FAILED: ${entry.failed.split("\n")[0]}`} |`
  return `| ${n(entry.rate)} msg/s × ${entry.seconds} s | ${n(entry.rows)} | ${n(entry.p50Ms)} | ${n(entry.p95Ms)} | **${n(entry.p99Ms)}** | ${n(entry.maxMs)} | ${entry.metTarget ? "yes" : "**no**"} | ${entry.lagGrew ? "**yes**" : "no"} | ${n(entry.lagMax)} | ${entry.caughtUpAfterMs === null ? "not within 30 s" : `${n(entry.caughtUpAfterMs)} ms`} | ${n(entry.peakRssMB)} |`
}

const sinkCells = (l: SinkLatency) => `${n(l.p50Ms)} / ${n(l.p95Ms)} / **${n(l.p99Ms)}** | ${l.withinTargetPct ?? "–"}%`

/** The small-window run: one row per sink and measure, then the files each day partition was left with. */
const lowWindowLines = (r: BenchResult): Array<string> => {
  const entries = Object.entries(r.latencyLowWindow ?? {})
  if (entries.length === 0) return []
  return entries.flatMap(([rate, e]) => {
    if (!("lake" in e)) return [`### Latency with 100 ms windows, ${n(Number(rate))} msg/s: ${"skipped" in e ? `skipped: ${e.skipped}` : `FAILED: ${e.failed.split("\n")[0]}`}`, ""]
    const files = Object.entries(e.files).map(([feed, f]) => `${feed} ${f.maxPerPartition} (${Object.keys(f.partitions).length} day partitions)`).join(", ")
    return [
      `### Latency — \`sluice run\` (${e.sinks}), \`SLUICE_WINDOW_MAX_AGE_MS=${e.windowMaxAgeMs}\`, ${n(e.rate)} msg/s × ${e.seconds} s, compaction beside, target p99 ≤ ${e.targetP99Ms} ms`,
      "",
      "| sink | measured by | records | p50 / p95 / p99 ms | within target |",
      "| --- | --- | --: | --: | --: |",
      `| lake | Delta log (transaction_stream) | ${n(e.lake.samples)} | ${sinkCells(e.lake)} |`,
      `| lake | service histogram | ${n(e.lakeService.samples)} | ${sinkCells(e.lakeService)} |`,
      `| warehouse | service histogram | ${n(e.warehouse.samples)} | ${sinkCells(e.warehouse)} |`,
      "",
      `- Target ${e.metTarget ? "met" : "**not met**"}; lag ${e.lagGrew ? "**grew**" : "flat"} (max ${n(e.lagMax)}); ` +
        `${e.caughtUpAfterMs === null ? "not caught up within 30 s of the load's end" : `caught up ${n(e.caughtUpAfterMs)} ms after the load`}; ` +
        `load average ${e.loadAverage[0]} → ${e.loadAverage[1]}; sluice run ${n(e.cpuSeconds, 1)} CPU s, ${n(e.peakRssMB)} MB peak RSS.`,
      `- \`${e.compaction.command}\` (${n(e.compaction.cpuSeconds, 1)} CPU s): ${e.compaction.runs.length} runs; the last: ${e.compaction.runs.at(-1) ?? "none"}.`,
      `- Most live files in one day partition after the run, per table: ${files}.`,
      "- Service histogram: `sluice_end_to_end_latency_seconds{sink}` from `/metrics`, the end of the sink's commit of a window − each record's Kafka timestamp, " +
        "percentiles interpolated in its 25 ms buckets up to 0.5 s (past it the buckets end at 0.75, 1, 2.5, 5, 10, 30, 60, 300 s: a percentile there is coarse); " +
        "the share within the target is exact (a bucket ends at 250 ms).",
      ""
    ]
  })
}

/** The whole report as Markdown. */
export const toMarkdown = (r: BenchResult): string => {
  const avg = Math.round(r.topic.avgValueBytes)
  const runs = Math.max(0, ...Object.values(r.scenarios).filter(isMeasured).map((s) => s.runs))
  const latencyRates = Object.keys(r.latency)
  const firstLatency = Object.values(r.latency).find((e) => "p99Ms" in e)
  const maxAge = firstLatency !== undefined && "windowMaxAgeMs" in firstLatency ? firstLatency.windowMaxAgeMs : Number(r.settings["latencyWindowMaxAgeMs"])
  return [
    `## Sluice bench — ${r.date}, commit ${r.commit}${r.quick ? " (quick)" : ""}`,
    "",
    machineLine(r),
    "",
    `${n(r.messages)} messages on \`${r.topic.name}\` (${r.topic.partitions} partitions, ${r.topic.badRatio * 100}% malformed, ` +
      `${avg} B average value); each throughput figure is the median of ${runs} run${runs === 1 ? "" : "s"}.`,
    "",
    "| scenario | msg/s | wall msg/s | MB/s | CPU s / 1M msgs | peak RSS MB | × ceiling | × baseline | × baseline-lake |",
    "| --- | --: | --: | --: | --: | --: | --: | --: | --: |",
    ...scenarioLabels.map(([key, label]) => scenarioRow(label, r.scenarios[key], r.messages)),
    // Results written before peers existed have no `peers`: no row rather than "not run".
    ...(r.peers === undefined ? [] : peerLabels.map(([key, label]) => peerRow(label, r.peers?.[key], r))),
    "",
    "- **msg/s**: each scenario's own clock, first message fetched → last commit (sluice: its `msg/s` line; " +
      "ceiling: ConsumerPerformance's `fetch.nMsg.sec`, group join excluded; baselines: first message → last file/INSERT). " +
      "**wall msg/s**: messages ÷ the process's wall time (start-up, group join and, for sluice, the 500 ms `--until-idle` wait included).",
    "- **MB/s**: message values only, at msg/s. **CPU s / 1M msgs** and **peak RSS**: the scenario's own process " +
      "and the processes it waited for (user + system from rusage; the broker's and MySQL's CPU are not counted): " +
      "for sluice, peak RSS is the larger of the service's and of its snapshot processes' (each also in the samples' `serviceRssMB` and `snapshotRssMB`).",
    ...(isMeasured(r.scenarios["baseline"]) && r.scenarios["baseline"].messages < r.messages
      ? [`- **baseline** reads only the first ${n(r.scenarios["baseline"].messages)} messages: one autocommitted INSERT per message is that slow. Its rates are over those messages.`]
      : []),
    ...peerLines(r),
    "",
    `### Latency — \`sluice run\` (lake) under an offered load, \`SLUICE_WINDOW_MAX_AGE_MS=${maxAge}\`, target p99 ≤ ${n(maxAge + 250)} ms`,
    "",
    "| offered load | rows | p50 ms | p95 ms | p99 ms | max ms | p99 ≤ target | lag grew | max lag (msgs) | caught up after the load | peak RSS MB |",
    "| --- | --: | --: | --: | --: | --: | :-: | :-: | --: | --: | --: |",
    ...latencyRates.map((rate) => latencyRow(rate, r.latency[rate])),
    "",
    "- Latency of a row: the `commitInfo.timestamp` of the Delta commit that added its file to `transaction_stream`, minus its " +
      "`_kafka_timestamp` (set by the producer). Lag: Kafka end offsets − the lake's committed `txn` offsets, sampled every second; " +
      "it *grew* when its least-squares trend over the load added more than one window's worth of messages.",
    "",
    ...lowWindowLines(r),
    `Peak RSS of any \`sluice run\`: ${r.rssMaxMB > 0 ? `${n(r.rssMaxMB)} MB` : "–"}. The bench took ${n(r.elapsedSeconds / 60, 1)} min.`,
    ...(r.notes.length === 0 ? [] : ["", ...r.notes.map((note) => `- ${note}`)]),
    ""
  ].join("\n")
}
