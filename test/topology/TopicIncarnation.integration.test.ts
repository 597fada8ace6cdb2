/**
 * Offsets belong to one incarnation of a topic: a topic deleted and created again under the same
 * name is a new source read from its start (the earlier rows stay, reported apart), and offsets
 * deleted from Kafka before any sink read them fail the run with their count, or are skipped
 * when the operator says so.
 */
import { Admin } from "@platformatic/kafka"
import { Effect } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { deleteTopics, topicId, topicPartitions } from "../../src/ops/KafkaAdmin.ts"
import { expectedFromProduce } from "../support/Expected.ts"
import { liveRelation } from "../support/Lake.ts"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"
import { countedInWarehouse } from "../support/Warehouse.ts"

const brokers = inject("kafkaBrokers")
const boxes = [
  sandbox("recreated", brokers, {}, inject("mysqlUrl")),
  sandbox("recreatedlive", brokers, { SLUICE_WINDOW_MAX_AGE_MS: "500" }, inject("mysqlUrl")),
  sandbox("retention", brokers, {})
]
afterAll(() => Promise.all(boxes.map((b) => b.cleanup())))

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const recreate = async (topic: string) => {
  await Effect.runPromise(deleteTopics([brokers], [topic]))
  for (let i = 0; i < 100 && (await Effect.runPromise(topicPartitions([brokers], topic))) !== undefined; i++) await sleep(200)
}

const idsOf = (messages: number, seed: number) => {
  const next = makeMessageGenerator({ seed })
  return Array.from({ length: messages }, () => next().key).sort()
}

/** The stream's transaction ids, per topic incarnation tag of their files' names. */
const streamIds = (lake: string) =>
  liveRelation(lake, "streams/transaction_stream").then((stream) =>
    Effect.runPromise(withDuckDb((db) => db.query(`SELECT transaction_id AS id, _kafka_partition AS p, _kafka_offset AS o FROM ${stream} ORDER BY 1`)))
  )

describe("a topic deleted and created again", () => {
  it("is read from its start by the next run; the earlier rows stay and verify reports them apart", async () => {
    const { topic, env, lake, mysqlUrl } = boxes[0]!
    expect((await runSluice(["produce", "--topic", topic, "--messages", "3000", "--partitions", "2", "--seed", "31"], env)).code).toBe(0)
    const first = await runSluice(["run", "--until-idle", "1000"], env)
    expect(first.code, first.output).toBe(0)
    const oldId = await Effect.runPromise(topicId([brokers], topic))

    await recreate(topic)
    expect((await runSluice(["produce", "--topic", topic, "--messages", "2000", "--partitions", "2", "--seed", "32"], env)).code).toBe(0)
    const newId = await Effect.runPromise(topicId([brokers], topic))
    expect(newId).not.toBe(oldId)
    const second = await runSluice(["run", "--until-idle", "1000"], env)
    expect(second.code, second.output).toBe(0)

    const ids = (await streamIds(lake)).map((r) => r.id)
    expect(ids).toEqual([...idsOf(3000, 31), ...idsOf(2000, 32)].sort())
    expect(await countedInWarehouse(mysqlUrl!)).toBe(expectedFromProduce(3000, 31, 0).counted + expectedFromProduce(2000, 32, 0).counted)
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
    expect(verify.output).toContain(`earlier incarnation ${oldId} in the lake: 3,000 rows`)
    expect(verify.output).toContain(`earlier incarnation ${oldId} in the warehouse`)
  })

  it("while the service runs: it commits what it read of the old topic, then reads the new one from its start", async () => {
    const { topic, env, lake, mysqlUrl } = boxes[1]!
    expect((await runSluice(["produce", "--topic", topic, "--messages", "2000", "--partitions", "2", "--seed", "41"], env)).code).toBe(0)
    const service = spawnSluice(["run"], env)
    try {
      for (let i = 0; i < 150 && (await streamIds(lake).catch(() => [])).length < 2000; i++) await sleep(200)
      expect(await streamIds(lake)).toHaveLength(2000)
      await recreate(topic)
      expect((await runSluice(["produce", "--topic", topic, "--messages", "1500", "--partitions", "2", "--seed", "42"], env)).code).toBe(0)
      for (let i = 0; i < 300 && (await streamIds(lake).catch(() => [])).length < 3500; i++) await sleep(200)
    } finally {
      service.child.kill("SIGTERM")
    }
    const exit = await service.exited
    expect(exit.code, service.output()).toBe(0)
    expect(service.output()).toMatch(/the topic was (deleted|created again)/)
    expect((await streamIds(lake)).map((r) => r.id)).toEqual([...idsOf(2000, 41), ...idsOf(1500, 42)].sort())
    expect(await countedInWarehouse(mysqlUrl!)).toBe(expectedFromProduce(2000, 41, 0).counted + expectedFromProduce(1500, 42, 0).counted)
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
  })
})

describe("offsets deleted from Kafka before any sink read them", () => {
  it("fail the run with their count, unless --on-offset-out-of-range=earliest skips them", async () => {
    const { topic, env, lake } = boxes[2]!
    expect((await runSluice(["produce", "--topic", topic, "--messages", "1000", "--partitions", "1", "--seed", "51"], env)).code).toBe(0)
    expect((await runSluice(["run", "--until-idle", "1000"], env)).code).toBe(0)
    expect((await runSluice(["produce", "--topic", topic, "--messages", "1000", "--partitions", "1", "--seed", "52"], env)).code).toBe(0)
    const admin = new Admin({ clientId: "test-retention", bootstrapBrokers: [brokers] })
    try {
      await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 1500n }] }] })
    } finally {
      await admin.close()
    }
    const failed = await runSluice(["run", "--until-idle", "1000"], env)
    expect(failed.code, failed.output).not.toBe(0)
    expect(failed.output).toContain(`${topic}/0: offsets 1000..1499 (500 offsets) were deleted from Kafka before any sink read them`)
    expect(failed.output).toContain("--on-offset-out-of-range=earliest")

    const skipped = await runSluice(["run", "--until-idle", "1000", "--on-offset-out-of-range=earliest"], env)
    expect(skipped.code, skipped.output).toBe(0)
    expect(skipped.output).toContain("offsets 1000..1499 were deleted from Kafka before any sink read them; skipping to 1500")
    const rows = await streamIds(lake)
    expect(rows.map((r) => Number(r.o)).sort((a, b) => a - b)).toEqual([...Array.from({ length: 1000 }, (_, i) => i), ...Array.from({ length: 500 }, (_, i) => 1500 + i)])
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
  })
})
