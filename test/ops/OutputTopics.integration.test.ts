/**
 * The output topics, exactly once: 20,000 transactions (some of them by blacklisted users) with
 * `SLUICE_PUBLISH=anonymized,blacklisted,tables`, `sluice run` killed with SIGKILL before and after
 * a Kafka commit, after a table snapshot's commit and at random moments, restarted each time; then a
 * read_committed reader finds each valid transaction once in the anonymized topic, the blacklisted
 * feed once in the blacklisted topic, and each table's latest snapshot as its topic's latest values.
 */
import { Producer } from "@platformatic/kafka"
import { Effect, Result } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { BlacklistTable, decodeBlacklistEntry } from "../../src/domain/Blacklist.ts"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { decodeTransaction, type Transaction } from "../../src/domain/Transaction.ts"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { ensureTopic } from "../../src/ops/KafkaAdmin.ts"
import { TABLES } from "../../src/ops/TableSnapshots.ts"
import { liveRelation } from "../support/Lake.ts"
import { killAtRandomMoments, runSluice, runToCrashPoints, sandbox } from "../support/Sluice.ts"
import { readSettled } from "../support/Topics.ts"

const brokers = inject("kafkaBrokers")
const MESSAGES = 20_000
const SEED = 31
const BAD_RATIO = 0.01
const box = sandbox("publish", brokers, {
  SLUICE_PUBLISH: "anonymized,blacklisted,tables",
  SLUICE_WINDOW_MAX_RECORDS: "800",
  SLUICE_WINDOW_MAX_AGE_MS: "1000",
  // Snapshots (and their publication) while the service runs, so that kills land in them too.
  SLUICE_SNAPSHOT_EVERY: "1 second"
})
afterAll(box.cleanup)
const { env, lake, topic } = box
const prefix = env.SLUICE_PUBLISH_PREFIX!

const duck = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))
const read = (name: string) => readSettled(brokers, name)

/** The valid transactions the seeded producer sends. */
const validTransactions = (): Array<Transaction> => {
  const next = makeMessageGenerator({ seed: SEED, badRatio: BAD_RATIO })
  const out: Array<Transaction> = []
  for (let i = 0; i < MESSAGES; i++) {
    const m = next()
    if (m.bad === undefined) out.push(Result.getOrThrow(decodeTransaction(JSON.parse(m.value.toString("utf8")))))
  }
  return out
}

/** How many times each key occurs. */
const counts = (keys: ReadonlyArray<string>) => {
  const n = new Map<string, number>()
  for (const k of keys) n.set(k, (n.get(k) ?? 0) + 1)
  return n
}

