/**
 * The transaction topic's feeds through the lake sink, with the Kafka timestamps producers really
 * set (-1 for none, -9e15, far in the future): every record lands, dated by what can date it.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { EurTransaction } from "../../../src/domain/ExchangeRate.ts"
import { withDuckDb } from "../../../src/ops/DuckDb.ts"
import { transactionFeeds, transactionProcessors } from "../../../src/ops/TransactionFlow.ts"
import { makeLakeSink } from "../../../src/sinks/lake/LakeSink.ts"
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { inlineEncoder } from "../../../src/sinks/lake/ParquetEncoder.ts"
import type { DeadLetter } from "../../../src/topology/Record.ts"
import { defaultOutagePolicy } from "../../../src/topology/Outage.ts"
import { eurTransactions, spOf, writeTestWindow } from "../../support/Windows.ts"

const TOPIC = "transaction_stream"
const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const letter = (offset: number, timestamp: number): DeadLetter => ({
  topic: TOPIC,
  partition: 0,
  offset,
  timestamp,
  key: null,
  raw: Buffer.from("not json"),
  kind: "not-json",
  error: "not JSON: Unexpected token"
})

describe("the transaction feeds", () => {
  it("keep records whatever their Kafka timestamp: dead letters filed at the nearest date of the years 1000 to 9999", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "sluice-feeds-"))
    dirs.push(root)
    const [t] = eurTransactions(1, 12) as [EurTransaction]
    const timestamps = [-9e15, -9e15, 9e15, -1, Date.UTC(10_000, 0, 1)]
    await Effect.runPromise(Effect.gen(function*() {
      const sink = yield* makeLakeSink<EurTransaction>(TOPIC, transactionFeeds(TOPIC, transactionProcessors(TOPIC, Buffer.alloc(32, 7))), {
        store: makeLocalStore(root),
        compression: "zstd",
        checkpointInterval: 10,
        encoder: inlineEncoder,
        outage: defaultOutagePolicy
      })
      yield* sink.recover(spOf(TOPIC, 0))
      yield* writeTestWindow(sink, {
        topic: TOPIC,
        partition: 0,
        from: 0,
        to: 4,
        // A valid transaction stays valid with a Kafka timestamp of -9e15.
        records: [{ value: t, partition: 0, offset: 0, timestamp: timestamps[0]! }],
        deadLetters: timestamps.slice(1).map((ts, i) => letter(i + 1, ts))
      })
      const stream = sink.tables.find((t) => t.feed.name === "transaction_stream")
      const letters = sink.tables.find((t) => t.feed.kind === "_deadletter")
      const streamFiles = (yield* stream!.snapshot).files
      const letterFiles = (yield* letters!.snapshot).files
      const eventDay = new Date(t.eventTimeMs).toISOString().slice(0, 10).split("-")
      expect([...streamFiles.keys()].map((f) => path.dirname(f))).toEqual([`year=${eventDay[0]}/month=${eventDay[1]}/day=${eventDay[2]}`])
      expect([...letterFiles.keys()].map((f) => path.dirname(f)).sort()).toEqual([
        "year=1000/month=01/day=01",
        "year=1969/month=12/day=31",
        "year=9999/month=12/day=31"
      ])
      // Statistics leave out the bounds no ISO-8601 date-time of four-digit years can write.
      const stats = JSON.parse([...streamFiles.values()][0]!.stats!)
      expect(stats.minValues).not.toHaveProperty("_kafka_timestamp")
      expect(stats.minValues.event_time).toBe(new Date(t.eventTimeMs).toISOString())
      const future = JSON.parse([...letterFiles].find(([f]) => f.startsWith("year=9999"))![1].stats!)
      expect(future).toMatchObject({ numRecords: 2, nullCount: { _kafka_timestamp: 0 } })
      expect(future.minValues).not.toHaveProperty("_kafka_timestamp")
      // `_kafka_timestamp` keeps what the producer set.
      const kept = yield* withDuckDb((db) =>
        db.query(`SELECT _kafka_offset AS o, epoch_ms(_kafka_timestamp) AS ms
          FROM read_parquet(['${root}/streams/transaction_stream/*=*/**/*.parquet', '${root}/_deadletter/${TOPIC}/*=*/**/*.parquet']) ORDER BY o`))
      expect(kept.map((r) => [Number(r.o), Number(r.ms)])).toEqual([[0, -9e15], ...timestamps.slice(1).map((ts, i) => [i + 1, ts])])
    }))
  })
})
