import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { makeRandom } from "../../src/domain/Generator.ts"
import {
  decodeVente,
  decodeVenteFastPath,
  decodeVenteWithSchema,
  formatInstantAtOffset,
  toVenteWire,
  type VenteDecodeError
} from "../../src/domain/Vente.ts"
import { makeVenteGenerator } from "../../src/domain/VenteGenerator.ts"

const valid = {
  vente_id: "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
  horodatage: "2026-11-22T00:30:00.000+01:00",
  client_id: "c-0001",
  client_nom: "Jean Dupont",
  pays: "France",
  type_client: "B2C",
  produit: "Ordinateur portable",
  categorie: "Informatique",
  quantite: 1,
  prix_unitaire: 1799.98,
  montant: 1799.98
}

const failure = (value: unknown): VenteDecodeError => {
  const r = decodeVente(value)
  if (Result.isSuccess(r)) throw new Error(`decoded: ${JSON.stringify(value)}`)
  return r.failure
}

describe("decodeVente", () => {
  it("decodes a sale into UTC millis, its UTC day and integer cents", () => {
    expect(Result.getOrThrow(decodeVente(valid))).toEqual({
      venteId: "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
      horodatageMs: Date.UTC(2026, 10, 21, 23, 30),
      jour: "2026-11-21",
      clientId: "c-0001",
      clientNom: "Jean Dupont",
      pays: "France",
      typeClient: "B2C",
      produit: "Ordinateur portable",
      categorie: "Informatique",
      quantite: 1,
      prixUnitaireCents: 179_998,
      montantCents: 179_998
    })
  })

  it("takes a montant of quantite × prix_unitaire to the cent, however large", () => {
    expect(Result.getOrThrow(decodeVente({ ...valid, quantite: 3, prix_unitaire: 33.33, montant: 99.99 })).montantCents).toBe(9_999)
    const big = Result.getOrThrow(decodeVente({ ...valid, quantite: 2_147_483_647, prix_unitaire: 4656.61, montant: 9_999_993_825_456.67 }))
    expect(big.montantCents).toBe(999_999_382_545_667)
  })

  it("refuses a montant that is not quantite × prix_unitaire, naming montant and both amounts", () => {
    expect(failure({ ...valid, montant: 1799.97 }).message).toBe("montant: 1799.97 is not quantite × prix_unitaire = 1799.98")
    expect(failure({ ...valid, quantite: 2 }).message).toBe("montant: 1799.98 is not quantite × prix_unitaire = 3599.96")
    // A product past what a number holds exactly is still written exactly.
    expect(failure({ ...valid, quantite: 2_147_483_647, prix_unitaire: 9_999_999_999_999.99, montant: 1 }).message).toBe(
      "montant: 1.00 is not quantite × prix_unitaire = 21474836469999978525163.53"
    )
  })

  it.each([
    [{ ...valid, vente_id: "not-a-uuid" }, "vente_id", /UUID/],
    [{ ...valid, vente_id: undefined }, "vente_id", /Missing key|Expected/],
    [{ ...valid, horodatage: "2026-11-22T00:30:00" }, "horodatage", /ISO-8601/],
    [{ ...valid, horodatage: "9999-12-31T23:00:00-05:00" }, "horodatage", /years 1000 to 9999/],
    [{ ...valid, client_id: "" }, "client_id", /non-empty/],
    [{ ...valid, client_id: "c".repeat(129) }, "client_id", /at most 128/],
    [{ ...valid, client_nom: "n".repeat(256) }, "client_nom", /at most 255/],
    [{ ...valid, pays: "p".repeat(65) }, "pays", /at most 64/],
    [{ ...valid, pays: "bad \ud800" }, "pays", /at most 64/],
    [{ ...valid, type_client: "B2X" }, "type_client", /B2B/],
    [{ ...valid, produit: 42 }, "produit", /string/],
    [{ ...valid, categorie: "c".repeat(65) }, "categorie", /at most 64/],
    [{ ...valid, quantite: 0 }, "quantite", />= 1/],
    [{ ...valid, quantite: 1.5 }, "quantite", /integer/],
    [{ ...valid, quantite: 2_147_483_648 }, "quantite", /<= 2147483647/],
    [{ ...valid, prix_unitaire: "1799.98" }, "prix_unitaire", /number/],
    [{ ...valid, prix_unitaire: 0 }, "prix_unitaire", /> 0/],
    [{ ...valid, prix_unitaire: 1799.985 }, "prix_unitaire", /2 decimal/],
    [{ ...valid, montant: -1799.98 }, "montant", /> 0/],
    [{ ...valid, montant: 1e13 }, "montant", /< 10\^13/]
  ])("refuses %j naming the field", (value, field, reason) => {
    const e = failure(value)
    expect(e.field).toBe(field)
    expect(e.reason).toMatch(reason)
  })

  it("refuses values that are not objects", () => {
    for (const v of [null, 42, "text", [valid]]) expect(failure(v).reason).toMatch(/Expected/)
  })
})

