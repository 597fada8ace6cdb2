import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeVente, toVenteWire } from "../../src/domain/Vente.ts"
import { makeVenteGenerator, makeVenteMessageGenerator, type VenteBadKind } from "../../src/domain/VenteGenerator.ts"

describe("sales generator", () => {
  it("is deterministic under a seed, and differs across seeds", () => {
    const a = makeVenteGenerator({ seed: 9, lateRatio: 0.1 })
    const b = makeVenteGenerator({ seed: 9, lateRatio: 0.1 })
    const c = makeVenteGenerator({ seed: 10, lateRatio: 0.1 })
    const xs = Array.from({ length: 200 }, a)
    expect(Array.from({ length: 200 }, b)).toEqual(xs)
    expect(Array.from({ length: 200 }, c)).not.toEqual(xs)
  })

  it("makes valid, varied sales: clients of several countries and both types, a catalogue, quantities mostly 1 to 3", () => {
    const next = makeVenteGenerator({ seed: 3 })
    const xs = Array.from({ length: 3_000 }, next)
    for (const g of xs) expect(Result.getOrThrow(decodeVente(JSON.parse(JSON.stringify(toVenteWire(g.vente, g.offsetMinutes)))))).toEqual(g.vente)
    const sales = xs.map((g) => g.vente)
    expect(new Set(sales.map((v) => v.clientId)).size).toBeGreaterThanOrEqual(30)
    expect(new Set(sales.map((v) => v.pays)).size).toBeGreaterThanOrEqual(5)
    expect(new Set(sales.map((v) => v.typeClient))).toEqual(new Set(["B2B", "B2C"]))
    expect(new Set(sales.map((v) => v.produit)).size).toBeGreaterThanOrEqual(15)
    expect(new Set(sales.map((v) => v.categorie)).size).toBeGreaterThanOrEqual(5)
    expect(new Set(xs.map((g) => g.offsetMinutes)).size).toBeGreaterThanOrEqual(3)
    expect(sales.filter((v) => v.quantite <= 3).length / sales.length).toBeGreaterThan(0.85)
    expect(new Set(sales.map((v) => v.venteId)).size).toBe(sales.length)
    for (const v of sales) expect(v.venteId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    // A client is one person or company: its name, country and type never change.
    const byClient = new Map(sales.map((v) => [v.clientId, `${v.clientNom}|${v.pays}|${v.typeClient}`]))
    for (const v of sales) expect(`${v.clientNom}|${v.pays}|${v.typeClient}`).toBe(byClient.get(v.clientId))
  })

  it("has regular clients and rare ones, so that loyalty and spending segments stay varied", () => {
    const next = makeVenteGenerator({ seed: 12 })
    const purchases = new Map<string, number>()
    for (let i = 0; i < 1_000; i++) {
      const id = next().vente.clientId
      purchases.set(id, (purchases.get(id) ?? 0) + 1)
    }
    const counts = [...purchases.values()]
    expect(Math.min(...counts)).toBeLessThanOrEqual(2)
    expect(counts.filter((c) => c >= 50).length).toBeGreaterThanOrEqual(5)
  })

  it("advances event time a few seconds per sale, so that hour windows close within a thousand sales", () => {
    const next = makeVenteGenerator({ seed: 4 })
    const xs = Array.from({ length: 1_000 }, next).map((g) => g.vente.horodatageMs)
    let latest = xs[0]!
    for (const t of xs.slice(1)) {
      // On time: at most the largest gap and two minutes of jitter behind the latest so far.
      expect(latest - t).toBeLessThanOrEqual(10_000 + 120_000)
      latest = Math.max(latest, t)
    }
    expect(latest - xs[0]!).toBeGreaterThan(90 * 60_000)
    expect(latest - xs[0]!).toBeLessThan(3 * 3_600_000)
  })

  it("puts a share lateRatio of sales 15 to 90 minutes behind the latest event time so far", () => {
    const next = makeVenteGenerator({ seed: 5, lateRatio: 0.05 })
    const xs = Array.from({ length: 10_000 }, next)
    const late = xs.filter((g) => g.late)
    expect(late.length).toBeGreaterThan(400)
    expect(late.length).toBeLessThan(600)
    let latest = Number.NEGATIVE_INFINITY
    for (const g of xs) {
      const t = g.vente.horodatageMs
      if (g.late && latest > Number.NEGATIVE_INFINITY) {
        expect(latest - t).toBeGreaterThanOrEqual(15 * 60_000)
        expect(latest - t).toBeLessThanOrEqual(90 * 60_000)
      }
      latest = Math.max(latest, t)
    }
  })

  it("makes the same sales whatever lateRatio, only their times differ", () => {
    const strip = (g: ReturnType<ReturnType<typeof makeVenteGenerator>>) => ({ ...g.vente, horodatageMs: 0, jour: "", late: undefined })
    const a = Array.from({ length: 500 }, makeVenteGenerator({ seed: 6 })).map(strip)
    const b = Array.from({ length: 500 }, makeVenteGenerator({ seed: 6, lateRatio: 0.3 })).map(strip)
    expect(b).toEqual(a)
  })
})

describe("sales messages", () => {
  it("are keyed by client id, and a share badRatio of them is malformed in each of the kinds", () => {
    const next = makeVenteMessageGenerator({ seed: 8, badRatio: 0.1 })
    const xs = Array.from({ length: 10_000 }, next)
    const bad = xs.filter((m) => m.bad !== undefined)
    expect(bad.length).toBeGreaterThan(850)
    expect(bad.length).toBeLessThan(1_150)
    expect(new Set(bad.map((m) => m.bad)).size).toBe(9)
    const refusedFor = new Map<VenteBadKind, string>()
    for (const m of xs) {
      let json: unknown
      try {
        json = JSON.parse(m.value.toString("utf8"))
      } catch {
        expect(["not-json", "not-utf8", "empty"]).toContain(m.bad)
        continue
      }
      const r = decodeVente(json)
      if (m.bad === undefined) {
        expect(Result.isSuccess(r) && r.success.clientId).toBe(m.key)
      } else {
        expect(Result.isFailure(r)).toBe(true)
        if (Result.isFailure(r)) refusedFor.set(m.bad, r.failure.field)
      }
    }
    expect(Object.fromEntries(refusedFor)).toEqual({
      "missing-field": "vente_id",
      "bad-type": "prix_unitaire",
      "bad-enum": "type_client",
      "negative-amount": "montant",
      "bad-date": "horodatage",
      "wrong-total": "montant"
    })
  })
})
