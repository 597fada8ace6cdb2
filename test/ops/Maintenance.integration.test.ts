/**
 * `sluice compact` and `sluice retention` while `sluice run` writes under produce load (small
 * windows, so many small files): the runs and the service's commits interleave, then `sluice
 * verify` finds nothing lost or doubled, every table's `_metadata.json` matches its log, and Delta
 * Kernel reads each table with the rows its log counts. The blacklisted stream (every transaction
 * of the generator is blacklisted by its email domain) loses its old day partitions for real.
 */
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { Producer } from "@platformatic/kafka"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { DAY_MS, daysFromCivil } from "../../src/domain/CivilDate.ts"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { ensureTopic } from "../../src/ops/KafkaAdmin.ts"
import type { CompactionReport } from "../../src/sinks/lake/Compaction.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import type { StreamRetentionReport } from "../../src/sinks/lake/Retention.ts"
import { partitionDay } from "../../src/sinks/lake/Retention.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { buildDeltaReader, readDeltaTable } from "../interop/DeltaReader.ts"
import { liveRelation } from "../support/Lake.ts"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"

const brokers = inject("kafkaBrokers")
const box = sandbox("maintenance", brokers, { SLUICE_WINDOW_MAX_AGE_MS: "200", SLUICE_CHECKPOINT_INTERVAL: "7" })
const sluice = (...args: Array<string>) => runSluice(args, box.env)
afterAll(box.cleanup)

const MESSAGES = 12_000
const STREAMS = ["transaction_stream", "transaction_flattened", "transaction_stream_anonymized", "transaction_stream_blacklisted"]
const BLACKLISTED = "streams/transaction_stream_blacklisted"
// The generator's event times lie from 2026-11-17 to 2026-11-22: partitions before the 20th go.
const cutoff = daysFromCivil(2026, 11, 20)
const days = Math.floor(Date.now() / DAY_MS) - cutoff

const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))
/** The JSON report a command printed (its log lines, on stderr, come before or after it). */
const jsonOf = <A>(output: string): A => {
  const lines = output.split("\n")
  const first = lines.findIndex((l) => /^[[{]/.test(l))
  const last = lines.findLastIndex((l) => /^[\]}]/.test(l))
  return JSON.parse(lines.slice(first, last + 1).join("\n")) as A
}
const snapshotOf = (table: string) => Effect.runPromise(readSnapshot(makeLocalStore(box.lake), table))

const compactions: Array<CompactionReport> = []
const retentions: Array<StreamRetentionReport> = []
let dryRun: StreamRetentionReport | undefined
let verifyOutput = ""
let verifyCode: number | null = null

beforeAll(async () => {
  const kernel = buildDeltaReader()
  // Every generated email is at example.com: the blacklisted stream gets every transaction.
  const blacklist = box.env.SLUICE_BLACKLIST_TOPIC!
  await Effect.runPromise(ensureTopic([brokers], blacklist, 1, [{ name: "cleanup.policy", value: "compact" }]))
  const producer = new Producer({ clientId: "test-maintenance", bootstrapBrokers: [brokers] })
  try {
    await producer.send({
      messages: [{
        topic: blacklist,
        key: Buffer.from("email_domain:example.com"),
        value: Buffer.from(JSON.stringify({ kind: "email_domain", value: "example.com", reason: "test", added_at: "2000-01-01T00:00:00Z" }))
      }]
    })
  } finally {
    await producer.close()
  }
  const service = spawnSluice(["run"], box.env)
  try {
    await service.waitFor(new RegExp(`topic ${box.topic} does not exist yet`))
    // 30 s of load: the service's windows grow while a commit is in flight and several partitions'
    // windows share a commit, so a shorter load could be all committed before compaction's first run.
    const produce = spawnSluice(["produce", "--topic", box.topic, "--messages", String(MESSAGES), "--partitions", "3", "--rate", "400", "--seed", "17"], box.env)
    let producing = true
    void produce.exited.then(() => (producing = false))
    await service.waitFor(/decisions [0-9a-f]{12} in force: .* 1 blacklist entries/, 60_000)
    // While the service writes: compaction over and over, a dry run and a real retention between.
    for (let round = 0; producing || round < 2; round++) {
      const compact = await sluice("compact", "--json", "--target-file-mb", "64")
      expect(compact.code, compact.output).toBe(0)
      compactions.push(...jsonOf<Array<CompactionReport>>(compact.output))
      if (round === 1) {
        const dry = await sluice("retention", "--stream", "transaction_stream", "--days", String(days), "--dry-run", "--json")
        expect(dry.code, dry.output).toBe(0)
        dryRun = jsonOf<StreamRetentionReport>(dry.output)
      }
      if (round % 2 === 0) {
        const real = await sluice("retention", "--stream", "transaction_stream_blacklisted", "--days", String(days), "--json")
        expect(real.code, real.output).toBe(0)
        retentions.push(jsonOf<StreamRetentionReport>(real.output))
      }
    }
    expect((await produce.exited).code, produce.output()).toBe(0)
    const stream = () => liveRelation(box.lake, "streams/transaction_stream")
    for (let i = 0; i < 300 && Number((await duck(`SELECT count(*) AS n FROM ${await stream()}`))[0]!.n) < MESSAGES; i++) {
      await new Promise((r) => setTimeout(r, 200))
    }
    // Once more while the service is up, then the last old rows of the blacklisted stream go.
    const compact = await sluice("compact", "--json")
    expect(compact.code, compact.output).toBe(0)
    compactions.push(...jsonOf<Array<CompactionReport>>(compact.output))
  } finally {
    service.child.kill("SIGTERM")
  }
  expect((await service.exited).code, service.output()).toBe(0)
  const last = await sluice("retention", "--stream", "transaction_stream_blacklisted", "--days", String(days), "--json")
  expect(last.code, last.output).toBe(0)
  retentions.push(jsonOf<StreamRetentionReport>(last.output))
  const verify = await sluice("verify")
  verifyOutput = verify.output
  verifyCode = verify.code
  await kernel
}, 300_000)

