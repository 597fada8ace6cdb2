/**
 * Interop on a real lake: after `sluice run` has written a topic (many small windows, so several
 * checkpoints), Delta Kernel opens each feed's table and finds the rows and sums the seeded producer
 * sent, as DuckDB does, and each partition's txn at Kafka's last offset.
 */
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { centsToDecimal } from "../../src/domain/Money.ts"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { type PartitionOffsets, topicId, topicOffsets } from "../../src/ops/KafkaAdmin.ts"
import { offsetsAppId } from "../../src/sinks/lake/TxnAppId.ts"
import { expectedFromProduce } from "../support/Expected.ts"
import { runSluice, sandbox } from "../support/Sluice.ts"
import { buildDeltaReader, readDeltaTable } from "./DeltaReader.ts"

const MESSAGES = 30_000
const SEED = 11
const BAD_RATIO = 0.02
const brokers = inject("kafkaBrokers")
const { topic, lake, env, cleanup } = sandbox("interop", brokers, {
  SLUICE_WINDOW_MAX_RECORDS: "1500",
  SLUICE_CHECKPOINT_INTERVAL: "4"
})
const produced = expectedFromProduce(MESSAGES, SEED, BAD_RATIO)
/** Kafka's end offset of each partition once the run is done: what every feed's txn must have reached. */
let ends: ReadonlyArray<PartitionOffsets> = []
let id = ""

beforeAll(async () => {
  await buildDeltaReader()
  const produce = await runSluice(["produce", "--topic", topic, "--messages", String(MESSAGES), "--partitions", "3", "--bad-ratio", String(BAD_RATIO), "--seed", String(SEED)], env)
  expect(produce.code, produce.output).toBe(0)
  const run = await runSluice(["run", "--until-idle", "1500"], env)
  expect(run.code, run.output).toBe(0)
  ends = await Effect.runPromise(topicOffsets([brokers], topic))
  id = (await Effect.runPromise(topicId([brokers], topic)))!
})

afterAll(cleanup)

const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))

describe("Delta Kernel on the lake sluice wrote", () => {
  it("has a topic of three partitions, each holding messages", () => {
    expect(ends.map((e) => e.partition)).toEqual([0, 1, 2])
    expect(ends.map((e) => e.start)).toEqual([0, 0, 0])
    expect(Math.min(...ends.map((e) => e.end))).toBeGreaterThan(0)
    expect(ends.reduce((n, e) => n + e.end, 0)).toBe(MESSAGES)
  })

  it.each([
    { table: "streams/transaction_stream", feed: "transaction_stream", column: "amount", rows: produced.valid, sum: centsToDecimal(produced.validCents) },
    { table: "streams/transaction_flattened", feed: "transaction_flattened", column: "amount", rows: produced.valid, sum: centsToDecimal(produced.validCents) },
    // Which offsets the dead letters got is the partitioner's doing: their sum is DuckDB's.
    { table: "_deadletter", feed: topic, column: "_kafka_offset", rows: produced.malformed, sum: undefined }
  ])("reads $table with the rows, sums and offsets DuckDB sees", async ({ table, feed, column, rows, sum }) => {
    const root = path.join(lake, table === "_deadletter" ? `_deadletter/${topic}` : table)
    const appId = (partition: number) => offsetsAppId(feed, { topic, topicId: id, partition })
    expect(ends).toHaveLength(3)
    const kernel = await readDeltaTable(root, { sumColumns: [column], txns: ends.map((e) => appId(e.partition)) })
    const [d] = await duck(
      `SELECT count(*) AS n, sum(${column})::VARCHAR AS total
       FROM read_parquet('${root}/*=*/**/*.parquet', hive_partitioning = true)`
    )
    expect(rows).toBeGreaterThan(0)
    expect(kernel.rows).toBe(rows)
    expect(Number(d!.n)).toBe(rows)
    const expectedSum = sum ?? String(d!.total)
    expect(String(d!.total)).toBe(expectedSum)
    expect(kernel.columns?.[column]?.sum).toBe(expectedSum)
    expect(kernel.partitionColumns).toEqual(["year", "month", "day"])
    expect(kernel.version).toBeGreaterThanOrEqual(8)
    // Every window commits every feed's txn, rows or not: each partition's reached its last offset.
    expect(kernel.txns).toEqual(Object.fromEntries(ends.map((e) => [appId(e.partition), e.end - 1])))
  })

  it("has the stream and the dead letters account for every offset", async () => {
    const [d] = await duck(`
      SELECT count(*) AS n, count(DISTINCT (_kafka_partition, _kafka_offset)) AS distinct_offsets FROM (
        SELECT _kafka_partition, _kafka_offset FROM read_parquet('${lake}/streams/transaction_stream/*=*/**/*.parquet')
        UNION ALL
        SELECT _kafka_partition, _kafka_offset FROM read_parquet('${lake}/_deadletter/${topic}/*=*/**/*.parquet'))`)
    expect(d).toEqual({ n: BigInt(MESSAGES), distinct_offsets: BigInt(MESSAGES) })
  })
})
