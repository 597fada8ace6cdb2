/**
 * The derived streams of the seeds' ksqlDB topology: `transaction_stream_anonymized` holds every
 * valid transaction and no personal data, with pseudonyms stable across runs; and
 * `transaction_stream_blacklisted` holds the transactions that matched an entry of the `blacklist`
 * topic in force at their event time, an entry added while the service runs included.
 */
import { Producer } from "@platformatic/kafka"
import { Effect, Result } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { decodeTransaction, type Transaction } from "../../src/domain/Transaction.ts"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { ensureTopic } from "../../src/ops/KafkaAdmin.ts"
import { liveRelation } from "../support/Lake.ts"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"

const brokers = inject("kafkaBrokers")
const boxes = [sandbox("anonymized", brokers, {}), sandbox("blacklisted", brokers, { SLUICE_WINDOW_MAX_AGE_MS: "300" })]
afterAll(() => Promise.all(boxes.map((b) => b.cleanup())))

const query = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The transactions a seeded produce sent, decoded (all valid: no bad ratio). */
const produced = (messages: number, seed: number): Array<Transaction> => {
  const next = makeMessageGenerator({ seed })
  return Array.from({ length: messages }, () => Result.getOrThrow(decodeTransaction(JSON.parse(next().value.toString("utf8")))))
}

describe("transaction_stream_anonymized", () => {
  it("holds every valid transaction, with no name, email, full IP, card or user id, and pseudonyms stable across runs", async () => {
    const { topic, env, lake } = boxes[0]!
    expect((await runSluice(["produce", "--topic", topic, "--messages", "3000", "--partitions", "2", "--seed", "81"], env)).code).toBe(0)
    expect((await runSluice(["run", "--until-idle", "500"], env)).code).toBe(0)
    expect((await runSluice(["produce", "--topic", topic, "--messages", "3000", "--seed", "82"], env)).code).toBe(0)
    expect((await runSluice(["run", "--until-idle", "500"], env)).code).toBe(0)

    const anonymized = await liveRelation(lake, "streams/transaction_stream_anonymized")
    const stream = await liveRelation(lake, "streams/transaction_stream")
    const rows = await query(`SELECT to_json(a)::VARCHAR AS row, a.user.id AS pseudonym, s.user.id AS user_id
      FROM ${anonymized} a JOIN ${stream} s USING (_kafka_partition, _kafka_offset)`)
    expect(rows).toHaveLength(6000)
    // One pseudonym per user, one user per pseudonym, across the two runs.
    const byUser = new Map<string, Set<string>>()
    const byPseudonym = new Map<string, Set<string>>()
    for (const r of rows) {
      byUser.set(String(r.user_id), (byUser.get(String(r.user_id)) ?? new Set()).add(String(r.pseudonym)))
      byPseudonym.set(String(r.pseudonym), (byPseudonym.get(String(r.pseudonym)) ?? new Set()).add(String(r.user_id)))
    }
    expect(byUser.size).toBeGreaterThan(100)
    expect([...byUser.values()].every((s) => s.size === 1)).toBe(true)
    expect([...byPseudonym.values()].every((s) => s.size === 1)).toBe(true)

    // No string value of the feed is, or contains, personal data of the input.
    const input = [...produced(3000, 81), ...produced(3000, 82)]
    const secrets = new Set<string>()
    for (const t of input) {
      secrets.add(t.user.name)
      secrets.add(t.user.email)
      secrets.add(t.user.id)
      secrets.add(t.user.city)
      // An IPv4 address of a /24's first address is its own network: `203.0.113.0/24` is the rule, not a leak.
      if (t.ipAddress !== null && !t.ipAddress.endsWith(".0")) secrets.add(t.ipAddress)
    }
    const cards = new Set(input.flatMap((t) => (t.cardLast4 === null ? [] : [t.cardLast4])))
    expect(cards.size).toBeGreaterThan(10)
    const strings = (value: unknown): Array<string> =>
      typeof value === "string" ? [value] : value !== null && typeof value === "object" ? Object.values(value).flatMap(strings) : []
    let checked = 0
    for (const r of rows) {
      const row = JSON.parse(String(r.row)) as Record<string, unknown>
      for (const [column, value] of Object.entries(row)) {
        for (const text of strings(value)) {
          checked++
          // A city or a name may equal a kept country by chance; then it is the country, not a leak.
          if (column === "user" && text === (row.user as { country: string }).country) continue
          // Every piece of the text, looked up among the secrets (texts are short: this is quick).
          for (let i = 0; i < text.length; i++) {
            for (let j = i + 1; j <= text.length; j++) {
              const piece = text.slice(i, j)
              if (secrets.has(piece)) expect.fail(`${column}: ${text} holds ${piece}`)
            }
          }
          if (!text.startsWith("anon-") && cards.has(text)) expect.fail(`${column}: ${text} is a card`)
        }
      }
    }
    expect(checked).toBeGreaterThan(6000 * 8)
  })
})

