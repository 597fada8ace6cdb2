/**
 * `sluice backfill` against the real broker: two days of transactions (Kafka timestamps set by the
 * producer) consumed by `sluice run`, then the files that hold only the first day's rows removed
 * from every feed by a Delta commit (a real gap: `sluice verify` fails). The backfill writes back
 * exactly what was removed, rows and dead letters; a second one, or one of the other day, writes
 * nothing; two backfills beside a `sluice run` that is writing double nothing; and a range of days
 * is done one day at a time with the same result.
 */
import { Producer } from "@platformatic/kafka"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { ensureTopic } from "../../src/ops/KafkaAdmin.ts"
import type { BackfillRangeReport, BackfillReport } from "../../src/ops/Backfill.ts"
import type { Add } from "../../src/sinks/lake/DeltaAction.ts"
import { openDeltaTable, readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { offsetsForTimes } from "../../src/topology/TopicReader.ts"
import { liveRelation } from "../support/Lake.ts"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"

const brokers = inject("kafkaBrokers")
const box = sandbox("backfill", brokers, { SLUICE_WINDOW_MAX_RECORDS: "250" })
const sluice = (...args: Array<string>) => runSluice(args, box.env)

const DAY_A = "2026-03-01"
const DAY_B = "2026-03-02"
const A_MS = Date.UTC(2026, 2, 1)
const B_MS = Date.UTC(2026, 2, 2)
const generate = makeMessageGenerator({ seed: 11, badRatio: 0.04 })

/** Sends `n` generated messages stamped from `startMs` on, `stepMs` apart, in batches of `batch` every `pauseMs`. */
const send = async (n: number, startMs: number, stepMs: number, batch = 200, pauseMs = 0) => {
  const producer = new Producer({ clientId: "test-backfill", bootstrapBrokers: [brokers], idempotent: true, acks: -1 })
  try {
    for (let i = 0; i < n; i += batch) {
      const messages = Array.from({ length: Math.min(batch, n - i) }, (_, j) => {
        const m = generate()
        return { topic: box.topic, key: Buffer.from(m.key), value: m.value, timestamp: BigInt(startMs + (i + j) * stepMs) }
      })
      await producer.send({ messages })
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs))
    }
  } finally {
    await producer.close().catch(() => undefined)
  }
}

const TABLES = [
  "streams/transaction_stream",
  "streams/transaction_flattened",
  "streams/transaction_stream_anonymized",
  "streams/transaction_stream_blacklisted",
  `_deadletter/${"TOPIC"}`
]
const tables = () => TABLES.map((t) => t.replace("TOPIC", box.topic))

const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))

/** Rows and distinct (partition, offset) pairs of each table's live files. */
const counts = async () => {
  const out: Record<string, { rows: number; distinct: number }> = {}
  for (const t of tables()) {
    const [r] = await duck(`SELECT count(*) AS n, count(DISTINCT (_kafka_partition, _kafka_offset)) AS d FROM ${await liveRelation(box.lake, t)}`)
    out[t] = { rows: Number(r!.n), distinct: Number(r!.d) }
  }
  return out
}

/**
 * Removes from every table, in one Delta commit each, the live files whose rows all lie at offsets
 * stamped on day A (below each partition's first offset of day B); returns the rows removed per table.
 */
const removeDayA = async (): Promise<Record<string, number>> => {
  const store = makeLocalStore(box.lake)
  const dayB = await Effect.runPromise(offsetsForTimes([brokers], box.topic, B_MS, B_MS + 86_400_000))
  const removed: Record<string, number> = {}
  for (const root of tables()) {
    const snapshot = await Effect.runPromise(readSnapshot(store, root))
    const gone: Array<Add> = []
    for (const add of snapshot.files.values()) {
      const stats = JSON.parse(add.stats!) as { numRecords: number; minValues: Record<string, number>; maxValues: Record<string, number> }
      const p = stats.minValues._kafka_partition!
      if (p === stats.maxValues._kafka_partition && stats.maxValues._kafka_offset! < dayB[p]!.from) gone.push(add)
    }
    removed[root] = gone.reduce((n, a) => n + (JSON.parse(a.stats!) as { numRecords: number }).numRecords, 0)
    if (gone.length === 0) continue
    const table = await Effect.runPromise(openDeltaTable({ store, root, metaData: snapshot.metaData!, protocol: snapshot.protocol!, checkpointInterval: 100 }))
    await Effect.runPromise(table.commit({
      txns: [],
      adds: [],
      removes: gone.map((a) => ({ path: a.path, deletionTimestamp: Date.now(), dataChange: true, partitionValues: a.partitionValues, size: a.size })),
      operation: "DELETE"
    }))
  }
  return removed
}

/** The report `--json` prints last, after the log lines of its commits. */
const backfillReport = (output: string): BackfillReport =>
  JSON.parse(output.slice(output.lastIndexOf('{\n  "topic"'), output.lastIndexOf("}") + 1)) as BackfillReport
const writtenBy = (r: BackfillReport) => Object.fromEntries(r.feeds.map((f) => [f.table, f.written]))

let full: Record<string, { rows: number; distinct: number }> = {}

beforeAll(async () => {
  await Effect.runPromise(ensureTopic([brokers], box.topic, 2))
  // Day A then day B, 1,500 messages each, every 40 s of their day.
  await send(1_500, A_MS + 60_000, 40_000)
  await send(1_500, B_MS + 60_000, 40_000)
  const run = await sluice("run", "--until-idle", "1500")
  expect(run.code, run.output).toBe(0)
  full = await counts()
}, 180_000)

