/**
 * A declared feed consumed by the runtime, as `sluice run` will wire it: the registry entry gives
 * the flow's decisions and the lake sink's feeds, nothing else is written by hand. Driven by the
 * topology test driver (no broker), into a real lake folder read back by DuckDB.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Exit, Result, type Scope } from "effect"
import { TestClock } from "effect/testing"
import { afterEach, describe, expect, it } from "vitest"
import { type FeedRow, parseFeedSchema } from "../../src/domain/FeedSchema.ts"
import { parquetRelation, withDuckDb } from "../../src/ops/DuckDb.ts"
import { declaredDecisions, declaredFeeds } from "../../src/feeds/DeclaredFeed.ts"
import type { FeedEntry } from "../../src/feeds/FeedEntry.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { makeLakeSink } from "../../src/sinks/lake/LakeSink.ts"
import { inlineEncoder } from "../../src/sinks/lake/ParquetEncoder.ts"
import { defaultOutagePolicy } from "../../src/topology/Outage.ts"
import { makeTestDriver } from "../../src/topology/TestDriver.ts"
import type { Topology } from "../../src/topology/Topology.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const entry: FeedEntry = {
  name: "orders",
  type: "stream",
  topic: "orders_topic",
  description: "",
  schema: Result.getOrThrow(parseFeedSchema({ fields: { order_id: "string", qty: "integer", amount: "decimal(10,2)", placed_at: "timestamp" } })),
  partitionBy: "placed_at",
  enabled: true,
  schemaVersion: 1,
  createdAt: "2026-12-01T00:00:00.000Z",
  updatedAt: "2026-12-01T00:00:00.000Z",
  archivedAt: null
}

const order = (i: number) => JSON.stringify({ order_id: `o-${i}`, qty: i, amount: i + 0.5, placed_at: `2026-11-${String(10 + (i % 3)).padStart(2, "0")}T12:00:00+02:00` })

const test = <A, E>(program: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestClock.layer())))

describe("a declared feed in a topology", () => {
  it("is consumed exactly once into its table and its dead letters, from nothing but its registry entry", async () => {
    const lake = mkdtempSync(path.join(tmpdir(), "sluice-declared-flow-"))
    dirs.push(lake)
    await test(Effect.gen(function*() {
      const sink = yield* makeLakeSink<FeedRow>(entry.topic, declaredFeeds(entry), {
        store: makeLocalStore(lake),
        compression: "zstd",
        checkpointInterval: 10,
        encoder: inlineEncoder,
        outage: defaultOutagePolicy
      })
      const topology: Topology = {
        flows: [{ topic: entry.topic, decisions: declaredDecisions(entry, 1024 * 1024), sinks: [sink] }],
        window: { maxRecords: 25, maxBytes: 1 << 30, maxAgeMs: 1_000 }
      }
      const driver = yield* makeTestDriver(topology, new Map([[entry.topic, 2]]))
      yield* driver.pipe(entry.topic, 0, [...Array.from({ length: 40 }, (_, i) => order(i)), JSON.stringify({ order_id: "bad", qty: 1.5 })])
      yield* driver.pipe(entry.topic, 1, [order(100), "{", null])
      const tps = [{ topic: entry.topic, partition: 0 }, { topic: entry.topic, partition: 1 }]
      yield* driver.assign(tps)
      // The lake sink's recovery reads the table's folder (real I/O) before the partitions are read.
      expect(yield* driver.advanceUntil(() => driver.consumed(tps), 60_000)).toBe(true)
      const summary = yield* driver.drain
      expect(Exit.isSuccess(summary) && summary.value).toMatchObject({ reason: "drained", records: 41, deadLetters: 3 })
    }))
    const files = async (table: string) => {
      const root = path.join(lake, table)
      const snapshot = await Effect.runPromise(readSnapshot(makeLocalStore(root), ""))
      return { snapshot, files: [...snapshot.files.keys()].map((f) => path.join(root, f)) }
    }
    const stream = await files("streams/orders")
    const rows = await Effect.runPromise(withDuckDb((db) =>
      db.query(`SELECT count(*) AS n, count(DISTINCT (_kafka_partition, _kafka_offset)) AS d, sum(qty) AS qty, sum(amount)::VARCHAR AS amount FROM ${parquetRelation(stream.files, "")}`)
    ))
    expect(rows).toEqual([{ n: 41n, d: 41n, qty: BigInt(780 + 100), amount: "900.50" }])
    // Filed by the UTC date of placed_at (12:00 at +02:00 is 10:00 UTC, the same day).
    expect([...stream.snapshot.totals.byFolder.keys()].sort()).toEqual(["year=2026/month=11/day=10", "year=2026/month=11/day=11", "year=2026/month=11/day=12"])
    const letters = await files("_deadletter/orders_topic")
    expect(await Effect.runPromise(withDuckDb((db) => db.query(`SELECT _kafka_partition AS p, _kafka_offset AS o, error_kind AS k, error FROM ${parquetRelation(letters.files, "")} ORDER BY 1, 2`)))).toEqual([
      { p: 0, o: 40n, k: "schema", error: "qty: expected an integer, got 1.5" },
      { p: 1, o: 1n, k: "not-json", error: expect.stringMatching(/^not JSON/) },
      { p: 1, o: 2n, k: "empty", error: "empty message" }
    ])
    // Both tables committed every offset of both partitions.
    for (const table of [stream, letters]) {
      expect([...table.snapshot.txns].filter(([appId]) => !appId.endsWith(":decisions")).map(([, v]) => v).sort()).toEqual([2, 40])
    }
  })
})
