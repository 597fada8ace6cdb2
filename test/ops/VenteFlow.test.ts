import { Effect, Exit, type Scope } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { type BronzeSale, salesSilver } from "../../src/domain/SalesSilver.ts"
import { formatInstantAtOffset, type Vente } from "../../src/domain/Vente.ts"
import { type JudgedVente, venteDecisions, ventePartitionState, venteProcessors } from "../../src/ops/VenteFlow.ts"
import { makeRecordingSink, makeTestDriver, type RecordingSink } from "../../src/topology/TestDriver.ts"
import type { Topology } from "../../src/topology/Topology.ts"

const TOPIC = "ventes_stream"
const MIN = 60_000
const HOUR = 60 * MIN
/** 2026-11-22T10:00:00Z: the start of an hour window. */
const T0 = Date.UTC(2026, 10, 22, 10)

let n = 0
/** A sale's JSON as a producer sends it; `montant` is `quantite × prix` to the cent. */
const sale = (atMs: number, o: { client?: string; pays?: string; prix?: string; quantite?: number; type?: "B2B" | "B2C"; offsetMinutes?: number } = {}) => {
  n++
  const quantite = o.quantite ?? 1
  const prix = o.prix ?? "10.00"
  const cents = Math.round(Number(prix) * 100) * quantite
  return `{"vente_id":"00000000-0000-4000-8000-${String(n).padStart(12, "0")}","horodatage":"${formatInstantAtOffset(atMs, o.offsetMinutes ?? 0)}",` +
    `"client_id":"${o.client ?? "c-1"}","client_nom":"Client ${o.client ?? "c-1"}","pays":"${o.pays ?? "France"}","type_client":"${o.type ?? "B2C"}",` +
    `"produit":"Livre","categorie":"Culture","quantite":${quantite},"prix_unitaire":${prix},"montant":${(cents / 100).toFixed(2)}}`
}

const topologyOf = (sinks: ReadonlyArray<RecordingSink<Vente, any>>, watermarkMs = 10 * MIN): Topology => ({
  flows: [{ topic: TOPIC, decisions: venteDecisions(1 << 20, watermarkMs), sinks, partitionState: ventePartitionState }],
  window: { maxRecords: 1_000, maxBytes: 1 << 30, maxAgeMs: 100 }
})

const test = <A, E>(program: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestClock.layer())))

const judgedOf = (sink: RecordingSink<Vente, JudgedVente>) => sink.commits.flatMap((c) => c.values)

