/**
 * A table snapshot killed with SIGKILL after its file is written and after its commit: a reader of
 * the table through its log (our reader with DuckDB, and Delta Kernel) sees the previous version
 * whole or the new one whole, never a mix; the next snapshot succeeds, and the crashed attempt's
 * file goes once its version leaves the kept ones.
 */
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { existsSync, readdirSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { parquetRelation, withDuckDb } from "../../../src/ops/DuckDb.ts"
import { TABLES, type TableDefinition } from "../../../src/ops/TableSnapshots.ts"
import { readSnapshot } from "../../../src/sinks/lake/DeltaLog.ts"
import { SNAPSHOTS_APP_ID } from "../../../src/sinks/lake/Snapshot.ts"
import { buildDeltaReader, readDeltaTable } from "../../interop/DeltaReader.ts"
import { expectedFromProduce } from "../../support/Expected.ts"
import { liveFiles, liveRelation } from "../../support/Lake.ts"
import { runSluice, sandbox, spawnSluice } from "../../support/Sluice.ts"

const box = sandbox("snapshot-crash", inject("kafkaBrokers"), { SLUICE_WINDOW_MAX_AGE_MS: "300" })
afterAll(box.cleanup)
const { env, lake, topic } = box

const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const first = expectedFromProduce(3000, 71, 0)
const second = expectedFromProduce(3000, 72, 0)
const [USERS] = TABLES as [TableDefinition]
const root = (table: TableDefinition) => path.join(lake, "tables", table.name)

/** A table as a reader of its log sees it: the snapshot number, and every row as text, sorted. */
const read = async (table: TableDefinition) => {
  const log = await Effect.runPromise(readSnapshot(makeLocalStore(root(table)), ""))
  const rows = await duck(`SELECT ${table.columns.map((c) => `${c.name}::VARCHAR AS ${c.name}`).join(", ")}
    FROM ${parquetRelation(await liveFiles(lake, `tables/${table.name}`), "")} ORDER BY ALL`)
  return { snapshot: log.txns.get(SNAPSHOTS_APP_ID), rows: rows.map((r) => table.columns.map((c) => String(r[c.name]))) }
}

/** The transactions a snapshot of a table counts, from its rows (every table counts each once, but the products). */
const counted = (table: TableDefinition, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const i = table.columns.findIndex((c) => c.name === "transaction_count")
  return rows.reduce((n, r) => n + Number(r[i]), 0)
}

/** The Parquet files under a table's `version=vN/` folder, committed or not. */
const filesOfVersion = (table: TableDefinition, n: number) => {
  const dir = path.join(root(table), `version=v${n}`)
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".parquet")).map((f) => `version=v${n}/${f}`).sort() : []
}

const snapshotKilledAt = async (point: string) => {
  const crashed = await runSluice(["snapshot"], { ...env, SLUICE_CRASH_AT: point })
  expect(crashed.signal, crashed.output).toBe("SIGKILL")
  expect(crashed.output).toContain(`crash point ${point} reached`)
}

