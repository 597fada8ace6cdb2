import { describe, expect, it } from "vitest"
import { makeRandom } from "../../src/domain/Generator.ts"
import {
  ClientTotals,
  ClientTypeTotals,
  CountryTotals,
  CountryWindows,
  HOUR_MS,
  isLate,
  lateness,
  roundedAverage,
  segmentOf,
  Watermarks
} from "../../src/domain/SalesAggregates.ts"
import type { Vente } from "../../src/domain/Vente.ts"
import { makeVenteGenerator } from "../../src/domain/VenteGenerator.ts"

const at = (h: number, m = 0, s = 0, ms = 0) => Date.UTC(2026, 10, 22, h, m, s, ms)
const MIN = 60_000
let n = 0
const sale = (more: Partial<Vente> = {}): Vente => ({
  venteId: `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`,
  horodatageMs: at(8),
  jour: "2026-11-22",
  clientId: "c-0001",
  clientNom: "Jean Dupont",
  pays: "France",
  typeClient: "B2C",
  produit: "Clavier mécanique",
  categorie: "Périphériques",
  quantite: 1,
  prixUnitaireCents: 7_500,
  montantCents: 7_500,
  ...more
})

describe("segments and loyalty", () => {
  it.each([
    [9_999, "Basic"],
    [10_000, "Standard"],
    [49_999, "Standard"],
    [50_000, "Premium"],
    [1, "Basic"],
    [10n ** 20n, "Premium"]
  ] as const)("a client who spent %d cents is %s", (cents, segment) => {
    expect(segmentOf(cents)).toBe(segment)
  })

  it("classifies clients at the edges: 99.99, 100.00, 499.99, 500.00 EUR, loyal from two purchases", () => {
    const totals = new ClientTotals()
    totals.add(sale({ clientId: "c-a", montantCents: 9_999 }))
    totals.add(sale({ clientId: "c-b", montantCents: 10_000 }))
    totals.add(sale({ clientId: "c-c", montantCents: 40_000 }))
    totals.add(sale({ clientId: "c-c", montantCents: 9_999 }))
    totals.add(sale({ clientId: "c-d", montantCents: 49_999 }))
    totals.add(sale({ clientId: "c-d", montantCents: 1 }))
    expect(totals.rows().map((r) => [r.clientId, r.nbAchats, r.totalDepCents, r.fidele, r.segment])).toEqual([
      ["c-a", 1, 9_999, false, "Basic"],
      ["c-b", 1, 10_000, false, "Standard"],
      ["c-c", 2, 49_999, true, "Standard"],
      ["c-d", 2, 50_000, true, "Premium"]
    ])
  })

  it("takes a client's name, country and type from its latest sale, whatever order they came in", () => {
    const older = sale({ horodatageMs: at(8), clientNom: "Jean Dupont", pays: "France" })
    const newer = sale({ horodatageMs: at(9), clientNom: "Dupont SARL", pays: "Belgique", typeClient: "B2B" })
    for (const order of [[older, newer], [newer, older]]) {
      const totals = new ClientTotals()
      for (const v of order) totals.add(v)
      expect(totals.rows()[0]).toMatchObject({ clientNom: "Dupont SARL", pays: "Belgique", typeClient: "B2B", nbAchats: 2 })
    }
  })
})

describe("roundedAverage", () => {
  it.each([
    [2_001, 2, 1_001],
    [3, 2, 2],
    [4, 3, 1],
    [5, 3, 2],
    [-3, 2, -2],
    [-4, 3, -1],
    [0, 5, 0]
  ])("of %d over %d is %d, halves away from zero", (total, count, average) => {
    expect(roundedAverage(total, count)).toBe(average)
  })

  it("is exact past 2^53", () => {
    expect(roundedAverage(2n ** 60n + 1n, 2)).toBe(2n ** 59n + 1n)
    expect(roundedAverage(2n ** 54n, 4)).toBe(2 ** 52)
  })
})

