import { tableFromArrays } from "apache-arrow"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeParquetEncoder } from "../../../src/sinks/lake/ParquetEncoder.ts"
import { decodeParquet } from "../../../src/sinks/lake/ParquetFile.ts"

const tableOf = (rows: number, seed: number) =>
  tableFromArrays({
    id: Array.from({ length: rows }, (_, i) => `row-${seed}-${i}-${"x".repeat(40)}`),
    amount: Float64Array.from({ length: rows }, (_, i) => seed * 1_000_000 + i)
  })

describe("makeParquetEncoder", () => {
  it("encodes tables sent at once, one at a time per worker, each into its own file", async () => {
    const tables = [1, 2, 3, 4, 5].map((seed) => tableOf(2_000 * seed, seed))
    const decoded = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const encoder = yield* makeParquetEncoder(2)
      const files = yield* Effect.forEach(tables, (t) => encoder.encode(t, "zstd"), { concurrency: "unbounded" })
      return files.map(decodeParquet)
    })))
    expect(decoded.map((t) => t.numRows)).toEqual([2_000, 4_000, 6_000, 8_000, 10_000])
    expect(decoded.map((t) => t.getChild("amount")!.get(0))).toEqual([1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000])
    expect(decoded[4]!.getChild("id")!.get(9_999)).toBe(`row-5-9999-${"x".repeat(40)}`)
  })

  it("replaces a worker whose WebAssembly memory grew past the limit, and the next encode still succeeds", async () => {
    const [replaced, rows] = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      // 4 MB: any encode grows parquet-wasm's memory past it.
      const encoder = yield* makeParquetEncoder(1, 4 * 1024 * 1024)
      const first = yield* encoder.encode(tableOf(50_000, 1), "zstd")
      const second = yield* encoder.encode(tableOf(50_000, 2), "snappy")
      return [encoder.workersReplaced(), [decodeParquet(first).numRows, decodeParquet(second).numRows]] as const
    })))
    expect(replaced).toBe(2)
    expect(rows).toEqual([50_000, 50_000])
  })

  it("keeps its worker while the memory stays under the limit", async () => {
    const replaced = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const encoder = yield* makeParquetEncoder(1)
      yield* encoder.encode(tableOf(1_000, 1), "zstd")
      yield* encoder.encode(tableOf(1_000, 2), "zstd")
      return encoder.workersReplaced()
    })))
    expect(replaced).toBe(0)
  })
})