describe("toVenteWire", () => {
  it("writes horodatage at the given offset, and round-trips through decode", () => {
    const v = Result.getOrThrow(decodeVente(valid))
    expect(toVenteWire(v, -300).horodatage).toBe("2026-11-21T18:30:00.000-05:00")
    expect(toVenteWire(v).horodatage).toBe("2026-11-21T23:30:00.000Z")
    for (const offset of [0, 60, -300, 345]) expect(Result.getOrThrow(decodeVente(JSON.parse(JSON.stringify(toVenteWire(v, offset)))))).toEqual(v)
  })

  it("formats instants at an offset as Date reads them", () => {
    expect(formatInstantAtOffset(Date.UTC(2026, 0, 1, 0, 0, 0, 5), 90)).toBe("2026-01-01T01:30:00.005+01:30")
    expect(Date.parse(formatInstantAtOffset(Date.UTC(2026, 0, 1), -570))).toBe(Date.UTC(2026, 0, 1))
  })
})

describe("the hot path of decodeVente", () => {
  it("accepts exactly what the schema and the montant rule accept, with the same values", () => {
    const random = makeRandom(71)
    const next = makeVenteGenerator({ seed: 71, lateRatio: 0.1 })
    const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!
    const odd: ReadonlyArray<unknown> = [
      null, true, 0, -1, 1, 2, 3, 1.5, 0.01, 0.001, 1e13, 9_999_999_999_999.99, 2_147_483_647, 2_147_483_648, "", "x", "x".repeat(64),
      "x".repeat(65), "x".repeat(128), "x".repeat(129), "x".repeat(255), "x".repeat(256), "bad \ud800", "B2B", "B2C", "b2c",
      "2026-11-22T10:00:00Z", "2026-02-30T10:00:00Z", "0999-12-31T23:59:59Z", "00000000-0000-0000-0000-000000000000",
      "00000000-0000-0000-0000-00000000000g", [], {}
    ]
    const fields = ["vente_id", "horodatage", "client_id", "client_nom", "pays", "type_client", "produit", "categorie", "quantite", "prix_unitaire", "montant", "extra"]
    let accepted = 0
    let refused = 0
    for (let i = 0; i < 30_000; i++) {
      const g = next()
      const wire = JSON.parse(JSON.stringify(toVenteWire(g.vente, g.offsetMinutes))) as Record<string, unknown>
      if (i % 4 !== 0) {
        const field = pick(fields)
        const r = random()
        if (r < 0.15) delete wire[field]
        else if (field === "montant" && r < 0.5) wire.montant = (g.vente.montantCents + pick([-1, 1, 0, 100])) / 100
        else if (field === "quantite" && r < 0.5) wire.quantite = g.vente.quantite + pick([1, 0])
        else wire[field] = pick(odd)
      }
      const fast = decodeVenteFastPath(wire)
      const reference = decodeVenteWithSchema(wire)
      if (fast === undefined) {
        expect(Result.isFailure(reference) ? undefined : wire).toBeUndefined()
        refused++
      } else {
        expect(Result.isSuccess(reference) ? reference.success : reference.failure.message).toEqual(fast)
        accepted++
      }
    }
    expect(accepted).toBeGreaterThan(10_000)
    expect(refused).toBeGreaterThan(5_000)
  })
})