describe("a table snapshot under SIGKILL", () => {
  /** Every table at snapshot 1, over the first 3,000 transactions. */
  const v1 = new Map<string, Array<Array<string>>>()

  beforeAll(async () => {
    const kernel = buildDeltaReader()
    expect((await runSluice(["produce", "--topic", topic, "--messages", "3000", "--partitions", "2", "--seed", "71"], env)).code).toBe(0)
    const run = await runSluice(["run", "--until-idle", "500"], env)
    expect(run.code, run.output).toBe(0)
    for (const t of TABLES) v1.set(t.name, (await read(t)).rows)
    // 3,000 more in the lake but not in the tables: a drained run takes no snapshot.
    expect((await runSluice(["produce", "--topic", topic, "--messages", "3000", "--seed", "72"], env)).code).toBe(0)
    const service = spawnSluice(["run"], env)
    const flattened = () => liveRelation(lake, "streams/transaction_flattened")
    for (let i = 0; i < 150 && Number((await duck(`SELECT count(*) AS n FROM ${await flattened()}`))[0]!.n) < 6000; i++) await sleep(200)
    service.child.kill("SIGTERM")
    expect((await service.exited).code, service.output()).toBe(0)
    expect(Number((await duck(`SELECT count(*) AS n FROM ${await flattened()}`))[0]!.n)).toBe(6000)
    await kernel
  })

  it("after its file is written: every table still reads as version 1, the crashed file in no version", async () => {
    expect(counted(USERS, v1.get(USERS.name)!)).toBe(first.counted)
    await snapshotKilledAt("snapshot:after-write")
    for (const t of TABLES) expect(await read(t), t.name).toEqual({ snapshot: 1, rows: v1.get(t.name) })
    // The first table's new file is on disk, with the 6,000 transactions: a glob over the folders would mix the two.
    const orphans = filesOfVersion(USERS, 2)
    expect(orphans).toHaveLength(1)
    const orphan = await duck(`SELECT sum(transaction_count)::BIGINT AS n FROM read_parquet('${path.join(root(USERS), orphans[0]!)}')`)
    expect(Number(orphan[0]!.n)).toBe(first.counted + second.counted)
    const kernel = await readDeltaTable(root(USERS), { sumColumns: ["transaction_count"], txns: [SNAPSHOTS_APP_ID] })
    expect({ rows: kernel.rows, files: kernel.files, counted: kernel.columns?.transaction_count?.sum, snapshot: kernel.txns?.[SNAPSHOTS_APP_ID] })
      .toEqual({ rows: v1.get(USERS.name)!.length, files: 1, counted: String(first.counted), snapshot: 1 })
    // Vacuum knows it for a file no version names.
    const vacuum = await runSluice(["vacuum", "--retain-hours", "0", "--dry-run", "--json"], env)
    expect(vacuum.code, vacuum.output).toBe(0)
    // The JSON report follows the warning that a retention of 0 h gets (stderr, in the same output).
    const report = (JSON.parse(vacuum.output.slice(vacuum.output.indexOf("[\n"))) as Array<{ table: string; deleted: Array<{ path: string; reason: string }> }>)
      .find((r) => r.table === `tables/${USERS.name}`)!
    expect(report.deleted).toEqual([expect.objectContaining({ path: orphans[0], reason: "uncommitted" })])
  })

  it("after its commit: the first table reads as version 2 whole, the others as version 1 whole", async () => {
    await snapshotKilledAt("snapshot:after-commit")
    const users = await read(USERS)
    expect(users.snapshot).toBe(2)
    expect(counted(USERS, users.rows)).toBe(first.counted + second.counted)
    for (const t of TABLES.slice(1)) expect(await read(t), t.name).toEqual({ snapshot: 1, rows: v1.get(t.name) })
    const kernel = await readDeltaTable(root(USERS), { sumColumns: ["transaction_count"], txns: [SNAPSHOTS_APP_ID] })
    expect({ rows: kernel.rows, files: kernel.files, counted: kernel.columns?.transaction_count?.sum, snapshot: kernel.txns?.[SNAPSHOTS_APP_ID] })
      .toEqual({ rows: users.rows.length, files: 1, counted: String(first.counted + second.counted), snapshot: 2 })
    // Version 1 stays readable by time travel, whole.
    const previous = await readDeltaTable(root(USERS), { version: kernel.version - 1, sumColumns: ["transaction_count"] })
    expect({ rows: previous.rows, counted: previous.columns?.transaction_count?.sum }).toEqual({ rows: v1.get(USERS.name)!.length, counted: String(first.counted) })

    // The next snapshot succeeds, and holds what the crashed one committed.
    const next = await runSluice(["snapshot"], env)
    expect(next.code, next.output).toBe(0)
    expect(await read(USERS)).toEqual({ snapshot: 3, rows: users.rows })
    for (const t of TABLES.slice(1)) {
      const table = await read(t)
      expect(table.snapshot, t.name).toBe(2)
      if (t.columns.some((c) => c.name === "transaction_count")) expect(counted(t, table.rows), t.name).toBe(first.counted + second.counted)
    }
  })

  it("drops the crashed attempt's file once its version leaves the kept ones", async () => {
    // Version 2 of the first table: the committed file and the one of the attempt killed before its commit.
    expect(filesOfVersion(USERS, 2)).toHaveLength(2)
    const keep = await runSluice(["snapshot", "--keep", "2"], env)
    expect(keep.code, keep.output).toBe(0)
    expect(filesOfVersion(USERS, 2)).toEqual([])
    expect(filesOfVersion(USERS, 3)).toHaveLength(1)
    expect(filesOfVersion(USERS, 4)).toEqual([...(await Effect.runPromise(readSnapshot(makeLocalStore(root(USERS)), ""))).files.keys()])
    expect(counted(USERS, (await read(USERS)).rows)).toBe(first.counted + second.counted)
  })
})
