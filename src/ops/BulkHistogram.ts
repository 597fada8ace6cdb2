/**
 * A Prometheus histogram that takes a whole window's values at once: the end-to-end latency of
 * every message of a window is bucketed in one pass, without one prom-client call per message.
 */

export interface BulkHistogramOptions {
  readonly name: string
  readonly help: string
  readonly labelNames: ReadonlyArray<string>
  /** Upper bounds, ascending; `+Inf` is added. */
  readonly buckets: ReadonlyArray<number>
}

interface Series {
  readonly labels: Record<string, string>
  /** Non-cumulative counts per bucket, the last one for values above every bound. */
  readonly counts: Float64Array
  sum: number
  count: number
}

/** prom-client's metric value shape, as its registry prints it. */
interface MetricValue {
  readonly value: number
  readonly labels: Record<string, string | number>
  readonly metricName: string
}

export class BulkHistogram {
  readonly name: string
  readonly help: string
  readonly type = "histogram"
  readonly aggregator = "sum"
  readonly #buckets: ReadonlyArray<number>
  readonly #labelNames: ReadonlyArray<string>
  readonly #series = new Map<string, Series>()

  constructor(options: BulkHistogramOptions) {
    this.name = options.name
    this.help = options.help
    this.#buckets = options.buckets
    this.#labelNames = options.labelNames
  }

  #seriesOf(labels: Record<string, string>): Series {
    const key = this.#labelNames.map((n) => labels[n] ?? "").join("\u0000")
    let s = this.#series.get(key)
    if (s === undefined) {
      s = { labels: { ...labels }, counts: new Float64Array(this.#buckets.length + 1), sum: 0, count: 0 }
      this.#series.set(key, s)
    }
    return s
  }

  /** Observes `(at − t) / 1000` seconds for every epoch-millis `t` of `timestamps`. */
  observeSince(labels: Record<string, string>, at: number, timestamps: ArrayLike<number>): void {
    const s = this.#seriesOf(labels)
    const bounds = this.#buckets
    for (let i = 0; i < timestamps.length; i++) {
      const v = (at - timestamps[i]!) / 1000
      let b = 0
      while (b < bounds.length && v > bounds[b]!) b++
      s.counts[b]! += 1
      s.sum += v
    }
    s.count += timestamps.length
  }

  /** Observes one value. */
  observe(labels: Record<string, string>, value: number): void {
    this.observeSince(labels, value * 1000, [0])
  }

  reset(): void {
    this.#series.clear()
  }

  /** The values as prom-client's registry reads them: cumulative buckets, sum and count. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Array<MetricValue> }> {
    const values: Array<MetricValue> = []
    for (const s of this.#series.values()) {
      let cumulative = 0
      this.#buckets.forEach((bound, i) => {
        cumulative += s.counts[i]!
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: bound }, value: cumulative })
      })
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: "+Inf" }, value: s.count })
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum })
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count })
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values })
  }
}
