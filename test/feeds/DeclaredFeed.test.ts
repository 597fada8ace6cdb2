/**
 * A declared feed written by the lake sink, as the topology will write it: the declared columns,
 * typed as declared, nested and nullable where the schema says, dated by the partitioning field or
 * the Kafka timestamp, read back through the Delta log by DuckDB.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { type FeedRow, parseFeedSchema } from "../../src/domain/FeedSchema.ts"
import { parquetRelation, withDuckDb } from "../../src/ops/DuckDb.ts"
import { declaredColumns, declaredDecisions, declaredFeeds, declaredPartitionTime } from "../../src/feeds/DeclaredFeed.ts"
import type { FeedEntry } from "../../src/feeds/FeedEntry.ts"
import { deltaSchemaString } from "../../src/sinks/lake/Columns.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { makeLakeSink } from "../../src/sinks/lake/LakeSink.ts"
import { inlineEncoder } from "../../src/sinks/lake/ParquetEncoder.ts"
import { decodeRecord, isDeadLetter } from "../../src/topology/Decode.ts"
import { defaultOutagePolicy } from "../../src/topology/Outage.ts"
import type { DeadLetter, Decoded } from "../../src/topology/Record.ts"
import { writeWindow } from "../../src/topology/Sink.ts"
import { spOf } from "../support/Windows.ts"

const TOPIC = "orders"

const entryOf = (fields: unknown, partitionBy: string | null = null): FeedEntry => ({
  name: "orders",
  type: "stream",
  topic: TOPIC,
  description: "",
  schema: Result.getOrThrow(parseFeedSchema({ fields })),
  partitionBy,
  enabled: true,
  schemaVersion: 1,
  createdAt: "2026-12-01T00:00:00.000Z",
  updatedAt: "2026-12-01T00:00:00.000Z",
  archivedAt: null
})

const ORDERS = {
  order_id: "string",
  qty: "integer",
  amount: "decimal(12,2)",
  rate: "decimal(5,1)?",
  paid: "boolean",
  placed_at: "timestamp",
  customer: { id: "string", vip: "boolean?" },
  "shipping?": { city: "string", geo: { lat: "decimal(4,2)" } }
}

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Decodes `messages` as the topology does (JSON, then the feed's decoder), at offsets 0.., with the given Kafka timestamps. */
const windowOf = (entry: FeedEntry, messages: ReadonlyArray<string>, timestamps: ReadonlyArray<number>) => {
  const decisions = declaredDecisions(entry, 1024 * 1024).current()
  const decoded = messages.map((m, offset) =>
    decodeRecord(TOPIC, 0, { offset, timestamp: timestamps[offset]!, key: null, value: Buffer.from(m) }, decisions.decode, decisions.policy)
  )
  return {
    decisions,
    window: {
      topic: TOPIC,
      partition: 0,
      from: 0,
      to: messages.length - 1,
      records: decoded.filter((d): d is Decoded<FeedRow> => !isDeadLetter(d)),
      deadLetters: decoded.filter((d): d is DeadLetter => isDeadLetter(d))
    }
  }
}

/** Writes the messages as one window of partition 0 into a fresh lake; returns the lake. */
const writeFeed = async (entry: FeedEntry, messages: ReadonlyArray<string>, timestamps: ReadonlyArray<number>) => {
  const lake = mkdtempSync(path.join(tmpdir(), "sluice-declared-"))
  dirs.push(lake)
  const { decisions, window } = windowOf(entry, messages, timestamps)
  await Effect.runPromise(Effect.gen(function*() {
    const sink = yield* makeLakeSink<FeedRow>(TOPIC, declaredFeeds(entry), {
      store: makeLocalStore(lake),
      compression: "zstd",
      checkpointInterval: 10,
      encoder: inlineEncoder,
      outage: defaultOutagePolicy
    })
    yield* sink.recover(spOf(TOPIC, 0))
    yield* writeWindow(sink, spOf(TOPIC, 0), window, decisions)
  }))
  return lake
}

