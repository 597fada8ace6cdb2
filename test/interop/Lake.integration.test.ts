/**
 * Interop on a real lake: after `sluice run` has written a topic (many small windows, so several
 * checkpoints), Delta Kernel opens each feed's table and finds the rows and sums the seeded producer
 * sent, as DuckDB does, and each partition's txn at Kafka's last offset. The same on a lake in an
 * S3 bucket (the stack's S3Proxy), which Kernel reads through hadoop-aws's `s3a://` with the
 * server's endpoint, path-style, and the credentials in its environment.
 */
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { centsToDecimal } from "../../src/domain/Money.ts"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { type PartitionOffsets, topicId, topicOffsets } from "../../src/ops/KafkaAdmin.ts"
import type { S3ProxyEndpoint } from "../../src/ops/Stack.ts"
import { offsetsAppId } from "../../src/sinks/lake/TxnAppId.ts"
import { expectedFromProduce } from "../support/Expected.ts"
import { dataFiles } from "../support/Lake.ts"
import { runSluice, type Sandbox, sandbox } from "../support/Sluice.ts"
import { buildDeltaReader, readDeltaTable, type ReadDeltaTableOptions } from "./DeltaReader.ts"

const MESSAGES = 30_000
const SEED = 11
const BAD_RATIO = 0.02
const brokers = inject("kafkaBrokers")
const produced = expectedFromProduce(MESSAGES, SEED, BAD_RATIO)
const s3 = inject("s3")

const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))
const list = (files: ReadonlyArray<string>) => `[${files.map((f) => `'${f}'`).join(", ")}]`

/** Where Kernel finds a table of the sandbox's lake, and how it reaches it. */
const kernelTable = (box: Sandbox, server: S3ProxyEndpoint | undefined, table: string): { location: string; options: ReadDeltaTableOptions } =>
  server === undefined
    ? { location: path.join(box.lake, table), options: {} }
    : {
      location: `s3a://${server.bucket}/${box.id}/${table}`,
      options: {
        hadoop: {
          "fs.s3a.endpoint": server.endpoint,
          "fs.s3a.endpoint.region": server.region,
          "fs.s3a.path.style.access": "true",
          "fs.s3a.connection.ssl.enabled": "false"
        },
        env: { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_REGION: server.region }
      }
    }

describe.each([
  { lake: "a local folder", server: undefined },
  { lake: "an S3 bucket", server: s3 }
])("Delta Kernel on the lake sluice wrote, in $lake", ({ lake, server }) => {
  const skip = lake === "an S3 bucket" && server === null
  let box: Sandbox | undefined
  /** Kafka's end offset of each partition once the run is done: what every feed's txn must have reached. */
  let ends: ReadonlyArray<PartitionOffsets> = []
  let id = ""

  beforeAll(async () => {
    if (skip) return
    box = sandbox("interop", brokers, { SLUICE_WINDOW_MAX_RECORDS: "1500", SLUICE_CHECKPOINT_INTERVAL: "4" }, undefined, { s3: server })
    await buildDeltaReader()
    const produce = await runSluice(["produce", "--topic", box.topic, "--messages", String(MESSAGES), "--partitions", "3", "--bad-ratio", String(BAD_RATIO), "--seed", String(SEED)], box.env)
    expect(produce.code, produce.output).toBe(0)
    const run = await runSluice(["run", "--until-idle", "1500"], box.env)
    expect(run.code, run.output).toBe(0)
    ends = await Effect.runPromise(topicOffsets([brokers], box.topic))
    id = (await Effect.runPromise(topicId([brokers], box.topic)))!
  })

  afterAll(() => box?.cleanup())

  it.skipIf(skip)("has a topic of three partitions, each holding messages", () => {
    expect(ends.map((e) => e.partition)).toEqual([0, 1, 2])
    expect(ends.map((e) => e.start)).toEqual([0, 0, 0])
    expect(Math.min(...ends.map((e) => e.end))).toBeGreaterThan(0)
    expect(ends.reduce((n, e) => n + e.end, 0)).toBe(MESSAGES)
  })

  it.skipIf(skip).each([
    { table: "streams/transaction_stream", feed: "transaction_stream", column: "amount", rows: produced.valid, sum: centsToDecimal(produced.validCents) },
    { table: "streams/transaction_flattened", feed: "transaction_flattened", column: "amount", rows: produced.valid, sum: centsToDecimal(produced.validCents) },
    // Which offsets the dead letters got is the partitioner's doing: their sum is DuckDB's.
    { table: "_deadletter", feed: undefined, column: "_kafka_offset", rows: produced.malformed, sum: undefined }
  ])("reads $table with the rows, sums and offsets DuckDB sees", async ({ table, feed, column, rows, sum }) => {
    const { topic } = box!
    const relative = table === "_deadletter" ? `_deadletter/${topic}` : table
    const appId = (partition: number) => offsetsAppId(feed ?? topic, { topic, topicId: id, partition })
    expect(ends).toHaveLength(3)
    const { location, options } = kernelTable(box!, server ?? undefined, relative)
    const kernel = await readDeltaTable(location, { ...options, sumColumns: [column], txns: ends.map((e) => appId(e.partition)) })
    const [d] = await duck(
      `SELECT count(*) AS n, sum(${column})::VARCHAR AS total
       FROM read_parquet(${list(await dataFiles(await box!.reader(), relative))}, hive_partitioning = true)`
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

  it.skipIf(skip)("has the stream and the dead letters account for every offset", async () => {
    const reader = await box!.reader()
    const files = [...await dataFiles(reader, "streams/transaction_stream"), ...await dataFiles(reader, `_deadletter/${box!.topic}`)]
    const [d] = await duck(`
      SELECT count(*) AS n, count(DISTINCT (_kafka_partition, _kafka_offset)) AS distinct_offsets
      FROM read_parquet(${list(files)}, union_by_name = true)`)
    expect(d).toEqual({ n: BigInt(MESSAGES), distinct_offsets: BigInt(MESSAGES) })
  })
})
