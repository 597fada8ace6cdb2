/**
 * `node bench/checkpoint.ts [--files 10000,50000] [--rounds 5] [--encoder-threads 1]`: what a Delta
 * checkpoint costs the writer of a table with many live files (a local folder), and how long it
 * blocks the event loop: a table of N adds (as the lake writes them: Hive paths, partition values,
 * stats, a topic tag) and N/2 tombstones, then commits alternating with checkpoint commits.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Effect } from "effect"
import type { Add, Remove } from "../src/sinks/lake/DeltaAction.ts"
import { openDeltaTable } from "../src/sinks/lake/DeltaLog.ts"
import { makeParquetEncoder } from "../src/sinks/lake/ParquetEncoder.ts"
import { makeLocalStore } from "../src/sinks/lake/store/LocalStore.ts"

const { values: flags } = parseArgs({
  options: {
    files: { type: "string", default: "10000,50000" },
    rounds: { type: "string", default: "5" },
    "encoder-threads": { type: "string", default: "1" }
  }
})

const addOf = (i: number): Add => {
  const day = 1 + (i % 28)
  return {
    path: `year=2026/month=11/day=${String(day).padStart(2, "0")}/part-${i % 4}-${i * 100}-${i * 100 + 99}-0-aaaaaaaaaaaa-${i.toString(16).padStart(8, "0")}.parquet`,
    partitionValues: { year: "2026", month: "11", day: String(day).padStart(2, "0") },
    size: 40_000 + (i % 1000),
    modificationTime: 1_764_000_000_000 + i,
    dataChange: true,
    stats: JSON.stringify({
      numRecords: 100,
      minValues: { _kafka_offset: i * 100, event_time: "2026-11-21T12:00:00.000Z", amount: 0.01, currency: "EUR" },
      maxValues: { _kafka_offset: i * 100 + 99, event_time: "2026-11-21T12:59:59.999Z", amount: 9999.99, currency: "USD" },
      nullCount: { _kafka_offset: 0, event_time: 0, amount: 0, currency: 0 }
    }),
    tags: { "sluice.topicId": "AAAAAAAAAAAAAAAAAAAAAA" }
  }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Runs `f`, returning its wall time and the longest the event loop waited for a 1 ms timer meanwhile. */
const timed = async (f: () => Promise<unknown>) => {
  let last = performance.now()
  let worst = 0
  const ticker = setInterval(() => {
    const now = performance.now()
    worst = Math.max(worst, now - last)
    last = now
  }, 1)
  const start = performance.now()
  await f()
  const ms = performance.now() - start
  clearInterval(ticker)
  worst = Math.max(worst, performance.now() - last)
  return { ms, blocked: worst }
}

const measure = (files: number, rounds: number, threads: number) =>
  Effect.scoped(Effect.gen(function*() {
    const dir = mkdtempSync(path.join(tmpdir(), "sluice-bench-checkpoint-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    const encoder = yield* makeParquetEncoder(threads)
    const table = yield* openDeltaTable({
      store: makeLocalStore(dir),
      root: "",
      checkpointInterval: 2,
      encoder,
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      metaData: { id: "bench", format: { provider: "parquet", options: {} }, schemaString: "{}", partitionColumns: [], configuration: {}, createdTime: 0 }
    })
    const adds = Array.from({ length: files + files / 2 }, (_, i) => addOf(i))
    const removes: Array<Remove> = adds.slice(files).map((a) => ({ path: a.path, deletionTimestamp: Date.now(), dataChange: true }))
    yield* table.commit({ txns: [], adds, operation: "WRITE" })
    const plain: Array<{ ms: number; blocked: number }> = []
    const checkpoint: Array<{ ms: number; blocked: number }> = []
    for (let r = 0; r < rounds; r++) {
      // Version 1, 3, 5…: a plain commit (the first also removes a third of the files); 2, 4, 6…: a commit and a checkpoint.
      plain.push(yield* Effect.promise(() => timed(() => Effect.runPromise(table.commit({ txns: [], adds: [addOf(10_000_000 + 2 * r)], removes: r === 0 ? removes : [], operation: "WRITE" })))))
      checkpoint.push(yield* Effect.promise(() => timed(() => Effect.runPromise(table.commit({ txns: [], adds: [addOf(10_000_001 + 2 * r)], operation: "WRITE" })))))
    }
    const rss = process.memoryUsage().rss
    return {
      files,
      threads,
      plainMs: median(plain.map((p) => p.ms)),
      checkpointMs: median(checkpoint.map((p) => p.ms)),
      checkpointBlockedMs: median(checkpoint.map((p) => p.blocked)),
      rssMB: Math.round(rss / 1024 / 1024)
    }
  }))

for (const files of flags.files.split(",").map(Number)) {
  const result = await Effect.runPromise(measure(files, Number(flags.rounds), Number(flags["encoder-threads"])))
  process.stdout.write(`${JSON.stringify(result)}\n`)
}