const live = async (lake: string, table: string) => {
  const root = path.join(lake, table)
  const snapshot = await Effect.runPromise(readSnapshot(makeLocalStore(root), ""))
  return { snapshot, files: [...snapshot.files.keys()].map((f) => path.join(root, f)) }
}

const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))

const messages = [
  JSON.stringify({
    order_id: "o-1",
    qty: 3,
    amount: 134217728.02,
    rate: 12.5,
    paid: true,
    placed_at: "2026-11-22T00:30:00.000+01:00",
    customer: { id: "c-1", vip: true },
    shipping: { city: "Lyon", geo: { lat: -45.75 } },
    extra: "ignored"
  }),
  JSON.stringify({ order_id: "o-2", qty: -(2 ** 53 - 1), amount: -0.01, paid: false, placed_at: "2026-11-23T23:59:59.999Z", customer: { id: "c-2" } }),
  "not json",
  JSON.stringify({ order_id: "o-4", qty: 1, amount: 1.234, paid: true, placed_at: "2026-11-23T10:00:00Z", customer: { id: "c-4" } })
]
const kafkaTimes = [Date.UTC(2020, 0, 1), Date.UTC(2020, 0, 2), Date.UTC(2020, 0, 3), -9e15]

describe("a declared feed in the lake", () => {
  it("declares its columns to Delta: fields in order, objects as structs, nullable where optional, then lineage", () => {
    const schema = JSON.parse(deltaSchemaString(declaredColumns(entryOf(ORDERS).schema), [])) as { fields: Array<{ name: string; type: unknown; nullable: boolean }> }
    expect(schema.fields.map((f) => [f.name, f.type, f.nullable])).toEqual([
      ["order_id", "string", false],
      ["qty", "long", false],
      ["amount", "decimal(18,2)", false],
      ["rate", "decimal(18,2)", true],
      ["paid", "boolean", false],
      ["placed_at", "timestamp", false],
      ["customer", { type: "struct", fields: [
        { name: "id", type: "string", nullable: false, metadata: {} },
        { name: "vip", type: "boolean", nullable: true, metadata: {} }
      ] }, false],
      ["shipping", { type: "struct", fields: [
        { name: "city", type: "string", nullable: true, metadata: {} },
        { name: "geo", type: { type: "struct", fields: [{ name: "lat", type: "decimal(18,2)", nullable: true, metadata: {} }] }, nullable: true, metadata: {} }
      ] }, true],
      ["_kafka_partition", "integer", false],
      ["_kafka_offset", "long", false],
      ["_kafka_timestamp", "timestamp", false]
    ])
  })

  it("writes each message's declared values exactly, and its dead letters apart with the field that failed", async () => {
    const entry = entryOf(ORDERS, "placed_at")
    const lake = await writeFeed(entry, messages, kafkaTimes)
    const stream = await live(lake, "streams/orders")
    const rows = await duck(`
      SELECT order_id, qty::VARCHAR AS qty, amount::VARCHAR AS amount, rate::VARCHAR AS rate, paid, epoch_ms(placed_at) AS placed_at,
             customer.id AS customer_id, customer.vip AS vip, shipping IS NULL AS no_shipping, shipping.city AS city,
             shipping.geo.lat::VARCHAR AS lat, _kafka_offset, epoch_ms(_kafka_timestamp) AS kafka_ts
      FROM ${parquetRelation(stream.files, "")} ORDER BY _kafka_offset`)
    expect(rows).toEqual([
      {
        order_id: "o-1", qty: "3", amount: "134217728.02", rate: "12.50", paid: true, placed_at: BigInt(Date.UTC(2026, 10, 21, 23, 30)),
        customer_id: "c-1", vip: true, no_shipping: false, city: "Lyon", lat: "-45.75", _kafka_offset: 0n, kafka_ts: BigInt(kafkaTimes[0]!)
      },
      {
        order_id: "o-2", qty: String(-(2 ** 53 - 1)), amount: "-0.01", rate: null, paid: false, placed_at: BigInt(Date.UTC(2026, 10, 23, 23, 59, 59, 999)),
        customer_id: "c-2", vip: null, no_shipping: true, city: null, lat: null, _kafka_offset: 1n, kafka_ts: BigInt(kafkaTimes[1]!)
      }
    ])
    const letters = await live(lake, "_deadletter/orders")
    expect(await duck(`SELECT _kafka_offset, error_kind, error FROM ${parquetRelation(letters.files, "")} ORDER BY 1`)).toEqual([
      { _kafka_offset: 2n, error_kind: "not-json", error: expect.stringMatching(/^not JSON/) },
      { _kafka_offset: 3n, error_kind: "schema", error: "amount: expected at most 2 decimal places (decimal(12,2)), got 1.234" }
    ])
    // Every offset is committed in both tables, the stream's under its own txn.
    expect([...stream.snapshot.txns.values()]).toContain(3)
    expect([...letters.snapshot.txns.values()]).toContain(3)
  })

  it("files rows by the UTC date of the partitioning field, or of the Kafka timestamp when none is declared", async () => {
    const byField = await live(await writeFeed(entryOf(ORDERS, "placed_at"), messages.slice(0, 2), kafkaTimes), "streams/orders")
    expect([...byField.snapshot.totals.byFolder.keys()].sort()).toEqual(["year=2026/month=11/day=21", "year=2026/month=11/day=23"])
    const byKafka = await live(await writeFeed(entryOf(ORDERS), messages.slice(0, 2), kafkaTimes), "streams/orders")
    expect([...byKafka.snapshot.totals.byFolder.keys()].sort()).toEqual(["year=2020/month=01/day=01", "year=2020/month=01/day=02"])
  })

  it("takes the partitioning instant from a nested field, and moves an unstorable Kafka timestamp to the nearest storable date", () => {
    const row = (value: FeedRow, timestamp: number) => ({ value, partition: 0, offset: 0, timestamp })
    expect(declaredPartitionTime({ partitionBy: "meta.at" })(row({ meta: { at: 42 } }, 0))).toBe(42)
    expect(declaredPartitionTime({ partitionBy: null })(row({}, -9e15))).toBe(Date.UTC(1000, 0, 1))
    expect(declaredPartitionTime({ partitionBy: null })(row({}, 1_700_000_000_000))).toBe(1_700_000_000_000)
  })
})

