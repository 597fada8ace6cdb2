/**
 * The live part of the dashboard, read from a service's Prometheus metrics: messages consumed and
 * committed so far, and per partition its end, commit and lag. Throughput is the difference of two reads.
 */

/** One sample of the text exposition: a metric name, its labels and its value. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** The samples of a Prometheus text exposition (comments and malformed lines skipped). */
export const parseMetrics = (text: string): Array<Sample> => {
  const samples: Array<Sample> = []
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue
    const m = SAMPLE.exec(line.trim())
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]!] = l[2]!.replaceAll("\\\"", "\"").replaceAll("\\n", "\n").replaceAll("\\\\", "\\")
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3])
    samples.push({ name: m[1]!, labels, value })
  }
  return samples
}

export interface LivePartition {
  readonly topic: string
  readonly partition: number
  readonly endOffset: number | undefined
  readonly committedOffset: number | undefined
  readonly lagMessages: number | undefined
  readonly lagSeconds: number | undefined
}

export interface Live {
  /** When the metrics were read, epoch millis. */
  readonly at: number
  readonly consumed: number
  /** Messages committed, per sink. */
  readonly committed: Readonly<Record<string, number>>
  readonly ready: boolean
  readonly partitions: ReadonlyArray<LivePartition>
}

/** The live figures of one read of the metrics. */
export const liveFrom = (samples: ReadonlyArray<Sample>, at: number): Live => {
  const sum = (name: string) => samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0)
  const committed: Record<string, number> = {}
  for (const s of samples) if (s.name === "sluice_messages_committed_total") committed[s.labels.sink ?? ""] = (committed[s.labels.sink ?? ""] ?? 0) + s.value
  const partitions = new Map<string, { topic: string; partition: number; values: Map<string, number> }>()
  for (const s of samples) {
    if (!s.name.startsWith("sluice_partition_")) continue
    const key = `${s.labels.topic}/${s.labels.partition}`
    let p = partitions.get(key)
    if (p === undefined) {
      p = { topic: s.labels.topic ?? "", partition: Number(s.labels.partition), values: new Map() }
      partitions.set(key, p)
    }
    p.values.set(s.name, s.value)
  }
  return {
    at,
    consumed: sum("sluice_messages_consumed_total"),
    committed,
    ready: sum("sluice_ready") > 0,
    partitions: [...partitions.values()]
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
      .map((p) => ({
        topic: p.topic,
        partition: p.partition,
        endOffset: p.values.get("sluice_partition_end_offset"),
        committedOffset: p.values.get("sluice_partition_committed_offset"),
        lagMessages: p.values.get("sluice_partition_lag_messages"),
        lagSeconds: p.values.get("sluice_partition_lag_seconds")
      }))
  }
}
