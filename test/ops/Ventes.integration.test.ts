/**
 * The sales pipeline against a real broker: `ventes_stream` into bronze, late sales apart, the
 * silver tables and the hour windows, exactly once through kill -9 at random moments while windows
 * are open, which `sluice verify` then confirms (and fails once sales are left unconsumed); and a sales
 * topic created while the service runs is picked up.
 */
import { Effect } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { lateness } from "../../src/domain/SalesAggregates.ts"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { ensureTopic } from "../../src/ops/KafkaAdmin.ts"
import { liveRelation } from "../support/Lake.ts"
import { killAtRandomMoments, runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"

const brokers = inject("kafkaBrokers")
const quick = { SLUICE_SINKS: "lake", SLUICE_WINDOW_MAX_AGE_MS: "200", SLUICE_WINDOW_MAX_RECORDS: "400", SLUICE_SNAPSHOT_EVERY: "1 second" }
const boxes = [sandbox("ventes-kill", brokers, quick), sandbox("ventes-late-topic", brokers, quick)]
afterAll(() => Promise.all(boxes.map((b) => b.cleanup())))

const query = (sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql)))

describe("the sales pipeline", () => {
  it("lands every sale once in bronze through kill -9 while windows are open, judges lateness as a single run would, and emits each hour window once", async () => {
    const { env, lake } = boxes[0]!
    const topic = env.SLUICE_VENTES_TOPIC!
    const produced = await runSluice(["produce", "--kind", "ventes", "--topic", topic, "--messages", "6000", "--partitions", "3", "--late-ratio", "0.05", "--bad-ratio", "0.01", "--rate", "3000", "--seed", "5"], env)
    expect(produced.code, produced.output).toBe(0)
    const counts = /produced ([\d,]+) sales \(([\d,]+) malformed, ([\d,]+) late\)/.exec(produced.output)
    expect(counts, produced.output).not.toBeNull()
    const malformed = Number(counts![2]!.replaceAll(",", ""))

    await killAtRandomMoments(env, 5, 1_500)
    const last = await runSluice(["run", "--until-idle", "1000"], env)
    expect(last.code, last.output).toBe(0)

    const bronze = await liveRelation(lake, "streams/ventes_stream")
    const letters = await liveRelation(lake, `_deadletter/${topic}`)
    const [totals] = await query(`SELECT count(*)::INTEGER AS n, count(DISTINCT (_kafka_partition, _kafka_offset))::INTEGER AS offsets,
      count(DISTINCT vente_id)::INTEGER AS ids FROM ${bronze}`)
    const [dead] = await query(`SELECT count(*)::INTEGER AS n FROM ${letters}`)
    expect(Number(dead!.n)).toBe(malformed)
    expect(Number(totals!.n)).toBe(6000 - malformed)
    expect(Number(totals!.offsets)).toBe(6000 - malformed)
    expect(Number(totals!.ids)).toBe(6000 - malformed)

    // Every late flag is what one pass over each partition, in offset order, decides: the replays after each kill decided the same.
    const rows = await query(`SELECT _kafka_partition AS p, epoch_ms(horodatage) AS h, late FROM ${bronze} ORDER BY p, _kafka_offset`)
    const byPartition = new Map<number, Array<{ h: number; late: boolean }>>()
    for (const r of rows) byPartition.set(Number(r.p), [...(byPartition.get(Number(r.p)) ?? []), { h: Number(r.h), late: r.late === true }])
    let late = 0
    for (const sales of byPartition.values()) {
      expect(sales.map((s) => s.late)).toEqual(lateness(sales.map((s) => s.h)))
      late += sales.filter((s) => s.late).length
    }
    expect(late).toBeGreaterThan(0)
    const lateFeed = await liveRelation(lake, "streams/ventes_late")
    const [lateRows] = await query(`SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE epoch_ms(horodatage) >= epoch_ms(watermark))::INTEGER AS wrong FROM ${lateFeed}`)
    expect(lateRows).toMatchObject({ n: late, wrong: 0 })

    // The silver tables equal the aggregates of bronze; the windows emitted equal those of its on-time sales, each once.
    const clients = await liveRelation(lake, "tables/ventes_clients")
    const mismatched = await query(`
      WITH expected AS (SELECT client_id, count(*) AS nb_achats, sum(montant) AS total_dep FROM ${bronze} GROUP BY client_id)
      SELECT * FROM expected FULL JOIN ${clients} c USING (client_id)
      WHERE c.nb_achats IS DISTINCT FROM expected.nb_achats OR c.total_dep IS DISTINCT FROM expected.total_dep
        OR c.segment IS DISTINCT FROM (CASE WHEN expected.total_dep >= 500 THEN 'Premium' WHEN expected.total_dep >= 100 THEN 'Standard' ELSE 'Basic' END)
        OR c.fidele IS DISTINCT FROM (expected.nb_achats >= 2)`)
    expect(mismatched).toEqual([])
    const fenetres = await liveRelation(lake, "streams/ventes_fenetres")
    const windows = await query(`SELECT epoch_ms(window_start) AS s, pays, nb_ventes, chiffre_affaires::VARCHAR AS ca, count(*) OVER (PARTITION BY window_start, pays) AS copies
      FROM ${fenetres} ORDER BY s, pays`)
    expect(windows.length).toBeGreaterThan(0)
    expect(windows.every((w) => Number(w.copies) === 1)).toBe(true)
    const until = Math.max(...windows.map((w) => Number(w.s)))
    const expected = await query(`SELECT epoch_ms(time_bucket(INTERVAL 1 HOUR, horodatage)) AS s, pays, count(*) AS nb_ventes, sum(montant)::DECIMAL(18,2)::VARCHAR AS ca
      FROM ${bronze} WHERE NOT late GROUP BY 1, 2 HAVING s <= ${until} ORDER BY s, pays`)
    expect(windows.map((w) => [Number(w.s), w.pays, Number(w.nb_ventes), w.ca])).toEqual(expected.map((w) => [Number(w.s), w.pays, Number(w.nb_ventes), w.ca]))

    const report = await runSluice(["report", "ventes"], env)
    expect(report.code, report.output).toBe(0)
    expect(report.output).toContain("Top 10 Clients by Revenue")

    // verify checks the sales topic beside the (here empty) transaction topic; sales it has not consumed fail it.
    await Effect.runPromise(ensureTopic([brokers], env.SLUICE_TOPIC!, 1))
    const verified = await runSluice(["verify"], env)
    expect(verified.code, verified.output).toBe(0)
    for (const p of [0, 1, 2]) expect(verified.output).toMatch(new RegExp(`^${topic}/${p} .*ventes_stream=\\d+ .*OK$`, "m"))
    const more = await runSluice(["produce", "--kind", "ventes", "--topic", topic, "--messages", "30", "--seed", "7"], env)
    expect(more.code, more.output).toBe(0)
    const behind = await runSluice(["verify"], env)
    expect(behind.code).not.toBe(0)
    expect(behind.output).toMatch(new RegExp(`^${topic}/\\d .*FAIL: ventes_stream: committed up to \\d+, Kafka ends at \\d+`, "m"))
  }, 300_000)

  it("picks up a sales topic created after the service started, said once, without restarting", async () => {
    const { env, lake } = boxes[1]!
    const topic = env.SLUICE_VENTES_TOPIC!
    const run = spawnSluice(["run"], env)
    try {
      await run.waitFor(new RegExp(`topic ${topic} does not exist yet`))
      const produced = await runSluice(["produce", "--kind", "ventes", "--topic", topic, "--messages", "500", "--partitions", "2", "--seed", "6"], env)
      expect(produced.code, produced.output).toBe(0)
      await run.waitFor(new RegExp(`${topic}/1: assigned`), 60_000)
      // Until all 500 are committed.
      for (let i = 0; i < 120; i++) {
        const [c] = await query(`SELECT count(*)::INTEGER AS n FROM ${await liveRelation(lake, "streams/ventes_stream")}`).catch(() => [{ n: 0 }])
        if (Number(c!.n) === 500) break
        await new Promise((r) => setTimeout(r, 500))
      }
    } finally {
      run.child.kill("SIGTERM")
    }
    expect((await run.exited).code, run.output()).toBe(0)
    expect(run.output().match(new RegExp(`topic ${topic} does not exist yet`, "g"))).toHaveLength(1)
    const [c] = await query(`SELECT count(*)::INTEGER AS n, count(DISTINCT vente_id)::INTEGER AS ids FROM ${await liveRelation(lake, "streams/ventes_stream")}`)
    expect(c).toMatchObject({ n: 500, ids: 500 })
  }, 180_000)
})
