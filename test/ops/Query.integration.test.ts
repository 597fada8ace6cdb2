/**
 * `sluice query` on a lake a real `sluice run` wrote (lake and MariaDB warehouse): every feed is a
 * view of its table's live files (a stray file in a table's folder is not read), declared feeds
 * without data are empty views of their declared columns, and `--as` holds a query to what the
 * user's grants let them read: admin implies write implies read, folders cover what is under
 * them, expired grants count as none, and no file outside the readable feeds can be opened.
 */
import { copyFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { Effect, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { centsToDecimal } from "../../src/domain/Money.ts"
import { grantPermission } from "../../src/ops/Permissions.ts"
import { openMysqlWarehouse } from "../../src/sinks/warehouse/MysqlWarehouse.ts"
import { expectedFromProduce } from "../support/Expected.ts"
import { liveFiles } from "../support/Lake.ts"
import { runSluice, sandbox } from "../support/Sluice.ts"

const MESSAGES = 4_000
const SEED = 21
const BAD_RATIO = 0.02
const box = sandbox("query", inject("kafkaBrokers"), { SLUICE_WINDOW_MAX_RECORDS: "700" }, inject("mysqlUrl"))
const produced = expectedFromProduce(MESSAGES, SEED, BAD_RATIO)
const sluice = (...args: Array<string>) => runSluice(args, box.env)

/** The rows a `--json` query printed. */
const rowsOf = (output: string) => JSON.parse(output) as Array<Record<string, unknown>>

beforeAll(async () => {
  expect(box.mysqlUrl, "the integration tests need a MySQL/MariaDB").toBeDefined()
  const produce = await sluice("produce", "--topic", box.topic, "--messages", String(MESSAGES), "--partitions", "2", "--bad-ratio", String(BAD_RATIO), "--seed", String(SEED))
  expect(produce.code, produce.output).toBe(0)
  const run = await sluice("run", "--until-idle", "1500")
  expect(run.code, run.output).toBe(0)
  writeFileSync(path.join(box.lake, "orders.json"), JSON.stringify({ fields: { order_id: "string", amount: "decimal(12,2)", placed_at: "timestamp", "customer?": { id: "string" } } }))
  const add = await sluice("feeds", "add", "--name", "orders", "--type", "stream", "--topic", `orders_${box.id}`, "--schema", path.join(box.lake, "orders.json"), "--partition-by", "placed_at")
  expect(add.code, add.output).toBe(0)
  // A copy of a live file under a name no commit gives: a glob would count its rows twice.
  const [live] = await liveFiles(box.lake, "streams/transaction_stream")
  copyFileSync(live!, path.join(path.dirname(live!), "part-0-0-0-0-000000000000-deadbeef.parquet"))
}, 600_000)

afterAll(box.cleanup)

describe("sluice query as the operator", () => {
  it("reads each feed through its Delta log: the rows and sums the seeded producer sent, not a stray file", async () => {
    const q = await sluice("query", "--json", "SELECT count(*) AS n, sum(amount)::VARCHAR AS total, count(DISTINCT (_kafka_partition, _kafka_offset)) AS distinct_offsets FROM transaction_stream")
    expect(q.code, q.output).toBe(0)
    expect(rowsOf(q.output)).toEqual([{ n: String(produced.valid), total: centsToDecimal(produced.validCents), distinct_offsets: String(produced.valid) }])
    const letters = await sluice("query", "--json", `SELECT count(*) AS n FROM _deadletter."${box.topic}"`)
    expect(rowsOf(letters.output)).toEqual([{ n: String(produced.malformed) }])
  })

  it("names every feed of the lake: streams and tables unqualified or in their schema, dead letters in theirs, declared feeds too", async () => {
    const q = await sluice("query", "--json", "SELECT schema_name AS s, view_name AS v FROM duckdb_views() WHERE NOT internal ORDER BY ALL")
    expect(rowsOf(q.output)).toEqual([
      { s: "_deadletter", v: box.topic },
      { s: "streams", v: "orders" },
      { s: "streams", v: "transaction_flattened" },
      { s: "streams", v: "transaction_stream" },
      { s: "streams", v: "transaction_stream_anonymized" },
      { s: "streams", v: "transaction_stream_blacklisted" },
      { s: "tables", v: "payment_method_totals" },
      { s: "tables", v: "product_purchase_counts" },
      { s: "tables", v: "user_transaction_summary" },
      { s: "tables", v: "user_transaction_summary_eur" }
    ])
    const facts = await sluice("query", "--json", "SELECT sum(transaction_count) AS n, min(version) AS first, max(version) AS last FROM user_transaction_summary")
    expect(rowsOf(facts.output)).toEqual([{ n: String(produced.counted), first: "v1", last: "v1" }])
    const declared = await sluice("query", "--json", "SELECT column_name AS c, column_type AS t FROM (DESCRIBE orders)")
    expect(rowsOf(declared.output)).toEqual([
      { c: "order_id", t: "VARCHAR" },
      { c: "amount", t: "DECIMAL(18,2)" },
      { c: "placed_at", t: "TIMESTAMP WITH TIME ZONE" },
      { c: "customer", t: 'STRUCT(id VARCHAR)' },
      { c: "_kafka_partition", t: "INTEGER" },
      { c: "_kafka_offset", t: "BIGINT" },
      { c: "_kafka_timestamp", t: "TIMESTAMP WITH TIME ZONE" },
      { c: "year", t: "INTEGER" },
      { c: "month", t: "INTEGER" },
      { c: "day", t: "INTEGER" }
    ])
  })

  it("prints a table with a row count, and refuses anything but one SELECT with a one-line reason", async () => {
    const q = await sluice("query", "SELECT status, count(*) AS n FROM streams.transaction_stream WHERE status = 'failed' GROUP BY ALL")
    expect(q.code, q.output).toBe(0)
    expect(q.output).toMatch(/^status\s+n\nfailed\s+\d+\n\(1 row\)\n$/)
    for (const [sql, reason] of [
      ["DROP VIEW transaction_stream", "sluice query runs one SELECT statement"],
      [`COPY (SELECT 1) TO '${path.join(box.lake, "x.csv")}'`, "sluice query runs one SELECT statement"],
      ["SELECT 1; SELECT 2", "sluice query runs one statement at a time, not 2"],
      ["SELEC 1", "sluice: the query does not parse: syntax error at or near \"SELEC\""],
      ["SELECT nothing FROM transaction_stream", "sluice: DuckDB: Binder Error: Referenced column \"nothing\" not found"]
    ] as const) {
      const bad = await sluice("query", sql)
      expect(bad.code).toBe(1)
      expect(bad.output.trim().split("\n")).toHaveLength(1)
      expect(bad.output).toContain(reason)
    }
  })
})

describe("sluice query --as a user", () => {
  beforeAll(async () => {
    for (const [email, folder, permission] of [
      ["alice@example.com", "streams/transaction_stream", "read"],
      ["bob@example.com", "streams", "admin"],
      ["dave@example.com", "tables", "read"],
      ["erin@example.com", "/", "write"]
    ] as const) {
      const g = await sluice("permissions", "grant", "--email", email, "--folder", folder, "--permission", permission, "--granted-by", "admin@example.com")
      expect(g.code, g.output).toBe(0)
    }
    // Carol's grant on the whole lake expired yesterday.
    const day = 86_400_000
    await Effect.runPromise(Effect.scoped(Effect.flatMap(openMysqlWarehouse(Redacted.make(box.mysqlUrl!)), (w) =>
      grantPermission(w, { email: "carol@example.com", folder: "/", permission: "admin", grantedBy: "admin@example.com", expiresAt: Date.now() - day }, Date.now() - 2 * day))))
  })

  it("reads the feeds a grant covers, at its level or below", async () => {
    const count = `SELECT count(*) AS n FROM transaction_stream`
    for (const email of ["alice@example.com", "bob@example.com", "erin@example.com"]) {
      const q = await sluice("query", "--as", email, "--json", count)
      expect(q.code, q.output).toBe(0)
      expect(rowsOf(q.output)).toEqual([{ n: String(produced.valid) }])
    }
    const flattened = await sluice("query", "--as", "Bob@Example.com", "--json", "SELECT count(*) AS n FROM streams.transaction_flattened")
    expect(rowsOf(flattened.output)).toEqual([{ n: String(produced.valid) }])
    const tables = await sluice("query", "--as", "dave@example.com", "--json", "SELECT sum(transaction_count) AS n FROM user_transaction_summary")
    expect(rowsOf(tables.output)).toEqual([{ n: String(produced.counted) }])
    const letters = await sluice("query", "--as", "erin@example.com", "--json", `SELECT count(*) AS n FROM _deadletter."${box.topic}"`)
    expect(rowsOf(letters.output)).toEqual([{ n: String(produced.malformed) }])
  })

  it("refuses, naming them, the feeds a user may not read, however the query names them", async () => {
    for (const [email, sql, reason] of [
      ["alice@example.com", "SELECT count(*) FROM transaction_stream JOIN streams.transaction_flattened USING (transaction_id)", "permission denied: alice@example.com may not read streams/transaction_flattened (no grant in force covers it)"],
      ["alice@example.com", "SELECT * FROM (SELECT transaction_id FROM transaction_stream_anonymized) WHERE transaction_id IN (SELECT transaction_id FROM transaction_flattened)", "may not read streams/transaction_stream_anonymized (no grant in force covers it), streams/transaction_flattened (no grant in force covers it)"],
      ["alice@example.com", `SELECT count(*) FROM _deadletter."${box.topic}"`, `may not read _deadletter/${box.topic}`],
      ["bob@example.com", "SELECT count(*) FROM tables.payment_method_totals", "bob@example.com may not read tables/payment_method_totals (no grant in force covers it)"],
      ["carol@example.com", "SELECT count(*) FROM transaction_stream", "carol@example.com may not read streams/transaction_stream (no grant in force covers it)"],
      ["dave@example.com", "SUMMARIZE transaction_stream", "dave@example.com may not read streams/transaction_stream"],
      ["frank@example.com", "WITH t AS (SELECT * FROM transaction_stream) SELECT count(*) FROM t", "frank@example.com may not read streams/transaction_stream"]
    ] as const) {
      const q = await sluice("query", "--as", email, sql)
      expect(q.code, q.output).toBe(1)
      expect(q.output.trim().split("\n")).toHaveLength(1)
      expect(q.output).toContain(reason)
    }
  })

  it("shows in the report only the figures of the feeds a user may read", async () => {
    const report = async (email: string) => {
      const r = await sluice("report", "transactions", "--json", "--as", email)
      expect(r.code, r.output).toBe(0)
      const figures = JSON.parse(r.output) as Record<string, { _tag: string; feed?: string; value?: { count?: number } }>
      return { transactions: figures["transactions"]!, deadLetters: figures["deadLetters"]! }
    }
    const bob = await report("bob@example.com")
    expect(bob.transactions._tag).toBe("Shown")
    expect(bob.deadLetters).toEqual({ _tag: "Denied", feed: `_deadletter/${box.topic}` })
    const erin = await report("erin@example.com")
    expect([erin.transactions._tag, erin.deadLetters._tag]).toEqual(["Shown", "Shown"])
    for (const email of ["carol@example.com", "dave@example.com"]) {
      const denied = await report(email)
      expect(denied.transactions).toEqual({ _tag: "Denied", feed: "streams/transaction_flattened" })
      expect(denied.deadLetters._tag).toBe("Denied")
    }
    const text = await sluice("report", "transactions", "--as", "dave@example.com")
    expect(text.output).toContain("not shown: reading streams/transaction_flattened is not permitted")
    const bad = await sluice("report", "--as", "not-an-email")
    expect(bad.code).toBe(1)
    expect(bad.output.trim().split("\n")).toHaveLength(1)
    expect(bad.output).toContain("--as:")
  })

  it("opens no file but those of the feeds the user may read", async () => {
    const [other] = await liveFiles(box.lake, "streams/transaction_flattened")
    for (const sql of [`SELECT count(*) FROM read_parquet('${other}')`, `SELECT count(*) FROM read_text('${path.join(box.lake, "orders.json")}')`]) {
      const q = await sluice("query", "--as", "alice@example.com", sql)
      expect(q.code).toBe(1)
      expect(q.output).toContain("sluice: permission denied: as alice@example.com, a query reads the lake only through the views of the feeds they may read (streams.transaction_stream)")
    }
    const cte = await sluice("query", "--as", "frank@example.com", "--json", "WITH transaction_stream AS (SELECT 42 AS answer) SELECT answer FROM transaction_stream")
    expect(rowsOf(cte.output)).toEqual([{ answer: 42 }])
  })
})