describe("the sales flow, driven by the topology test driver", () => {
  it("judges each sale against the largest earlier horodatage of its partition minus the delay, bounds included, late ones apart", () =>
    test(Effect.gen(function*() {
      const processors = venteProcessors(TOPIC)
      const bronze = makeRecordingSink<Vente, JudgedVente>("bronze", {}, processors.judged)
      const late = makeRecordingSink<Vente, JudgedVente>("late", {}, processors.late)
      const driver = yield* makeTestDriver(topologyOf([bronze, late]), new Map([[TOPIC, 2]]))
      yield* driver.pipe(TOPIC, 0, [
        sale(T0 + 30 * MIN), // first: no watermark yet
        sale(T0 + 20 * MIN), // exactly at the watermark (30 - 10): on time
        sale(T0 + 20 * MIN - 1), // one millisecond before it: late
        sale(T0 + 45 * MIN, { offsetMinutes: 120 }), // written at +02:00: the instant counts, not the text
        sale(T0 + 31 * MIN), // 45 - 10 = 35 > 31: late
        "not json" // a dead letter moves nothing
      ])
      // Partition 1 has its own watermark: a sale that would be late in partition 0 is on time here.
      yield* driver.pipe(TOPIC, 1, [sale(T0), sale(T0 - 5 * MIN)])
      yield* driver.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* driver.advance(300)
      const exit = yield* driver.drain
      expect(Exit.isSuccess(exit)).toBe(true)

      const p0 = bronze.commits.filter((c) => c.partition === 0).flatMap((c) => c.values)
      expect(p0.map((v) => [(v.horodatageMs - T0) / MIN, v.late, v.watermarkMs === null ? null : (v.watermarkMs - T0) / MIN])).toEqual([
        [30, false, null],
        [20, false, 20],
        [20 - 1 / MIN, true, 20],
        [45, false, 20],
        [31, true, 35]
      ])
      const p1 = bronze.commits.filter((c) => c.partition === 1).flatMap((c) => c.values)
      expect(p1.map((v) => v.late)).toEqual([false, false])
      expect(judgedOf(late).map((v) => (v.horodatageMs - T0) / MIN)).toEqual([20 - 1 / MIN, 31])
      // Each commit records the partition's largest horodatage after it.
      expect(bronze.commits.filter((c) => c.partition === 0).at(-1)?.state).toBe(T0 + 45 * MIN)
      expect(bronze.commits.filter((c) => c.partition === 1).at(-1)?.state).toBe(T0)
      expect(bronze.commits.flatMap((c) => c.deadLetters)).toEqual([5])
    })))

  it("a replay after a crash judges as the first run did: the watermark comes back from the committed state, not from the records read again", () =>
    test(Effect.gen(function*() {
      const processors = venteProcessors(TOPIC)
      const records = [sale(T0 + 30 * MIN), sale(T0 + 10 * MIN), sale(T0 + 40 * MIN)]
      // First run: everything, in one go.
      const first = makeRecordingSink<Vente, JudgedVente>("bronze", {}, processors.judged)
      const once = yield* makeTestDriver(topologyOf([first]), new Map([[TOPIC, 1]]))
      yield* once.pipe(TOPIC, 0, records)
      yield* once.assign([{ topic: TOPIC, partition: 0 }])
      yield* once.advance(300)
      yield* once.drain
      // Second run: the sink had committed offset 0 with its state, then the process died.
      const again = makeRecordingSink<Vente, JudgedVente>("bronze", {}, processors.judged)
      again.preset(0, 1, venteDecisions(1 << 20, 10 * MIN).current().version, T0 + 30 * MIN)
      const resumed = yield* makeTestDriver(topologyOf([again]), new Map([[TOPIC, 1]]))
      yield* resumed.pipe(TOPIC, 0, records)
      yield* resumed.assign([{ topic: TOPIC, partition: 0 }])
      yield* resumed.advance(300)
      yield* resumed.drain
      expect(judgedOf(first).map((v) => v.late)).toEqual([false, true, false])
      expect(again.commits[0]?.from).toBe(1)
      expect(judgedOf(again).map((v) => v.late)).toEqual([true, false])
    })))

  it("closes a country's hour window once every partition's watermark has passed its end, once, and late sales never change it", () =>
    test(Effect.gen(function*() {
      const processors = venteProcessors(TOPIC)
      const bronze = makeRecordingSink<Vente, JudgedVente>("bronze", {}, processors.judged)
      const driver = yield* makeTestDriver(topologyOf([bronze]), new Map([[TOPIC, 2]]))
      yield* driver.assign([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      let emitted: number | undefined
      const silverNow = () => {
        const states = new Map<number, number>()
        for (const c of bronze.commits) if (c.state !== undefined) states.set(c.partition, c.state)
        const sales: Array<BronzeSale> = bronze.commits.flatMap((c) => c.values.map((v) => ({ vente: v, late: v.late })))
        const silver = salesSilver({ sales, partitions: 2, maxEventMs: states, watermarkDelayMs: 10 * MIN, windowMs: HOUR, emittedUntilMs: emitted })
        if (silver.closed.length > 0) emitted = Math.max(...silver.closed.map((w) => w.windowEndMs))
        return silver
      }

      yield* driver.pipe(TOPIC, 0, [sale(T0 + 5 * MIN, { prix: "12.50" }), sale(T0 + 50 * MIN, { pays: "Maroc" }), sale(T0 + 75 * MIN)])
      yield* driver.advance(300)
      // Partition 1 has seen nothing: it holds every window open.
      expect(silverNow()).toMatchObject({ watermarkMs: undefined, closed: [] })

      yield* driver.pipe(TOPIC, 1, [sale(T0 + 69 * MIN, { prix: "7.00" })])
      yield* driver.advance(300)
      // Partition 1's watermark is 59 min: the 10:00 window is not complete yet.
      expect(silverNow()).toMatchObject({ watermarkMs: T0 + 59 * MIN, closed: [] })

      yield* driver.pipe(TOPIC, 1, [sale(T0 + 70 * MIN, { prix: "1.00" })])
      yield* driver.advance(300)
      const closing = silverNow()
      expect(closing.watermarkMs).toBe(T0 + HOUR)
      expect(closing.closed.map((w) => [w.pays, w.nbVentes, String(w.chiffreAffairesCents), (w.windowStartMs - T0) / MIN, (w.windowEndMs - T0) / MIN])).toEqual([
        ["France", 1, "1250", 0, 60],
        ["Maroc", 1, "1000", 0, 60]
      ])

      // A sale of the closed window arrives in partition 1: late there (watermark 60 min), kept in bronze and the totals, not in any window.
      yield* driver.pipe(TOPIC, 1, [sale(T0 + 30 * MIN, { prix: "99.00" })])
      yield* driver.advance(300)
      const after = silverNow()
      expect(judgedOf(bronze).at(-1)).toMatchObject({ late: true })
      expect(after.closed).toEqual([])
      expect(after.countries.find((c) => c.pays === "France")).toMatchObject({ nbVentes: 5 })
      yield* driver.drain
    })))

  it("segments clients at the exact edges: 99.99 Basic, 100.00 Standard, 499.99 Standard, 500.00 Premium; loyal from the second purchase", () =>
    test(Effect.gen(function*() {
      const bronze = makeRecordingSink<Vente, JudgedVente>("bronze", {}, venteProcessors(TOPIC).judged)
      const driver = yield* makeTestDriver(topologyOf([bronze]), new Map([[TOPIC, 1]]))
      yield* driver.pipe(TOPIC, 0, [
        sale(T0, { client: "c-a", prix: "99.99" }),
        sale(T0, { client: "c-b", prix: "100.00" }),
        sale(T0, { client: "c-c", prix: "499.99" }),
        sale(T0, { client: "c-d", prix: "250.00", quantite: 2 }),
        sale(T0, { client: "c-e", prix: "50.00" }),
        sale(T0, { client: "c-e", prix: "49.99" }),
        sale(T0, { client: "c-f", prix: "0.01" }),
        sale(T0, { client: "c-f", prix: "0.01" }),
        sale(T0, { client: "c-f", prix: "99.98" })
      ])
      yield* driver.assign([{ topic: TOPIC, partition: 0 }])
      yield* driver.advance(300)
      yield* driver.drain
      const silver = salesSilver({
        sales: judgedOf(bronze).map((v) => ({ vente: v, late: v.late })),
        partitions: 1,
        maxEventMs: new Map(),
        watermarkDelayMs: 10 * MIN,
        windowMs: HOUR,
        emittedUntilMs: undefined
      })
      expect(silver.clients.map((c) => [c.clientId, String(c.totalDepCents), c.nbAchats, c.fidele, c.segment])).toEqual([
        ["c-a", "9999", 1, false, "Basic"],
        ["c-b", "10000", 1, false, "Standard"],
        ["c-c", "49999", 1, false, "Standard"],
        ["c-d", "50000", 1, false, "Premium"],
        ["c-e", "9999", 2, true, "Basic"],
        ["c-f", "10000", 3, true, "Standard"]
      ])
    })))

  it("sends a sale whose montant is not quantite × prix_unitaire to the dead letters", () =>
    test(Effect.gen(function*() {
      const bronze = makeRecordingSink<Vente, JudgedVente>("bronze", {}, venteProcessors(TOPIC).judged)
      const driver = yield* makeTestDriver(topologyOf([bronze]), new Map([[TOPIC, 1]]))
      yield* driver.pipe(TOPIC, 0, [sale(T0, { prix: "19.99", quantite: 3 }), sale(T0).replace('"montant":10.00', '"montant":10.01')])
      yield* driver.assign([{ topic: TOPIC, partition: 0 }])
      yield* driver.advance(300)
      yield* driver.drain
      expect(judgedOf(bronze).map((v) => v.montantCents)).toEqual([5997])
      expect(bronze.commits.flatMap((c) => c.deadLetters)).toEqual([1])
    })))
})