describe("per country and per client type", () => {
  it("counts sales and revenue, and the average basket rounded half away from zero to the cent", () => {
    const countries = new CountryTotals()
    const types = new ClientTypeTotals()
    const sales = [
      sale({ pays: "France", typeClient: "B2C", montantCents: 1_000 }),
      sale({ pays: "France", typeClient: "B2C", montantCents: 1_001 }),
      sale({ pays: "Maroc", typeClient: "B2B", montantCents: 1 }),
      sale({ pays: "Maroc", typeClient: "B2B", montantCents: 1 }),
      sale({ pays: "Maroc", typeClient: "B2B", montantCents: 2 })
    ]
    for (const v of sales) {
      countries.add(v)
      types.add(v)
    }
    expect(countries.rows()).toEqual([
      { pays: "France", nbVentes: 2, chiffreAffairesCents: 2_001 },
      { pays: "Maroc", nbVentes: 3, chiffreAffairesCents: 4 }
    ])
    // 20.01 / 2 = 10.005 → 10.01; 0.04 / 3 = 0.0133… → 0.01.
    expect(types.rows()).toEqual([
      { typeClient: "B2B", nbVentes: 3, chiffreAffairesCents: 4, panierMoyenCents: 1 },
      { typeClient: "B2C", nbVentes: 2, chiffreAffairesCents: 2_001, panierMoyenCents: 1_001 }
    ])
  })

  it("keeps revenue exact past 2^53 cents, as a bigint", () => {
    const countries = new CountryTotals()
    const types = new ClientTypeTotals()
    const clients = new ClientTotals()
    const big = sale({ montantCents: 999_999_999_999_999 })
    for (let i = 0; i < 20; i++) {
      countries.add(big)
      types.add(big)
      clients.add(big)
    }
    expect(countries.rows()[0]!.chiffreAffairesCents).toBe(19_999_999_999_999_980n)
    expect(clients.rows()[0]!.totalDepCents).toBe(19_999_999_999_999_980n)
    expect(types.rows()[0]!.panierMoyenCents).toBe(999_999_999_999_999)
  })
})

describe("tumbling windows per country", () => {
  it("puts a sale in the window [start, start + size) holding it, aligned on the hour", () => {
    const windows = new CountryWindows()
    windows.add(sale({ horodatageMs: at(8, 59, 59, 999), montantCents: 100 }))
    windows.add(sale({ horodatageMs: at(9), montantCents: 200 }))
    windows.add(sale({ horodatageMs: at(9, 30), pays: "Maroc", montantCents: 300 }))
    expect(windows.rows()).toEqual([
      { windowStartMs: at(8), windowEndMs: at(9), pays: "France", nbVentes: 1, chiffreAffairesCents: 100 },
      { windowStartMs: at(9), windowEndMs: at(10), pays: "France", nbVentes: 1, chiffreAffairesCents: 200 },
      { windowStartMs: at(9), windowEndMs: at(10), pays: "Maroc", nbVentes: 1, chiffreAffairesCents: 300 }
    ])
  })

  it("takes windows of any size", () => {
    const windows = new CountryWindows(15 * MIN)
    windows.add(sale({ horodatageMs: at(8, 44, 59) }))
    windows.add(sale({ horodatageMs: at(8, 45) }))
    expect(windows.rows().map((w) => [w.windowStartMs, w.windowEndMs])).toEqual([[at(8, 30), at(8, 45)], [at(8, 45), at(9)]])
    expect(() => windows.merge(new CountryWindows())).toThrow(RangeError)
  })

  it("gives up a window once complete, and only once", () => {
    const windows = new CountryWindows()
    windows.add(sale({ horodatageMs: at(8, 30) }))
    windows.add(sale({ horodatageMs: at(9, 5) }))
    expect(windows.takeComplete(at(9) - 1)).toEqual([])
    expect(windows.takeComplete(at(9)).map((w) => w.windowStartMs)).toEqual([at(8)])
    expect(windows.takeComplete(at(9, 30))).toEqual([])
    expect(windows.rows().map((w) => w.windowStartMs)).toEqual([at(9)])
  })
})

describe("accumulators merge", () => {
  it("to what one accumulator of every sale holds, however the sales are split and merged", () => {
    const random = makeRandom(51)
    const next = makeVenteGenerator({ seed: 51, lateRatio: 0.05 })
    const sales = Array.from({ length: 3_000 }, () => next().vente)
    const make = () => ({ clients: new ClientTotals(), countries: new CountryTotals(), types: new ClientTypeTotals(), windows: new CountryWindows() })
    type Accumulators = ReturnType<typeof make>
    const add = (a: Accumulators, v: Vente) => {
      a.clients.add(v)
      a.countries.add(v)
      a.types.add(v)
      a.windows.add(v)
    }
    const rows = (a: Accumulators) => ({ clients: a.clients.rows(), countries: a.countries.rows(), types: a.types.rows(), windows: a.windows.rows() })
    const whole = make()
    for (const v of sales) add(whole, v)
    expect(whole.windows.rows().length).toBeGreaterThan(10)
    for (let trial = 0; trial < 5; trial++) {
      const parts = Array.from({ length: 2 + Math.floor(random() * 4) }, make)
      for (const v of sales) add(parts[Math.floor(random() * parts.length)]!, v)
      // Merge in a random order, sometimes into a fresh accumulator.
      const order = [...parts].sort(() => random() - 0.5)
      const into = random() < 0.5 ? make() : order.shift()!
      for (const p of order) {
        into.clients.merge(p.clients)
        into.countries.merge(p.countries)
        into.types.merge(p.types)
        into.windows.merge(p.windows)
      }
      expect(rows(into)).toEqual(rows(whole))
    }
  })

  it("leave the accumulator merged from as it was", () => {
    const a = new CountryTotals()
    const b = new CountryTotals()
    a.add(sale())
    b.add(sale())
    a.merge(b)
    a.merge(b)
    expect(b.rows()).toEqual([{ pays: "France", nbVentes: 1, chiffreAffairesCents: 7_500 }])
    expect(a.rows()).toEqual([{ pays: "France", nbVentes: 3, chiffreAffairesCents: 22_500 }])
  })
})

