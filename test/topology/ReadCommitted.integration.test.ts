/**
 * A topic written by a transactional producer, as ksqlDB and Kafka Streams write with
 * exactly_once_v2: the lake and the warehouse hold exactly the committed transactions' messages,
 * and `verify` accounts for the transaction markers and aborted records. And the pattern a fenced
 * zombie leaves: a committed transaction between two aborts of one producer, the second of which
 * holds no data in the partition.
 */
import { Effect, Result } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { decodeTransaction } from "../../src/domain/Transaction.ts"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { ensureTopic } from "../../src/ops/KafkaAdmin.ts"
import { makeTransactionalProducer } from "../../src/sinks/kafka/TransactionalProducer.ts"
import { readTopic } from "../../src/topology/TopicReader.ts"
import { liveRelation } from "../support/Lake.ts"
import { runSluice, sandbox } from "../support/Sluice.ts"
import { countedInWarehouse } from "../support/Warehouse.ts"

const TRANSACTION = 250
const COMMITTED = 5_000
const box = sandbox("txn", inject("kafkaBrokers"), { SLUICE_WINDOW_MAX_RECORDS: "700" }, inject("mysqlUrl"))
afterAll(box.cleanup)

/** The ids of the committed transactions' messages: every other transaction of 250 was aborted. */
const committedIds = (seed: number) => {
  const next = makeMessageGenerator({ seed })
  const ids: Array<string> = []
  let counted = 0
  for (let transaction = 1; ids.length < COMMITTED; transaction++) {
    for (let i = 0; i < TRANSACTION; i++) {
      const m = next()
      if (transaction % 2 === 0) continue
      ids.push(m.key)
      if (Result.getOrThrow(decodeTransaction(JSON.parse(m.value.toString("utf8")))).status !== "failed") counted++
    }
  }
  return { ids, counted }
}

describe("a transactional upstream with aborted transactions", () => {
  it("lands exactly the committed messages, and verify accounts for every offset", async () => {
    const produced = await runSluice(
      ["produce", "--topic", box.topic, "--messages", String(COMMITTED), "--partitions", "2", "--transaction-size", String(TRANSACTION), "--abort-every", "2", "--seed", "11"],
      box.env
    )
    expect(produced.code, produced.output).toBe(0)
    expect(produced.output).toContain("produced 5,000 messages (0 malformed), and 4,750 in aborted transactions")

    const run = await runSluice(["run", "--until-idle", "1000"], box.env)
    expect(run.code, run.output).toBe(0)

    const expected = committedIds(11)
    const stream = await liveRelation(box.lake, "streams/transaction_stream")
    const rows = await Effect.runPromise(withDuckDb((db) => db.query(`SELECT transaction_id AS id FROM ${stream} ORDER BY 1`)))
    expect(rows.map((r) => r.id)).toEqual([...expected.ids].sort())
    expect(await countedInWarehouse(box.mysqlUrl!)).toBe(expected.counted)

    const verify = await runSluice(["verify"], box.env)
    expect(verify.code, verify.output).toBe(0)
    // The aborted messages, and one marker per partition for each of the 39 transactions (20 committed, 19 aborted).
    const withoutData = [...verify.output.matchAll(/(\d+) offsets without data/g)].reduce((n, m) => n + Number(m[1]), 0)
    expect(withoutData).toBe(4_750 + 2 * 39)
  })
})

describe("a committed transaction between two aborts of one producer", () => {
  it("is read whole, though the second abort holds no data in the partition", async () => {
    const brokers = inject("kafkaBrokers")
    const topic = `${box.id}_zombie`
    await Effect.runPromise(ensureTopic([brokers], topic, 1))
    const producer = makeTransactionalProducer({ clientId: "test-zombie", brokers: [brokers], transactionalId: `${box.id}.zombie` })
    const send = (values: ReadonlyArray<string>) => ({ messages: values.map((v) => ({ topic, partition: 0, key: Buffer.from(v), value: Buffer.from(v) })) })
    try {
      const aborted = await producer.beginTransaction()
      await aborted.send(send(["a1", "a2", "a3"]))
      await aborted.abort()
      const committed = await producer.beginTransaction()
      await committed.send(send(["c1", "c2", "c3", "c4"]))
      await committed.commit()
      // The partition joins a transaction that aborts before any data reaches it: a marker alone.
      const empty = await producer.beginTransaction()
      await empty.addPartitions(await producer.metadata({ topics: [topic] }), [{ topic, partition: 0, value: Buffer.alloc(0) }])
      await empty.abort()
      const after = await producer.beginTransaction()
      await after.send(send(["d1"]))
      await after.commit()
    } finally {
      await producer.close()
    }
    const read = await Effect.runPromise(readTopic([brokers], topic))
    expect(read.map((r) => r.value!.toString("utf8"))).toEqual(["c1", "c2", "c3", "c4", "d1"])
  })
})
