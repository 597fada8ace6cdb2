/**
 * The few statistics the bench reports: medians of repeated runs, percentiles of latencies, and a
 * least-squares slope to tell a lag that grows from one that oscillates.
 */

/** The median of `values` (the mean of the two middle ones for an even count); NaN when empty. */
export const median = (values: ReadonlyArray<number>): number => percentile([...values].sort((a, b) => a - b), 50)

/** The `p`-th percentile of values sorted ascending, interpolated linearly between ranks (numpy's default). */
export const percentile = (sorted: ArrayLike<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo)
}

/** The slope of the least-squares line through points (x, y); 0 with fewer than two distinct x. */
export const slope = (points: ReadonlyArray<{ readonly x: number; readonly y: number }>): number => {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((s, p) => s + p.x, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.x - mx) * (p.y - my)
    den += (p.x - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

/** `n` rounded to `digits` decimals, for JSON that people read. */
export const round = (n: number, digits = 0): number => {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** One bucket of a Prometheus histogram: observations at or below `le`, cumulative (`+Inf` last). */
export interface Bucket {
  readonly le: number
  readonly count: number
}

/**
 * The `p`-th percentile of a Prometheus histogram, as `histogram_quantile` computes it: linear
 * inside the bucket that holds the rank (from 0 for the first), the highest finite bound past it.
 */
export const bucketPercentile = (buckets: ReadonlyArray<Bucket>, p: number): number => {
  const sorted = [...buckets].sort((a, b) => a.le - b.le)
  const total = sorted.at(-1)?.count ?? 0
  if (total === 0) return Number.NaN
  const rank = (p / 100) * total
  let below = 0
  let lower = 0
  for (const b of sorted) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return lower
      return b.count === below ? b.le : lower + ((b.le - lower) * (rank - below)) / (b.count - below)
    }
    below = b.count
    lower = b.le
  }
  return lower
}