describe("the watermark", () => {
  it("says a record is late when strictly older than the watermark: one exactly at it is on time", () => {
    expect(isLate(at(8, 50), at(8, 50))).toBe(false)
    expect(isLate(at(8, 50) - 1, at(8, 50))).toBe(true)
    expect(lateness([at(9), at(8, 50), at(8, 50) - 1, at(8, 55), at(9, 10), at(9), at(9) - 1])).toEqual([false, false, true, false, false, false, true])
  })

  it("never makes the first record of a partition late, and late records never raise it", () => {
    expect(lateness([at(1)])).toEqual([false])
    // The late record at 07:00 leaves the watermark at 08:50, so 08:50 is still on time after it.
    expect(lateness([at(9), at(7), at(8, 50)])).toEqual([false, true, false])
    expect(lateness([at(9), at(8, 59)], 0)).toEqual([false, true])
  })

  it("is per partition: a record is judged by the earlier records of its own partition", () => {
    const w = new Watermarks([0, 1])
    expect(w.observe(0, at(10))).toBe(false)
    expect(w.observe(1, at(8))).toBe(false)
    expect(w.observe(1, at(8, 5))).toBe(false)
    expect(w.observe(0, at(9, 49, 59, 999))).toBe(true)
    expect([w.watermark(0), w.watermark(1), w.maxEventMs(1)]).toEqual([at(9, 50), at(7, 55), at(8, 5)])
    expect(() => w.observe(2, at(8))).toThrow(RangeError)
  })

  it("completes a window only once every partition's watermark has reached its end", () => {
    const w = new Watermarks([0, 1, 2])
    const end = at(9)
    w.observe(0, at(9, 30))
    w.observe(1, at(9, 30))
    // Partition 2 has seen nothing: it holds every window open.
    expect(w.isComplete(end)).toBe(false)
    w.observe(2, at(9, 10) - 1)
    expect(w.low()).toBe(end - 1)
    expect(w.isComplete(end)).toBe(false)
    w.observe(2, at(9, 10))
    expect(w.low()).toBe(end)
    expect(w.isComplete(end)).toBe(true)
    expect(w.isComplete(end + 1)).toBe(false)
  })

  it("merges per partition to what both have seen", () => {
    const a = new Watermarks([0, 1])
    const b = new Watermarks([0, 1])
    a.observe(0, at(9))
    b.observe(0, at(8))
    b.observe(1, at(10))
    a.merge(b)
    expect([a.maxEventMs(0), a.maxEventMs(1)]).toEqual([at(9), at(10)])
    expect(() => a.merge(new Watermarks([0, 1], 5 * MIN))).toThrow(RangeError)
    expect(() => a.merge(new Watermarks([0, 1, 2]))).toThrow(RangeError)
  })

  it("resumes from the largest event time each partition had seen, as a commit records it", () => {
    const resumed = new Watermarks([0, 1], undefined, new Map([[0, at(9)]]))
    expect(resumed.observe(0, at(8, 49))).toBe(true)
    expect(resumed.watermark(1)).toBe(Number.NEGATIVE_INFINITY)
    expect(() => new Watermarks([0], undefined, new Map([[3, at(9)]]))).toThrow(RangeError)
  })

  it("finds late exactly the sales the generator made late, on one partition", () => {
    const next = makeVenteGenerator({ seed: 61, lateRatio: 0.05 })
    const xs = Array.from({ length: 5_000 }, next)
    const flags = lateness(xs.map((g) => g.vente.horodatageMs))
    // The very first sales may be "late" behind nothing yet.
    const firstLatest = xs.findIndex((g) => !g.late)
    expect(flags.slice(firstLatest + 1)).toEqual(xs.slice(firstLatest + 1).map((g) => g.late))
    expect(flags.filter(Boolean).length).toBeGreaterThan(200)
  })

  it("closes hour windows as the generated stream runs, each once, with every on-time sale in one", () => {
    const next = makeVenteGenerator({ seed: 62, lateRatio: 0.05 })
    const w = new Watermarks([0])
    const windows = new CountryWindows(HOUR_MS)
    const closed: Array<{ windowEndMs: number; nbVentes: number }> = []
    let onTime = 0
    for (let i = 0; i < 3_000; i++) {
      const v = next().vente
      if (w.observe(0, v.horodatageMs)) continue
      onTime++
      windows.add(v)
      closed.push(...windows.takeComplete(w.low()))
    }
    expect(closed.length).toBeGreaterThan(10)
    for (const c of closed) expect(c.windowEndMs).toBeLessThanOrEqual(w.low())
    expect(closed.reduce((s, c) => s + c.nbVentes, 0) + windows.rows().reduce((s, c) => s + c.nbVentes, 0)).toBe(onTime)
  })
})