describe("declaredDecisions", () => {
  it("versions the decisions by the schema's text and the size cap, and restores them from what they recorded", () => {
    const a = declaredDecisions(entryOf(ORDERS), 1024).current()
    const source = declaredDecisions(entryOf(ORDERS), 1024)
    expect(source.restore(a.content).version).toBe(a.version)
    expect(source.restore(a.content).content).toBe(a.content)
    expect(declaredDecisions(entryOf({ ...ORDERS, note: "string?" }), 1024).current().version).not.toBe(a.version)
    expect(declaredDecisions(entryOf(ORDERS), 2048).current().version).not.toBe(a.version)
  })

  it("decodes a replay with the schema it was committed with, not the one in force now", () => {
    const before = declaredDecisions(entryOf({ id: "string" }), 1024).current()
    const now = declaredDecisions(entryOf({ id: "string", qty: "integer" }), 1024)
    const replayed = now.restore(before.content)
    expect(Result.getOrThrow(replayed.decode({ id: "a" }))).toEqual({ id: "a" })
    expect(Result.isFailure(now.current().decode({ id: "a" }))).toBe(true)
  })

  it("refuses to restore the decisions of another flow", () => {
    expect(() => declaredDecisions(entryOf(ORDERS), 1024).restore(JSON.stringify({ rates: [], maxMessageBytes: 1 }))).toThrow(/not the decisions of a declared feed/)
  })
})
