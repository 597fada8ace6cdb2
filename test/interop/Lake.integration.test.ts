/**
 * Interop on a real lake: after `sluice run` has written a topic (many small windows, so several
 * checkpoints), Delta Kernel opens each feed's table and finds the same rows and sums as DuckDB.
 */
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { runSluice, sandbox } from "../support/Sluice.ts"
import { buildDeltaReader, readDeltaTable } from "./DeltaReader.ts"

const { topic, lake, env, cleanup } = sandbox("interop", inject("kafkaBrokers"), {
  SLUICE_WINDOW_MAX_RECORDS: "1500",
  SLUICE_CHECKPOINT_INTERVAL: "4"
})

beforeAll(async () => {
  await buildDeltaReader()
  const produced = await runSluice(["produce", "--topic", topic, "--messages", "30000", "--partitions", "3", "--bad-ratio", "0.02", "--seed", "11"], env)
  expect(produced.code, produced.output).toBe(0)
  const run = await runSluice(["run", "--until-idle", "1500"], env)
  expect(run.code, run.output).toBe(0)
})

afterAll(cleanup)

const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))

describe("Delta Kernel on the lake sluice wrote", () => {
  it.each([
    ["streams/transaction_stream", "amount"],
    ["streams/transaction_flattened", "amount"],
    [`_deadletter/${topic}`, "_kafka_offset"]
  ])("reads %s with the rows, sums and offsets DuckDB sees", async (table, column) => {
    const root = path.join(lake, table)
    const kernel = await readDeltaTable(root, {
      sumColumns: [column],
      txns: [0, 1, 2].map((p) => `${path.basename(root) === topic ? topic : path.basename(root)}@${topic}/${p}`)
    })
    const [d] = await duck(
      `SELECT count(*) AS n, sum(${column})::VARCHAR AS total
       FROM read_parquet('${root}/*=*/**/*.parquet', hive_partitioning = true)`
    )
    expect(kernel.rows).toBeGreaterThan(0)
    expect(kernel.rows).toBe(Number(d!.n))
    expect(kernel.columns?.[column]?.sum).toBe(String(d!.total))
    expect(kernel.partitionColumns).toEqual(["year", "month", "day"])
    expect(kernel.version).toBeGreaterThanOrEqual(8)
    for (const offset of Object.values(kernel.txns ?? {})) expect(offset).toBeGreaterThan(0)
  })

  it("has the stream and the dead letters account for every offset", async () => {
    const [d] = await duck(`
      SELECT count(*) AS n, count(DISTINCT (_kafka_partition, _kafka_offset)) AS distinct_offsets FROM (
        SELECT _kafka_partition, _kafka_offset FROM read_parquet('${lake}/streams/transaction_stream/*=*/**/*.parquet')
        UNION ALL
        SELECT _kafka_partition, _kafka_offset FROM read_parquet('${lake}/_deadletter/${topic}/*=*/**/*.parquet'))`)
    expect(d).toEqual({ n: 30_000n, distinct_offsets: 30_000n })
  })
})