describe("transaction_stream_blacklisted", () => {
  it("holds the transactions matching an entry in force at their event time, an entry added mid-stream included", async () => {
    const { topic, env, lake } = boxes[1]!
    const blacklistTopic = env.SLUICE_BLACKLIST_TOPIC!
    await Effect.runPromise(ensureTopic([brokers], blacklistTopic, 1, [{ name: "cleanup.policy", value: "compact" }]))
    const first = produced(2000, 91)
    const second = produced(2000, 92)
    // A user of both batches, and an email domain of the second.
    const user = first.find((t) => second.some((u) => u.user.id === t.user.id))!.user.id
    const domain = second[0]!.user.email.split("@")[1]!
    const producer = new Producer({ clientId: "test-blacklist", bootstrapBrokers: [brokers] })
    const entry = (kind: string, value: string) => ({
      topic: blacklistTopic,
      key: Buffer.from(`${kind}:${value}`),
      value: Buffer.from(JSON.stringify({ kind, value, reason: `test ${kind}`, added_at: "2000-01-01T00:00:00Z" }))
    })
    try {
      const service = spawnSluice(["run"], env)
      try {
        // The service starts before its topic exists: it waits for it.
        await service.waitFor(new RegExp(`topic ${topic} does not exist yet; it is read as soon as it appears`))
        expect((await runSluice(["produce", "--topic", topic, "--messages", "2000", "--partitions", "2", "--seed", "91"], env)).code).toBe(0)
        const stream = () => liveRelation(lake, "streams/transaction_stream")
        for (let i = 0; i < 100 && Number((await query(`SELECT count(*) AS n FROM ${await stream()}`))[0]!.n) < 2000; i++) await sleep(200)
        // Mid-stream: the entries arrive, the service says when its decisions take them in, then more transactions come.
        await producer.send({ messages: [entry("user_id", user), entry("email_domain", domain.toUpperCase())] })
        await service.waitFor(/decisions [0-9a-f]{12} in force: .* 2 blacklist entries/, 30_000)
        expect((await runSluice(["produce", "--topic", topic, "--messages", "2000", "--seed", "92"], env)).code).toBe(0)
        for (let i = 0; i < 100 && Number((await query(`SELECT count(*) AS n FROM ${await stream()}`))[0]!.n) < 4000; i++) await sleep(200)
      } finally {
        service.child.kill("SIGTERM")
      }
      expect((await service.exited).code, service.output()).toBe(0)
    } finally {
      await producer.close()
    }
    const blacklisted = await liveRelation(lake, "streams/transaction_stream_blacklisted")
    const rows = await query(`SELECT transaction_id AS id, blacklist_kind AS kind, blacklist_value AS value, blacklist_reason AS reason FROM ${blacklisted} ORDER BY 1`)
    // Entries apply to what is decided after they arrive; user id is tried before email domain.
    const expected = second
      .filter((t) => t.user.id === user || t.user.email.toLowerCase().endsWith(`@${domain.toLowerCase()}`))
      .map((t) => t.user.id === user
        ? { id: t.transactionId, kind: "user_id", value: user, reason: "test user_id" }
        : { id: t.transactionId, kind: "email_domain", value: domain.toUpperCase(), reason: "test email_domain" })
      .sort((a, b) => (a.id < b.id ? -1 : 1))
    expect(expected.length).toBeGreaterThan(5)
    expect(rows).toEqual(expected)
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
  })
})