describe("compaction and retention while sluice run writes", () => {
  it("compacted for real while windows were committed, and a table ends with far fewer files than it was written with", async () => {
    const rewritten = compactions.flatMap((c) => c.partitions)
    expect(rewritten.length).toBeGreaterThan(0)
    expect(rewritten.every((p) => p.version !== null && p.filesAfter < p.filesBefore)).toBe(true)
    // The service committed windows after compaction's commits: the two wrote the log side by side.
    const log = path.join(box.lake, "streams/transaction_stream/_delta_log")
    const operations = readdirSync(log).filter((f) => /^\d{20}\.json$/.test(f)).sort()
      .map((f) => (JSON.parse(readFileSync(path.join(log, f), "utf8").split("\n")[0]!) as { commitInfo: { operation: string } }).commitInfo.operation)
    expect(operations.indexOf("OPTIMIZE")).toBeGreaterThan(0)
    expect(operations.lastIndexOf("STREAMING UPDATE")).toBeGreaterThan(operations.indexOf("OPTIMIZE"))
    const stream = await snapshotOf("streams/transaction_stream")
    expect(stream.totals.records).toBe(MESSAGES)
    // Six day partitions; compaction leaves few files in each, whatever windows came after its last run.
    expect(stream.totals.byFolder.size).toBe(6)
    expect(stream.totals.files).toBeLessThan(6 * 4)
  })

  it("sluice verify finds nothing lost or doubled", () => {
    expect(verifyCode, verifyOutput).toBe(0)
    expect(verifyOutput).toContain("verify: OK")
  })

  it("the retention dry run listed the old partitions with sizes and removed nothing; the real ones removed them from the blacklisted stream", async () => {
    expect(dryRun!.version).toBeNull()
    expect(dryRun!.partitions.map((p) => p.date).sort()).toEqual(["2026-11-17", "2026-11-18", "2026-11-19"])
    expect(dryRun!.partitions.every((p) => p.bytes > 0 && p.rows > 0)).toBe(true)
    expect((await snapshotOf("streams/transaction_stream")).totals.records).toBe(MESSAGES)
    expect(retentions.some((r) => r.version !== null && r.rows > 0)).toBe(true)
    const blacklisted = await snapshotOf(BLACKLISTED)
    for (const add of blacklisted.files.values()) expect(partitionDay(add.partitionValues)!).toBeGreaterThanOrEqual(cutoff)
    // What is left is exactly the stream's rows of the 20th and after: every transaction is blacklisted.
    const kept = await duck(`SELECT count(*) AS n FROM ${await liveRelation(box.lake, "streams/transaction_stream")} WHERE event_time >= TIMESTAMPTZ '2026-11-20 00:00:00+00'`)
    expect(blacklisted.totals.records).toBe(Number(kept[0]!.n))
    const distinct = await duck(`SELECT count(*) AS n, count(DISTINCT transaction_id) AS d FROM ${await liveRelation(box.lake, BLACKLISTED)}`)
    expect(Number(distinct[0]!.n)).toBe(blacklisted.totals.records)
    expect(Number(distinct[0]!.d)).toBe(blacklisted.totals.records)
  })

  it.each(STREAMS)("Delta Kernel reads streams/%s with the rows its log counts, and _metadata.json agrees", async (name) => {
    const table = `streams/${name}`
    const snapshot = await snapshotOf(table)
    const kernel = await readDeltaTable(path.join(box.lake, table))
    expect(kernel.version).toBe(snapshot.version)
    expect(kernel.rows).toBe(snapshot.totals.records)
    expect(kernel.files).toBe(snapshot.totals.files)
    const metadata = JSON.parse(readFileSync(path.join(box.lake, table, "_metadata.json"), "utf8")) as { records: number; files: number }
    expect(metadata).toMatchObject({ records: snapshot.totals.records, files: snapshot.totals.files })
  })
})
