import { describe, expect, it } from "vitest"
import { bucketPercentile } from "../../bench/harness/Stats.ts"

describe("bucketPercentile", () => {
  // 100 observations: 10 at or below 25, 80 more at or below 50, the last 10 at or below 100.
  const buckets = [
    { le: 25, count: 10 },
    { le: 50, count: 90 },
    { le: 100, count: 100 },
    { le: Number.POSITIVE_INFINITY, count: 100 }
  ]

  it("interpolates inside the bucket that holds the rank, from 0 for the first", () => {
    expect(bucketPercentile(buckets, 5)).toBe(12.5)
    expect(bucketPercentile(buckets, 50)).toBe(25 + (25 * 40) / 80)
    expect(bucketPercentile(buckets, 99)).toBe(50 + (50 * 9) / 10)
  })

  it("answers the highest finite bound when the rank lies in +Inf, and NaN for an empty histogram", () => {
    expect(bucketPercentile([{ le: 1, count: 1 }, { le: Number.POSITIVE_INFINITY, count: 3 }], 99)).toBe(1)
    expect(bucketPercentile([{ le: 1, count: 0 }, { le: Number.POSITIVE_INFINITY, count: 0 }], 50)).toBeNaN()
  })
})