afterAll(box.cleanup)

describe("sluice backfill", () => {
  it("writes back exactly the rows and dead letters the lake lacks of the day, and verify passes again", async () => {
    const removed = await removeDayA()
    for (const t of tables().filter((t) => !t.includes("blacklisted"))) expect(removed[t], t).toBeGreaterThan(0)
    // A real gap: the tables lack rows of offsets they committed.
    const holed = await counts()
    for (const t of tables()) expect(holed[t]!.rows, t).toBe(full[t]!.rows - removed[t]!)

    const filled = await sluice("backfill", "--stream", box.topic, "--date", DAY_A, "--json")
    expect(filled.code, filled.output).toBe(0)
    const report = backfillReport(filled.output)
    expect(report.records).toBe(1_500)
    expect(writtenBy(report)).toEqual(removed)
    expect(report.feeds.every((f) => f.leftToService === 0 && f.conflicts === 0)).toBe(true)

    const verified = await sluice("verify")
    expect(verified.code, verified.output).toBe(0)
    expect(await counts()).toEqual(full)
  }, 120_000)

  it("writes nothing when run again, nor for a day the lake holds whole; refuses a malformed date and another stream in a line", async () => {
    const [again, other, date, stream] = await Promise.all([
      sluice("backfill", "--stream", box.topic, "--date", DAY_A, "--json"),
      sluice("backfill", "--stream", box.topic, "--date", DAY_B, "--json"),
      sluice("backfill", "--stream", box.topic, "--date", "2026-02-30"),
      sluice("backfill", "--stream", "ventes_stream", "--date", DAY_A)
    ])
    expect(date.code).not.toBe(0)
    expect(date.output.trim()).toBe("sluice: --date 2026-02-30: no such day")
    expect(stream.code).not.toBe(0)
    expect(stream.output).toMatch(/^sluice: --stream ventes_stream: only the transaction topic's feeds are backfilled/)
    expect(stream.output.trim().split("\n")).toHaveLength(1)
    expect(again.code, again.output).toBe(0)
    expect(other.code, other.output).toBe(0)
    expect(backfillReport(again.output).feeds.map((f) => f.written)).toEqual([0, 0, 0, 0, 0])
    expect(backfillReport(other.output).records).toBe(1_500)
    expect(backfillReport(other.output).feeds.map((f) => f.written)).toEqual([0, 0, 0, 0, 0])
    expect(await counts()).toEqual(full)
  }, 120_000)

  it("doubles nothing when two backfills run beside a sluice run that is writing", async () => {
    const removed = await removeDayA()
    // Exits once caught up and idle: after the last of the messages that arrive while the backfills run.
    const service = spawnSluice(["run", "--until-idle", "4000"], box.env)
    const arriving = service.waitFor(/lake: /).then(() => send(1_000, B_MS + 43_200_000, 1_000, 100, 1_000))
    const [one, two] = await Promise.all([
      sluice("backfill", "--stream", box.topic, "--date", DAY_A, "--json"),
      sluice("backfill", "--stream", box.topic, "--date", DAY_A, "--json")
    ])
    await arriving
    expect(one.code, one.output).toBe(0)
    expect(two.code, two.output).toBe(0)
    const a = writtenBy(backfillReport(one.output))
    const b = writtenBy(backfillReport(two.output))
    // Each removed row written back once, by one of the two.
    for (const t of tables()) expect(a[t]! + b[t]!, t).toBe(removed[t])
    expect((await service.exited).code, service.output()).toBe(0)
    const verified = await sluice("verify")
    expect(verified.code, verified.output).toBe(0)
    const now = await counts()
    for (const t of tables()) expect(now[t]!.rows, t).toBe(now[t]!.distinct)
    const stream = now["streams/transaction_stream"]!.rows + now[`_deadletter/${box.topic}`]!.rows
    expect(stream).toBe(4_000)
  }, 150_000)

  it("backfills a range of days one at a time, and refuses a range or a mix of flags that is not one, in a line", async () => {
    const before = await counts()
    const removed = await removeDayA()
    const [range, open, mixed, reversed] = await Promise.all([
      sluice("backfill", "--stream", box.topic, "--from", "2026-02-28", "--to", DAY_B, "--json"),
      sluice("backfill", "--stream", box.topic, "--from", DAY_A),
      sluice("backfill", "--stream", box.topic, "--date", DAY_A, "--from", DAY_A, "--to", DAY_B),
      sluice("backfill", "--stream", box.topic, "--from", DAY_B, "--to", DAY_A)
    ])
    for (const refused of [open, mixed]) {
      expect(refused.code).not.toBe(0)
      expect(refused.output.trim()).toBe("sluice: backfill takes either --date YYYY-MM-DD or both --from YYYY-MM-DD and --to YYYY-MM-DD")
    }
    expect(reversed.code).not.toBe(0)
    expect(reversed.output.trim()).toBe(`sluice: --to ${DAY_A} is before --from ${DAY_B}`)
    expect(range.code, range.output).toBe(0)
    const report = JSON.parse(range.output.slice(range.output.lastIndexOf('{\n  "topic"'), range.output.lastIndexOf("}") + 1)) as BackfillRangeReport
    expect(report.days.map((d) => d.date)).toEqual(["2026-02-28", DAY_A, DAY_B])
    expect(report.days[0]!.records).toBe(0)
    expect(writtenBy(report.days[1]!)).toEqual(removed)
    expect(report.days[2]!.feeds.map((f) => f.written)).toEqual([0, 0, 0, 0, 0])
    expect(await counts()).toEqual(before)
  }, 150_000)
})