describe("output topics under SIGKILL", () => {
  it("hold every expected message once for a read_committed reader", async () => {
    const valid = validTransactions()
    // Two users and an address of the stream, on the blacklist from before the first run.
    const wire = [
      { kind: "user_id", value: valid[0]!.user.id, reason: "chargebacks", added_at: "2000-01-01T00:00:00Z" },
      { kind: "user_id", value: valid[1]!.user.id, reason: "fraud ring", added_at: "2000-01-01T00:00:00Z" },
      { kind: "ip", value: valid.find((t) => t.ipAddress !== null)!.ipAddress!, reason: "botnet", added_at: "2000-01-01T00:00:00Z" }
    ]
    const blacklistTopic = env.SLUICE_BLACKLIST_TOPIC!
    await Effect.runPromise(ensureTopic([brokers], blacklistTopic, 1, [{ name: "cleanup.policy", value: "compact" }]))
    const producer = new Producer({ clientId: "test-blacklist", bootstrapBrokers: [brokers] })
    try {
      await producer.send({ messages: wire.map((e) => ({ topic: blacklistTopic, key: Buffer.from(`${e.kind}:${e.value}`), value: Buffer.from(JSON.stringify(e)) })) })
    } finally {
      await producer.close()
    }
    const blacklist = new BlacklistTable(wire.map((e) => Result.getOrThrow(decodeBlacklistEntry(e))))
    const expectedBlacklisted = valid.flatMap((t) => {
      const entry = blacklist.match(t)
      return entry === undefined ? [] : [`${t.transactionId} ${entry.kind}:${entry.value} ${entry.reason}`]
    }).sort()
    expect(expectedBlacklisted.length).toBeGreaterThan(20)

    const produced = await runSluice(["produce", "--topic", topic, "--messages", String(MESSAGES), "--partitions", "4", "--bad-ratio", String(BAD_RATIO), "--seed", String(SEED)], env)
    expect(produced.code, produced.output).toBe(0)
    await runToCrashPoints(env, ["kafka:before-commit@2", "kafka:after-commit@3"])
    await killAtRandomMoments(env, 2, 2_000)
    await runToCrashPoints(env, ["snapshot:after-commit"])
    await killAtRandomMoments(env, 2, 3_000)
    const last = await runSluice(["run", "--until-idle", "500"], env)
    expect(last.code, last.output).toBe(0)
    expect(last.output).toContain("3 blacklist entries")

    // The lake's feeds, through their logs.
    const anonymizedFeed = await duck(`SELECT transaction_id AS id, _kafka_partition AS p, _kafka_offset AS o, user.id AS pseudonym, ip_network AS net,
      amount_eur::VARCHAR AS eur FROM ${await liveRelation(lake, "streams/transaction_stream_anonymized")} ORDER BY id`)
    expect(anonymizedFeed).toHaveLength(valid.length)
    const blacklistedFeed = (await duck(`SELECT transaction_id AS id, blacklist_kind AS kind, blacklist_value AS value, blacklist_reason AS reason, _kafka_partition AS p, _kafka_offset AS o
      FROM ${await liveRelation(lake, "streams/transaction_stream_blacklisted")}`))
    expect(blacklistedFeed.map((r) => `${String(r.id)} ${String(r.kind)}:${String(r.value)} ${String(r.reason)}`).sort()).toEqual(expectedBlacklisted)

    // transaction_stream_anonymized: one message per valid transaction, as the lake's feed holds it.
    const anonymized = (await read(`${prefix}transaction_stream_anonymized`)).map((r) => JSON.parse(r.value!.toString("utf8")) as {
      transaction_id: string
      _kafka_partition: number
      _kafka_offset: number
      user: { id: string }
      ip_network: string | null
      amount_eur: number
    })
    // What the lake holds and the topic does not, per source partition: where to look when this fails.
    const published = new Set(anonymized.map((m) => `${m._kafka_partition}/${m._kafka_offset}`))
    const unpublished = new Map<string, Array<number>>()
    for (const r of anonymizedFeed) if (!published.has(`${String(r.p)}/${String(r.o)}`)) unpublished.set(String(r.p), [...(unpublished.get(String(r.p)) ?? []), Number(r.o)])
    expect([...unpublished].map(([p, offsets]) => `${p}: ${offsets.length} offsets from ${Math.min(...offsets)} to ${Math.max(...offsets)}`)).toEqual([])
    expect(anonymized).toHaveLength(valid.length)
    expect([...counts(anonymized.map((m) => m.transaction_id)).values()].every((n) => n === 1)).toBe(true)
    expect(anonymized.map((m) => ({ id: m.transaction_id, p: m._kafka_partition, o: BigInt(m._kafka_offset), pseudonym: m.user.id, net: m.ip_network, eur: m.amount_eur.toFixed(2) }))
      .sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(anonymizedFeed)

    // transaction_stream_blacklisted: exactly the lake's blacklisted feed.
    const blacklisted = (await read(`${prefix}transaction_stream_blacklisted`)).map((r) => JSON.parse(r.value!.toString("utf8")) as Record<string, unknown>)
    expect(blacklisted.map((m) => `${String(m.transaction_id)} ${String(m.blacklist_kind)}:${String(m.blacklist_value)} ${String(m.blacklist_reason)}`).sort())
      .toEqual(expectedBlacklisted)

    // Each table's topic: its latest value per key (a tombstone deletes the key) is the table's latest snapshot.
    for (const table of TABLES) {
      const latest = new Map<string, string>()
      const records = await read(`${prefix}${table.name}`)
      for (const r of records) {
        const key = r.key!.toString("utf8")
        if (r.value === null || r.value.length === 0) latest.delete(key)
        else latest.set(key, r.value.toString("utf8"))
      }
      const columns = table.columns.map((c) => c.name).join(", ")
      const rows = await duck(`SELECT concat_ws('|', ${table.key.map((k) => `${k}::VARCHAR`).join(", ")}) AS k, to_json(c)::VARCHAR AS v
        FROM (SELECT ${columns} FROM ${await liveRelation(lake, `tables/${table.name}`)}) c`)
      expect(rows.length, table.name).toBeGreaterThan(20)
      expect(new Map([...latest].sort()), table.name).toEqual(new Map(rows.map((r) => [String(r.k), String(r.v)] as const).sort()))
    }
  })
})
