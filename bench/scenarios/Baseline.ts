/**
 * The `baseline` and `baseline-lake` scenarios: bench/baselines/NaiveConsumer.ts as its own process,
 * with one INSERT per message into a throw-away MySQL database, or writing Parquet only.
 */
import { mkdirSync, rmSync } from "node:fs"
import * as path from "node:path"
import { createConnection } from "mysql2/promise"
import { type BenchContext, deadlineFor, newGroup, nodeBinary } from "../harness/Context.ts"
import { spawnMeasured } from "../harness/Measure.ts"
import { createDatabase, dropDatabase } from "../harness/Warehouse.ts"
import { throughputRun, type ThroughputRun } from "../report/Results.ts"

export const BASELINE_RATE_MEASURES = "the naive consumer's own figure: first message received → last file written / INSERT done"

/** One INSERT per message is slow: the `baseline` with INSERTs reads only this many messages. */
export const BASELINE_INSERT_CAP = 50_000

const TABLE = `CREATE TABLE transactions (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  transaction_id VARCHAR(64), event_time DATETIME(3), transaction_type VARCHAR(16), status VARCHAR(16),
  amount DECIMAL(18,2), currency VARCHAR(8),
  user_id VARCHAR(32), user_name VARCHAR(128), user_email VARCHAR(255), user_country VARCHAR(8), user_city VARCHAR(64),
  payment_method_id VARCHAR(32), payment_method_name VARCHAR(64), payment_method_category VARCHAR(32),
  product_id VARCHAR(32), product_name VARCHAR(128), product_category VARCHAR(32), product_price DECIMAL(18,2),
  quantity INT, ip_address VARCHAR(45), card_last4 VARCHAR(8)
) ENGINE=InnoDB`

interface NaiveReport {
  readonly consumed: number
  readonly parseErrors: number
  readonly insertErrors: number
  readonly files: number
  readonly busyMs: number
  readonly msgPerSec: number
}

/** One run of the naive consumer: `withInserts` adds the MySQL INSERTs and caps the messages read. */
export const runBaseline = async (ctx: BenchContext, withInserts: boolean, index: number): Promise<ThroughputRun> => {
  const label = withInserts ? "baseline" : "baseline_lake"
  const messages = withInserts ? Math.min(BASELINE_INSERT_CAP, ctx.topic.messages) : ctx.topic.messages
  const out = path.join(ctx.tmpRoot, `${label}-${index}`)
  mkdirSync(out, { recursive: true })
  const database = `sluice_bench_${label}_${ctx.runId}_${index}`
  let mysqlUrl: string | undefined
  try {
    if (withInserts) {
      mysqlUrl = await createDatabase(database)
      const c = await createConnection(mysqlUrl)
      await c.query(TABLE)
      await c.end()
    }
    const run = await spawnMeasured(
      nodeBinary(ctx.root),
      [
        path.join(ctx.root, "bench", "baselines", "NaiveConsumer.ts"),
        "--brokers", ctx.brokers.join(","),
        "--topic", ctx.topic.name,
        "--messages", String(messages),
        "--group", newGroup(ctx, label),
        "--out", out,
        ...(mysqlUrl === undefined ? [] : ["--mysql-url", mysqlUrl])
      ],
      { cwd: ctx.root, timeoutMs: deadlineFor(messages) + (withInserts ? messages * 20 : 0) }
    ).done
    const line = /^baseline: (\{.*\})$/m.exec(run.output)?.[1]
    if (run.exitCode !== 0 || line === undefined) throw new Error(`naive consumer exited ${run.exitCode ?? run.signal}:\n${run.output}`)
    const report = JSON.parse(line) as NaiveReport
    if (report.consumed !== messages) throw new Error(`naive consumer read ${report.consumed} of ${messages} messages`)
    return throughputRun(run, {
      messages,
      msgPerSec: report.msgPerSec,
      busySeconds: report.busyMs / 1000,
      extra: { files: report.files, parseErrors: report.parseErrors, insertErrors: report.insertErrors }
    })
  } finally {
    rmSync(out, { recursive: true, force: true })
    if (withInserts) await dropDatabase(database).catch(() => undefined)
  }
}
