/**
 * `sluice schedule` over a lake a real `sluice run` wrote: `--once` snapshots the tables, compacts,
 * applies the retention, and vacuums what is past its retention (and only that); as a service it runs its tasks, logs a line
 * per run and stops on SIGTERM; a schedule with every task off is refused.
 */
import { existsSync, readdirSync, utimesSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"

const brokers = inject("kafkaBrokers")
const box = sandbox("schedule", brokers)
const sluice = (...args: Array<string>) => runSluice(args, box.env)
const commits = (table: string) => readdirSync(path.join(box.lake, table, "_delta_log")).filter((f) => f.endsWith(".json")).length

beforeAll(async () => {
  const produce = await sluice("produce", "--topic", box.topic, "--messages", "2000", "--partitions", "2", "--seed", "8")
  expect(produce.code, produce.output).toBe(0)
  const run = await sluice("run", "--until-idle", "1500")
  expect(run.code, run.output).toBe(0)
}, 600_000)

afterAll(box.cleanup)

describe("sluice schedule", () => {
  it("--once snapshots, compacts, expires and vacuums only what is past the retention, in that order, and the lake still verifies", async () => {
    const day = path.join(box.lake, "streams/transaction_stream")
    // Files no commit names: one written 3 hours ago, one just now (a writer may still commit it).
    const old = path.join(day, "part-old-orphan.parquet")
    const fresh = path.join(day, "part-fresh-orphan.parquet")
    writeFileSync(old, "not a table file")
    writeFileSync(fresh, "not a table file")
    const threeHoursAgo = new Date(Date.now() - 3 * 3_600_000)
    utimesSync(old, threeHoursAgo, threeHoursAgo)
    const before = commits("tables/payment_method_totals")

    const once = await sluice("schedule", "--once", "--retain-hours", "1", "--target-file-mb", "1", "--retention-days", "36500", "--keep-versions", "1")
    expect(once.code, once.output).toBe(0)
    expect(once.output).toMatch(/snapshot: aggregate and sales tables up to date/)
    expect(once.output).toMatch(/compact: \d+ live files became \d+ in 9 tables/)
    expect(once.output).toMatch(/retention: 0 day partitions older than 36500 days removed \(0 files\) from 5 streams; [1-9]\d* files of snapshots before the last 1 deleted from 4 tables/)
    expect(once.output).toMatch(/vacuum: deleted 1 files/)
    // Tasks in order: what compaction and retention leave behind, vacuum sees the same run.
    expect(once.output.indexOf("snapshot: aggregate")).toBeLessThan(once.output.indexOf("compact: "))
    expect(once.output.indexOf("compact: ")).toBeLessThan(once.output.indexOf("retention: "))
    expect(once.output.indexOf("retention: ")).toBeLessThan(once.output.indexOf("vacuum: deleted"))
    expect(existsSync(old)).toBe(false)
    expect(existsSync(fresh)).toBe(true)
    expect(commits("tables/payment_method_totals")).toBe(before + 1)

    const verify = await sluice("verify")
    expect(verify.code, verify.output).toBe(0)
  }, 300_000)

  it("runs as a service until SIGTERM, a log line per run", async () => {
    const service = spawnSluice(["schedule", "--snapshot-every", "1", "--compact-every", "0", "--vacuum-every", "60"], box.env)
    await service.waitFor(/sluice schedule: snapshot every 1 min, vacuum every 60 min/, 120_000)
    await service.waitFor(/vacuum: deleted \d+ files/, 120_000)
    await service.waitFor(/snapshot: aggregate and sales tables up to date/, 120_000)
    service.child.kill("SIGTERM")
    const { code } = await service.exited
    expect(code, service.output()).toBe(0)
  }, 300_000)

  it("refuses a schedule with every task off, in one line", async () => {
    const off = await sluice("schedule", "--snapshot-every", "0", "--compact-every", "0", "--vacuum-every", "0")
    expect(off.code).not.toBe(0)
    expect(off.output.trim()).toBe("sluice: every task is off (each --…-every is 0, and retention needs --retention-days or --keep-versions): nothing to schedule")
  }, 120_000)
})
