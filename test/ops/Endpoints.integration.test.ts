/**
 * What an operator sees of a running `sluice run`: /healthz at once, /readyz 503 until the group
 * is joined and every partition recovered, Prometheus /metrics whose counters equal what a seeded
 * producer sent, the dashboard at /, and logs as one JSON object per line.
 */
import { afterAll, describe, expect, inject, it } from "vitest"
import { type Sample, parseMetrics } from "../../src/ops/Live.ts"
import { expectedFromProduce } from "../support/Expected.ts"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"

const MESSAGES = 20_000
const SEED = 17
const BAD = 0.02
const PARTITIONS = 4
const { topic, env, cleanup } = sandbox("endpoints", inject("kafkaBrokers"), {
  SLUICE_HTTP_PORT: "0",
  SLUICE_LOG_FORMAT: "json",
  SLUICE_WINDOW_MAX_RECORDS: "2000"
})

afterAll(cleanup)

const get = async (url: string) => {
  const response = await fetch(url)
  return { status: response.status, type: response.headers.get("content-type"), body: await response.text() }
}

const sum = (samples: ReadonlyArray<Sample>, name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0)

const scrape = async (base: string) => {
  const r = await get(`${base}/metrics`)
  expect(r.status).toBe(200)
  expect(r.type).toBe("text/plain; version=0.0.4; charset=utf-8")
  return parseMetrics(r.body)
}

/** Polls `check` every 100 ms until it returns a value, for at most `ms`. */
const until = async <A>(what: string, ms: number, check: () => Promise<A | undefined>): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("sluice run's endpoints and logs", () => {
  it("serve health, readiness, metrics equal to what was produced, and the dashboard; log JSON lines", async () => {
    const produced = await runSluice(["produce", "--topic", topic, "--messages", String(MESSAGES), "--partitions", String(PARTITIONS), "--seed", String(SEED), "--bad-ratio", String(BAD)], env)
    expect(produced.code, produced.output).toBe(0)
    const expected = expectedFromProduce(MESSAGES, SEED, BAD)

    const run = spawnSluice(["run"], env)
    let stdout = ""
    run.child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    await run.waitFor(/http: \/healthz .* on http:\/\/127\.0\.0\.1:\d+/)
    const base = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output())![1]!

    // Alive at once; ready only once joined with every partition recovered.
    expect(await get(`${base}/healthz`)).toMatchObject({ status: 200, body: "ok\n" })
    const answers: Array<{ status: number; body: string }> = []
    await until("/readyz to answer 200", 60_000, async () => {
      const r = await get(`${base}/readyz`)
      answers.push(r)
      return r.status === 200 ? r : undefined
    })
    expect(answers[0]!.status, JSON.stringify(answers[0])).toBe(503)
    expect(answers[0]!.body).toMatch(/^not ready: (starting: opening the sinks|not a member of group .* yet|recovering \d of 4 assigned partitions: .*)\n$/)
    expect(answers.at(-1)!.body).toBe(`ready: member of group ${env.SLUICE_GROUP} with ${PARTITIONS} partitions recovered\n`)

    // While it runs: counters never ahead of what was consumed, nor consumed ahead of what was produced.
    const during = await scrape(base)
    const consumedDuring = sum(during, "sluice_messages_consumed_total", { topic })
    expect(consumedDuring).toBeLessThanOrEqual(MESSAGES)
    expect(sum(during, "sluice_messages_committed_total", { topic, sink: "lake" })).toBeLessThanOrEqual(consumedDuring)
    expect(sum(during, "sluice_assigned_partitions")).toBe(PARTITIONS)

    // Caught up: every counter equals what the seeded producer sent.
    const after = await until("every message committed", 120_000, async () => {
      const s = await scrape(base)
      return sum(s, "sluice_messages_committed_total", { topic, sink: "lake" }) === MESSAGES ? s : undefined
    })
    expect(sum(after, "sluice_messages_consumed_total", { topic })).toBe(MESSAGES)
    expect(sum(after, "sluice_dead_letters_total", { topic })).toBe(expected.malformed)
    expect(sum(after, "sluice_feed_rows_committed_total", { sink: "lake", feed: "transaction_stream" })).toBe(expected.valid)
    expect(sum(after, "sluice_feed_rows_committed_total", { sink: "lake", feed: "transaction_flattened" })).toBe(expected.valid)
    expect(sum(after, "sluice_feed_rows_committed_total", { sink: "lake", feed: topic })).toBe(expected.malformed)
    expect(sum(after, "sluice_end_to_end_latency_seconds_count", { sink: "lake" })).toBe(MESSAGES)
    expect(sum(after, "sluice_window_records_sum")).toBe(MESSAGES)
    expect(sum(after, "sluice_partition_lag_messages", { topic })).toBe(0)
    expect(after.filter((s) => s.name === "sluice_partition_end_offset").reduce((n, s) => n + s.value, 0)).toBe(MESSAGES)
    expect(sum(after, "sluice_fenced_commits_total")).toBe(0)
    expect(sum(after, "sluice_ready")).toBe(1)
    expect(sum(after, "process_cpu_seconds_total")).toBeGreaterThan(0)

    // The dashboard, on the same port, reads the lake and the live figures.
    const page = await get(`${base}/`)
    expect(page.status).toBe(200)
    expect(page.body).toContain("Top 10 users by EUR amount")
    const live = JSON.parse((await get(`${base}/live.json`)).body) as { available: boolean; consumed: number; partitions: Array<{ lagMessages: number }> }
    expect(live).toMatchObject({ available: true, consumed: MESSAGES })
    expect(live.partitions.map((p) => p.lagMessages)).toEqual([0, 0, 0, 0])
    expect((await get(`${base}/nothing`)).status).toBe(404)

    run.child.kill("SIGTERM")
    expect((await run.exited).code, run.output()).toBe(0)
    // The server closed with the run's scope.
    await expect(fetch(`${base}/healthz`)).rejects.toThrow()

    // Every line of stdout is one JSON object; the runtime's lines carry topic and partition.
    const lines = stdout.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.length).toBeGreaterThan(10)
    for (const l of lines) {
      expect(typeof l.time === "string" && typeof l.level === "string" && typeof l.message === "string", JSON.stringify(l)).toBe(true)
    }
    const assigned = lines.filter((l) => /: assigned, resuming at offset/.test(String(l.message)))
    expect(assigned.map((l) => [l.topic, l.partition]).sort()).toEqual([0, 1, 2, 3].map((p) => [topic, p]))
    expect(lines.some((l) => String(l.message).includes(`${MESSAGES.toLocaleString("en-US")} messages`))).toBe(true)
  })
})
