/**
 * The lake's four aggregate tables after `sluice run`: each latest snapshot holds exactly the
 * warehouse's facts at the offsets it records (every row, every column, compared as text); in
 * lake-only mode they are produced too; `sluice snapshot --keep 2` leaves two versions on disk.
 */
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { readdirSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { createConnection } from "mysql2/promise"
import { afterAll, describe, expect, inject, it } from "vitest"
import { centsToDecimal } from "../../src/domain/Money.ts"
import { parquetRelation, withDuckDb } from "../../src/ops/DuckDb.ts"
import { topicId } from "../../src/ops/KafkaAdmin.ts"
import { TABLES, type TableDefinition } from "../../src/ops/TableSnapshots.ts"
import { readSnapshot } from "../../src/sinks/lake/DeltaLog.ts"
import { SNAPSHOTS_APP_ID } from "../../src/sinks/lake/Snapshot.ts"
import { expectedWarehouse } from "../support/Expected.ts"
import { liveFiles } from "../support/Lake.ts"
import { runSluice, sandbox } from "../support/Sluice.ts"

const brokers = inject("kafkaBrokers")
const mysqlBase = inject("mysqlUrl")
const MESSAGES = 6000
const SEED = 61
const withWarehouse = sandbox("tables-wh", brokers, { SLUICE_WINDOW_MAX_RECORDS: "1000" }, mysqlBase)
const lakeOnly = sandbox("tables-lake", brokers, { SLUICE_WINDOW_MAX_RECORDS: "1000" })
afterAll(() => Promise.all([withWarehouse.cleanup(), lakeOnly.cleanup()]))

const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))

/** Rows as arrays of text in the table's column order, sorted, so that two stores compare exactly. */
const sorted = (rows: Array<Array<string>>) => rows.sort((a, b) => (a.join("\u0000") < b.join("\u0000") ? -1 : 1))

/** A lake table's rows at its latest snapshot, through its Delta log, every column as text. */
const tableText = async (lake: string, table: TableDefinition): Promise<Array<Array<string>>> => {
  const files = await liveFiles(lake, `tables/${table.name}`)
  expect(files).toHaveLength(1)
  const rows = await duck(`SELECT ${table.columns.map((c) => `${c.name}::VARCHAR AS ${c.name}`).join(", ")} FROM ${parquetRelation(files, "")}`)
  return sorted(rows.map((r) => table.columns.map((c) => String(r[c.name]))))
}

const produce = async (box: typeof lakeOnly) => {
  const produced = await runSluice(["produce", "--topic", box.topic, "--messages", String(MESSAGES), "--partitions", "4", "--bad-ratio", "0.01", "--seed", String(SEED)], box.env)
  expect(produced.code, produced.output).toBe(0)
}

