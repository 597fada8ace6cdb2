/**
 * Fencing on real MariaDB/MySQL: a second writer of a partition with a stale offset is refused and
 * counts nothing twice; two `sluice run` instances in one consumer group split the partitions and
 * the totals stay exact.
 */
import { Effect, Redacted } from "effect"
import { createConnection } from "mysql2/promise"
import { afterAll, describe, expect, inject, it } from "vitest"
import { migrate } from "../../../src/sinks/warehouse/Migrator.ts"
import { openMysqlWarehouse } from "../../../src/sinks/warehouse/MysqlWarehouse.ts"
import { defaultWarehouseSinkOptions, makeWarehouseSink } from "../../../src/sinks/warehouse/WarehouseSink.ts"
import { expectedFromProduce } from "../../support/Expected.ts"
import { failureOf } from "../../support/Failure.ts"
import { runSluice, sandbox, spawnSluice } from "../../support/Sluice.ts"
import { eurTransactions, spOf, windowOf, writeTestWindow } from "../../support/Windows.ts"

const mysqlBase = inject("mysqlUrl")
const brokers = inject("kafkaBrokers")
const boxes = [sandbox("fence", brokers, {}, mysqlBase), sandbox("group", brokers, { SLUICE_WINDOW_MAX_RECORDS: "2000" }, mysqlBase)]
afterAll(() => Promise.all(boxes.map((b) => b.cleanup())))

const countOf = async (url: string, table: string) => {
  const connection = await createConnection({ uri: url })
  try {
    const [rows] = await connection.query(`SELECT COALESCE(SUM(transaction_count), 0) AS n FROM ${table}`)
    return Number((rows as Array<{ n: string }>)[0]!.n)
  } finally {
    await connection.end()
  }
}

describe("warehouse fencing", () => {
  it("refuses a second writer holding a stale offset, and counts nothing twice", async () => {
    const { mysqlUrl, topic } = boxes[0]!
    expect(mysqlUrl, "the integration tests need a MySQL/MariaDB").toBeDefined()
    const counted = (xs: ReturnType<typeof eurTransactions>) => xs.filter((t) => t.status !== "failed").length
    const first = eurTransactions(1_000, 1)
    const second = eurTransactions(1_000, 2)
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const warehouse = yield* openMysqlWarehouse(Redacted.make(mysqlUrl!))
      yield* migrate(warehouse)
      const options = { ...defaultWarehouseSinkOptions, group: "g" }
      const current = makeWarehouseSink(warehouse, topic, options)
      const zombie = makeWarehouseSink(warehouse, topic, options)
      expect((yield* current.recover(spOf(topic, 0))).next).toBeUndefined()
      expect((yield* zombie.recover(spOf(topic, 0))).next).toBeUndefined()
      yield* writeTestWindow(current, windowOf(topic, 0, 0, first))
      // The zombie read the offsets before the current writer committed: it must be refused.
      const stale = yield* Effect.exit(writeTestWindow(zombie, windowOf(topic, 0, 0, first)))
      expect(failureOf(stale)).toMatchObject({
        _tag: "SinkFenced",
        sink: "warehouse",
        topic,
        partition: 0,
        detail: "sluice_offsets holds 1000, this writer expected no row"
      })
      yield* writeTestWindow(current, windowOf(topic, 0, 1_000, second))
      const stillStale = yield* Effect.exit(writeTestWindow(zombie, windowOf(topic, 0, 1_000, second)))
      expect(failureOf(stillStale)).toMatchObject({ _tag: "SinkFenced", partition: 0, detail: "sluice_offsets holds 2000, this writer expected no row" })
      // Once it recovers, the former zombie resumes where the log of offsets says.
      expect((yield* zombie.recover(spOf(topic, 0))).next).toBe(2_000)
    })))
    expect(await countOf(mysqlUrl!, "fact_user_transaction_summary")).toBe(counted(first) + counted(second))
  })

  it("splits the partitions between two instances of one group, with exact totals", async () => {
    const { topic, env, mysqlUrl } = boxes[1]!
    const produced = await runSluice(["produce", "--topic", topic, "--messages", "40000", "--partitions", "4", "--seed", "5", "--bad-ratio", "0.01"], env)
    expect(produced.code, produced.output).toBe(0)
    // Dynamic members: each instance gets its own share of the partitions.
    const instances = [1, 2].map(() => spawnSluice(["run", "--until-idle", "3000"], { ...env, SLUICE_INSTANCE_ID: undefined }))
    const exits = await Promise.all(instances.map((i) => i.exited))
    for (const [i, exit] of exits.entries()) expect(exit.code, instances[i]!.output()).toBe(0)
    const assigned = instances.map((i) => new Set([...i.output().matchAll(/\/(\d+): assigned/g)].map((m) => m[1])))
    // Both instances took part: each was assigned partitions at some point.
    expect(assigned.map((s) => s.size > 0), instances.map((i) => i.output()).join("\n")).toEqual([true, true])
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
    expect(await countOf(mysqlUrl!, "fact_user_transaction_summary")).toBe(expectedFromProduce(40_000, 5, 0.01).counted)
  })
})
