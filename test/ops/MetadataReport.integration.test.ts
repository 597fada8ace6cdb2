/**
 * `sluice metadata report` on a lake a real `sluice run` wrote (small windows and frequent
 * checkpoints, so the logs are replayed from a checkpoint): every figure equals what DuckDB finds in
 * the tables' live files and what Kafka holds, as JSON, as a table and as CSV.
 */
import { readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { parquetRelation, withDuckDb } from "../../src/ops/DuckDb.ts"
import { type PartitionOffsets, topicId, topicOffsets } from "../../src/ops/KafkaAdmin.ts"
import type { FeedReport } from "../../src/ops/MetadataReport.ts"
import { liveFiles } from "../support/Lake.ts"
import { runSluice, sandbox } from "../support/Sluice.ts"

const brokers = inject("kafkaBrokers")
const box = sandbox("metadata", brokers, { SLUICE_WINDOW_MAX_RECORDS: "400", SLUICE_CHECKPOINT_INTERVAL: "3" })
const sluice = (...args: Array<string>) => runSluice(args, box.env)
let ends: ReadonlyArray<PartitionOffsets> = []
let id = ""
let reports: Array<FeedReport> = []

beforeAll(async () => {
  const produce = await sluice("produce", "--topic", box.topic, "--messages", "3000", "--partitions", "2", "--bad-ratio", "0.03", "--seed", "4")
  expect(produce.code, produce.output).toBe(0)
  const run = await sluice("run", "--until-idle", "1500")
  expect(run.code, run.output).toBe(0)
  ends = await Effect.runPromise(topicOffsets([brokers], box.topic))
  id = (await Effect.runPromise(topicId([brokers], box.topic)))!
  const report = await sluice("metadata", "report", "--json", "--csv", path.join(box.lake, "report.csv"))
  expect(report.code, report.output).toBe(0)
  reports = JSON.parse(report.output.slice(0, report.output.lastIndexOf("]") + 1)) as Array<FeedReport>
}, 600_000)

afterAll(box.cleanup)

const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))
const reportOf = (folder: string) => {
  const r = reports.find((x) => x.folder === folder)
  expect(r, `no report of ${folder}`).toBeDefined()
  return r!
}

describe("sluice metadata report", () => {
  it("reports every table of the lake", () => {
    expect(reports.map((r) => r.folder)).toEqual([
      `_deadletter/${box.topic}`,
      "streams/transaction_flattened",
      "streams/transaction_stream",
      "streams/transaction_stream_anonymized",
      "streams/transaction_stream_blacklisted",
      "tables/payment_method_totals",
      "tables/product_purchase_counts",
      "tables/user_transaction_summary",
      "tables/user_transaction_summary_eur"
    ])
  })

  it.each([
    { folder: "streams/transaction_stream", column: "event_time" },
    { folder: "streams/transaction_flattened", column: "event_time" },
    { folder: "_deadletter", column: "_kafka_timestamp" }
  ])("gives $folder's rows, files, bytes, date partitions and event times as its live files hold them", async ({ folder, column }) => {
    const table = folder === "_deadletter" ? `_deadletter/${box.topic}` : folder
    const r = reportOf(table)
    const files = await liveFiles(box.lake, table)
    const [d] = await duck(`
      SELECT count(*) AS n, count(DISTINCT strftime(${column} AT TIME ZONE 'UTC', '%Y-%m-%d')) AS days,
             epoch_ms(min(${column})) AS first, epoch_ms(max(${column})) AS last
      FROM ${parquetRelation(files, "")}`)
    expect(r.rows).toBe(Number(d!.n))
    expect(r.rows).toBeGreaterThan(0)
    expect(r.files).toBe(files.length)
    expect(r.bytes).toBe(files.reduce((n, f) => n + statSync(f).size, 0))
    expect(r.eventTimeColumn).toBe(column)
    expect(r.firstEventTime).toBe(new Date(Number(d!.first)).toISOString())
    expect(r.lastEventTime).toBe(new Date(Number(d!.last)).toISOString())
    // Dead letters are filed by their Kafka timestamp, the streams by event time: one folder per UTC day.
    expect(r.partitions).toBe(Number(d!.days))
    expect(Object.values(r.partitionFolders).reduce((n, p) => n + p.records, 0)).toBe(r.rows)
    expect(Date.parse(r.lastCommit!)).toBeLessThanOrEqual(Date.now())
    // Every partition committed up to Kafka's last offset, under this topic incarnation.
    expect(r.committedOffsets.map((o) => [o.feed, o.topic, o.topicId, o.partition, o.offset])).toEqual(
      ends.map((e) => [r.feed, box.topic, id, e.partition, e.end - 1])
    )
  })

  it("gives a table snapshot's number and the offsets of the feed it was computed from", async () => {
    const r = reportOf("tables/user_transaction_summary")
    expect(r.snapshot).toBeGreaterThanOrEqual(1)
    expect(r.rows).toBe(Number((await duck(`SELECT count(*) AS n FROM ${parquetRelation(await liveFiles(box.lake, r.folder), "")}`))[0]!.n))
    expect(r.committedOffsets.map((o) => [o.feed, o.partition, o.offset])).toEqual(ends.map((e) => ["transaction_flattened", e.partition, e.end - 1]))
  })

  it("writes the same figures as CSV, one row per feed", () => {
    const lines = readFileSync(path.join(box.lake, "report.csv"), "utf8").trimEnd().split("\r\n")
    expect(lines[0]).toBe("feed,kind,path,description,version,snapshot,rows,files,bytes,partitions,event_time_column,first_event_time,last_event_time,last_commit,committed_offsets")
    expect(lines).toHaveLength(reports.length + 1)
    const stream = reportOf("streams/transaction_stream")
    const row = lines.find((l) => l.startsWith("transaction_stream,streams,"))!
    expect(row).toContain(`,${stream.rows},${stream.files},${stream.bytes},${stream.partitions},event_time,${stream.firstEventTime},${stream.lastEventTime},${stream.lastCommit},`)
    expect(row.endsWith(ends.map((e) => `transaction_stream@${box.topic}#${id}/${e.partition}=${e.end - 1}`).join(" "))).toBe(true)
  })

  it("reports one feed by name or folder, and refuses one the lake does not have", async () => {
    const one = await sluice("metadata", "report", "--feed", "/streams/transaction_flattened/")
    expect(one.code, one.output).toBe(0)
    expect(one.output.trim().split("\n").map((l) => l.split(/\s+/)[0])).toEqual(["feed", "streams/transaction_flattened"])
    const none = await sluice("metadata", "report", "--feed", "nope")
    expect(none.code).toBe(1)
    expect(none.output).toBe(`sluice: --feed nope: no such feed in ${box.lake} (sluice feeds list shows them)\n`)
  })
})