describe("the aggregate tables with the warehouse", () => {
  it("are, at their latest snapshot, the warehouse's facts at the offsets the snapshot records", async () => {
    expect(withWarehouse.mysqlUrl, "this test needs a MySQL/MariaDB (MYSQL_URL or the local one)").toBeDefined()
    const { env, lake, topic } = withWarehouse
    await produce(withWarehouse)
    const run = await runSluice(["run", "--until-idle", "500"], env)
    expect(run.code, run.output).toBe(0)
    expect(run.output).toMatch(/snapshot: tables\/user_transaction_summary v1 \(/)

    const id = await Effect.runPromise(topicId([brokers], topic))
    const connection = await createConnection({ uri: withWarehouse.mysqlUrl!, dateStrings: true })
    try {
      const query = async (sql: string) => (await connection.query(sql))[0] as Array<Record<string, unknown>>
      // The warehouse's committed offsets: the last one per partition.
      const warehouseOffsets = new Map((await query(`SELECT \`partition\` AS p, next_offset AS n FROM sluice_offsets WHERE topic = '${topic}' AND topic_id = '${id}'`))
        .map((r) => [`transaction_flattened@${topic}#${id}/${String(r.p)}`, Number(r.n) - 1]))
      expect(warehouseOffsets.size).toBe(4)
      for (const table of TABLES) {
        // What the snapshot reflects: the flattened feed's offsets, which are the warehouse's.
        const log = await Effect.runPromise(readSnapshot(makeLocalStore(path.join(lake, "tables", table.name)), ""))
        expect(log.txns.get(SNAPSHOTS_APP_ID), table.name).toBe(1)
        expect(new Map([...log.txns].filter(([appId]) => appId !== SNAPSHOTS_APP_ID)), table.name).toEqual(warehouseOffsets)

        const facts = await query(`SELECT ${table.columns.map((c) => `CAST(${c.name} AS CHAR) AS ${c.name}`).join(", ")} FROM fact_${table.name}`)
        const warehouse = sorted(facts.map((r) => table.columns.map((c) => String(r[c.name]))))
        expect(warehouse.length, table.name).toBeGreaterThan(20)
        expect(await tableText(lake, table), table.name).toEqual(warehouse)
      }
    } finally {
      await connection.end()
    }
  })
})

describe("the aggregate tables without a warehouse", () => {
  const { env, lake } = lakeOnly

  it("are produced from the lake alone, with what the seeded producer sent", async () => {
    await produce(lakeOnly)
    const run = await runSluice(["run", "--until-idle", "500"], env)
    expect(run.code, run.output).toBe(0)
    expect(run.output).toContain("into lake")

    const expected = expectedWarehouse(MESSAGES, SEED, 0.01)
    const [users, eur, methods, products] = await Promise.all(TABLES.map((t) => tableText(lake, t)))
    const col = (table: TableDefinition, name: string) => table.columns.findIndex((c) => c.name === name)
    const sum = (rows: Array<Array<string>>, i: number) => rows.reduce((n, r) => n + BigInt(r[i]!.replace(".", "")), 0n)
    const [u, e, m, p] = TABLES as [TableDefinition, TableDefinition, TableDefinition, TableDefinition]
    expect({ rows: users!.length, counted: Number(sum(users!, col(u, "transaction_count"))), total: sum(users!, col(u, "total_amount")) })
      .toEqual({ rows: expected.userDays, counted: expected.counted, total: BigInt(expected.totalCents) })
    expect({ rows: eur!.length, counted: Number(sum(eur!, col(e, "transaction_count"))), total: sum(eur!, col(e, "total_amount_eur")) })
      .toEqual({ rows: expected.userDays, counted: expected.counted, total: BigInt(expected.totalEurCents) })
    expect(new Map(methods!.map((r) => [`${r[col(m, "payment_method_id")]}|${r[col(m, "snapshot_date")]}`, { count: Number(r[col(m, "transaction_count")]), eur: r[col(m, "total_amount_eur")] }])))
      .toEqual(new Map([...expected.paymentMethodDays].map(([key, v]) => [key, { count: v.count, eur: centsToDecimal(v.eurCents) }])))
    expect(new Map(products!.map((r) => [
      `${r[col(p, "product_id")]}|${r[col(p, "snapshot_date")]}`,
      { purchases: Number(r[col(p, "purchase_count")]), units: Number(r[col(p, "units_sold")]), revenue: r[col(p, "total_revenue_eur")], buyers: Number(r[col(p, "unique_buyers")]) }
    ]))).toEqual(new Map([...expected.productDays].map(([key, v]) => [key, { purchases: v.purchases, units: v.units, revenue: centsToDecimal(v.revenueEurCents), buyers: v.buyers }])))
  })

  it("keeps only the last two snapshots' files with --keep 2, the latest reading as before", async () => {
    const before = await Promise.all(TABLES.map((t) => tableText(lake, t)))
    for (const n of [2, 3]) {
      const snapshot = await runSluice(["snapshot", "--keep", "2"], env)
      expect(snapshot.code, snapshot.output).toBe(0)
      for (const t of TABLES) expect(snapshot.output).toContain(`tables/${t.name}: version ${n}, `)
    }
    for (const [i, table] of TABLES.entries()) {
      const root = path.join(lake, "tables", table.name)
      const onDisk = readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && !path.relative(root, e.parentPath).startsWith("_delta_log"))
        .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
        .sort()
      expect(onDisk.map((f) => f.replace(/snapshot-(\d+)-[0-9a-f]+\.parquet$/, "snapshot-$1.parquet")), table.name)
        .toEqual(["_metadata.json", "version=v2/snapshot-2.parquet", "version=v3/snapshot-3.parquet"])
      const log = await Effect.runPromise(readSnapshot(makeLocalStore(root), ""))
      expect(log.txns.get(SNAPSHOTS_APP_ID)).toBe(3)
      expect([...log.files.keys()]).toEqual(onDisk.filter((f) => f.startsWith("version=v3/")))
      // No new transactions between the snapshots: the latest holds what the first did.
      expect(await tableText(lake, table), table.name).toEqual(before[i])
    }
  })
})
