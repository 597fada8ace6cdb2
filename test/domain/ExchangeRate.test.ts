import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeExchangeRate, RateTable, valueInEur } from "../../src/domain/ExchangeRate.ts"
import { makeTransactionGenerator } from "../../src/domain/Generator.ts"
import type { Transaction } from "../../src/domain/Transaction.ts"

const rate = { currency: "XAU", rate_to_eur: 2, valid_from: "2026-01-01T00:00:00Z" }

describe("decodeExchangeRate", () => {
  it("decodes a rate within what dim_exchange_rates stores", () => {
    expect(Result.getOrThrow(decodeExchangeRate({ ...rate, rate_to_eur: 9_999_999_999.5 })).rateToEur).toBe(9_999_999_999.5)
    expect(Result.getOrThrow(decodeExchangeRate({ ...rate, rate_to_eur: 1e-10, valid_from: "1000-01-01T00:00:00Z" })).validFrom).toBe(Date.UTC(1000, 0, 1))
  })

  it.each([
    [{ ...rate, rate_to_eur: 1e10 }, "rate_to_eur: Expected a rate < 10^10 (DECIMAL(20,10) in dim_exchange_rates)"],
    [{ ...rate, rate_to_eur: 1e-11 }, "rate_to_eur: Expected a rate >= 10^-10 (DECIMAL(20,10) in dim_exchange_rates)"],
    [{ ...rate, valid_from: "0999-12-31T23:59:59Z" }, "valid_from: Expected an instant in the years 1000 to 9999 in UTC (MySQL's DATETIME range)"],
    [{ ...rate, valid_from: "9999-12-31T23:00:00-05:00" }, "valid_from: Expected an instant in the years 1000 to 9999 in UTC (MySQL's DATETIME range)"]
  ])("refuses %j, which the warehouse cannot store", (json, message) => {
    const r = decodeExchangeRate(json)
    expect(Result.isFailure(r) && r.failure).toBe(message)
  })
})

describe("valueInEur", () => {
  const table = new RateTable([{ currency: "XAU", rateToEur: 2, validFrom: Date.UTC(2026, 0, 1) }])
  const t: Transaction = { ...makeTransactionGenerator({ seed: 4 })(), currency: "XAU", eventTimeMs: Date.UTC(2026, 10, 22) }

  it("values an amount whose EUR value stays below 10^13", () => {
    const eur = Result.getOrThrow(valueInEur({ ...t, amountCents: 499_999_999_999_999 }, table))
    expect(eur.amountEurCents).toBe(999_999_999_999_998)
  })

  it("dead-letters an amount whose EUR value reaches 10^13, naming amount_eur", () => {
    const r = valueInEur({ ...t, amountCents: 500_000_000_000_000 }, table)
    expect(Result.isFailure(r) && r.failure).toEqual({
      kind: "schema",
      message: "amount_eur: 5000000000000.00 XAU at the rate 2 in force at 2026-11-22T00:00:00.000Z is 1.000e+13 EUR, not below 10^13 (exact in cents)"
    })
    const huge = valueInEur({ ...t, amountCents: 999_999_999_999_999 }, new RateTable([{ currency: "XAU", rateToEur: 9e9, validFrom: 0 }]))
    expect(Result.isFailure(huge) && huge.failure.message).toMatch(/^amount_eur: 9999999999999\.99 XAU at the rate 9000000000 .* is 9\.000e\+22 EUR/)
  })
})
