import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { aggregate, dayOf } from "../../src/domain/DailyAggregates.ts"
import { defaultExchangeRates, type EurTransaction, RateTable, toEurCents, valueInEur } from "../../src/domain/ExchangeRate.ts"
import { makeTransactionGenerator } from "../../src/domain/Generator.ts"
import type { Transaction } from "../../src/domain/Transaction.ts"

const rates = new RateTable(defaultExchangeRates)
const transactions = (n: number, seed = 1): Array<EurTransaction> => {
  const next = makeTransactionGenerator({ seed })
  return Array.from({ length: n }, () => Result.getOrThrow(valueInEur(next(), rates)))
}

describe("aggregate", () => {
  it("sums non-failed transactions by user, type and UTC day, exactly in cents", () => {
    const xs = transactions(5_000)
    const a = aggregate(xs)
    const counted = xs.filter((t) => t.status !== "failed")
    expect(a.counted).toBe(counted.length)
    expect([...a.userDays()].reduce((n, f) => n + f.count, 0)).toBe(counted.length)
    const expected = new Map<string, { cents: number; eur: number; count: number }>()
    for (const t of counted) {
      const key = `${t.user.id}|${t.transactionType}|${dayOf(t.eventTimeMs)}`
      const e = expected.get(key) ?? { cents: 0, eur: 0, count: 0 }
      e.cents += t.amountCents
      e.eur += t.amountEurCents
      e.count += 1
      expected.set(key, e)
    }
    expect([...a.userDays()].length).toBe(expected.size)
    for (const f of a.userDays()) {
      expect({ cents: f.totalCents, eur: f.totalEurCents, count: f.count }).toEqual(expected.get(`${f.userId}|${f.transactionType}|${f.day}`))
    }
  })

  it("counts distinct buyers per product and day, and only completed or pending purchases", () => {
    const xs = transactions(5_000, 2)
    const a = aggregate(xs)
    const purchases = xs.filter((t) => t.status !== "failed" && t.transactionType === "purchase" && t.product !== null)
    const buyers = new Set(purchases.map((t) => `${t.product!.id}|${dayOf(t.eventTimeMs)}|${t.user.id}`))
    expect([...a.buyers()].length).toBe(buyers.size)
    expect([...a.productDays()].reduce((n, p) => n + p.purchases, 0)).toBe(purchases.length)
    expect([...a.productDays()].reduce((n, p) => n + Number(p.units), 0)).toBe(purchases.reduce((n, t) => n + t.quantity, 0))
  })

  it("keeps money sums exact past 2^53 cents, as bigints, and small sums as numbers", () => {
    const base = transactions(1, 5)[0]!
    const biggest: EurTransaction = {
      ...base,
      status: "completed",
      transactionType: "purchase",
      amountCents: 999_999_999_999_999,
      amountEurCents: 999_999_999_999_998,
      quantity: 1,
      product: { id: "p-gold", name: "Gold", category: "metal", priceCents: 999_999_999_999_999 }
    }
    const small: EurTransaction = { ...biggest, user: { ...biggest.user, id: "u-small" }, amountCents: 1_250, amountEurCents: 1_150 }
    const a = aggregate([...Array.from({ length: 5_000 }, () => biggest), small, small])
    const byUser = new Map([...a.userDays()].map((f) => [f.userId, f]))
    expect(byUser.get(biggest.user.id)).toMatchObject({ totalCents: 4_999_999_999_999_995_000n, totalEurCents: 4_999_999_999_999_990_000n, count: 5_000 })
    expect(byUser.get("u-small")).toMatchObject({ totalCents: 2_500, totalEurCents: 2_300, count: 2 })
    expect([...a.paymentMethodDays()].map((f) => f.totalEurCents)).toEqual([4_999_999_999_999_992_300n])
    expect([...a.productDays()].map((f) => [f.revenueEurCents, f.units])).toEqual([[4_999_999_999_999_992_300n, 5_002]])
  })

  it("keeps units exact past 2^53, as a bigint", () => {
    const base = transactions(1, 6)[0]!
    const bulk: EurTransaction = {
      ...base,
      status: "completed",
      transactionType: "purchase",
      quantity: 2_147_483_647,
      product: { id: "p-bolt", name: "Bolt", category: "hardware", priceCents: 1 }
    }
    // 2^22 + 1 purchases of 2^31 - 1 units: (2^22 + 1) * (2^31 - 1) > 2^53.
    const n = 2 ** 22 + 1
    const a = aggregate(Array.from({ length: n }, () => bulk))
    expect([...a.productDays()].map((f) => f.units)).toEqual([BigInt(n) * 2_147_483_647n])
  })

  it("keeps dimensions of every transaction, failed ones too, with the latest attributes", () => {
    const base = transactions(1, 3)[0]!
    const older: EurTransaction = { ...base, status: "failed", eventTimeMs: base.eventTimeMs - 1_000, user: { ...base.user, city: "Old" } }
    const newer: EurTransaction = { ...base, eventTimeMs: base.eventTimeMs + 1_000, user: { ...base.user, city: "New" } }
    const a = aggregate([newer, older])
    expect(a.users.get(base.user.id)).toMatchObject({ city: "New", firstSeen: older.eventTimeMs, lastSeen: newer.eventTimeMs })
    expect(a.counted).toBe(1)
  })

  it("absorbs another batch's aggregates as if its transactions had been added, leaving it as it was", () => {
    const xs = transactions(3_000, 7)
    const whole = aggregate(xs)
    const parts = [xs.slice(0, 1_000), xs.slice(1_000, 1_001), xs.slice(1_001)].map((p) => aggregate(p))
    const before = [...parts[1]!.userDays()].map((f) => ({ ...f }))
    const merged = aggregate([])
    for (const p of parts) merged.absorb(p)
    const sorted = <A>(xs: Iterable<A>) => [...xs].map((x) => JSON.stringify(x, (_, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Set ? [...v].sort() : v))).sort()
    expect(merged.counted).toBe(whole.counted)
    expect(sorted(merged.users.values())).toEqual(sorted(whole.users.values()))
    expect(sorted(merged.paymentMethods.values())).toEqual(sorted(whole.paymentMethods.values()))
    expect(sorted(merged.userDays())).toEqual(sorted(whole.userDays()))
    expect(sorted(merged.paymentMethodDays())).toEqual(sorted(whole.paymentMethodDays()))
    expect(sorted(merged.productDays())).toEqual(sorted(whole.productDays()))
    expect(sorted(merged.buyers())).toEqual(sorted(whole.buyers()))
    expect(merged.rates).toEqual(whole.rates)
    expect([...parts[1]!.userDays()]).toEqual(before)
  })

  it("absorbs sums past 2^53 exactly", () => {
    const base = transactions(1, 5)[0]!
    const big: EurTransaction = { ...base, status: "completed", amountCents: 999_999_999_999_999, amountEurCents: 999_999_999_999_998 }
    const a = aggregate(Array.from({ length: 5 }, () => big))
    const b = aggregate(Array.from({ length: 6 }, () => big))
    a.absorb(b)
    expect([...a.userDays()].map((f) => [f.totalCents, f.count])).toEqual([[10_999_999_999_999_989n, 11]])
  })

  it("uses the UTC day of the event", () => {
    expect(dayOf(Date.UTC(2026, 10, 22, 23, 59, 59, 999))).toBe("2026-11-22")
    expect(dayOf(Date.UTC(2026, 0, 1))).toBe("2026-01-01")
  })
})

describe("EUR valuation", () => {
  it("applies the rate in force at the event time, and dead-letters a currency without one", () => {
    const table = new RateTable([
      { currency: "USD", rateToEur: 0.9, validFrom: Date.UTC(2026, 0, 1) },
      { currency: "USD", rateToEur: 0.95, validFrom: Date.UTC(2026, 5, 1) }
    ])
    const t = { ...makeTransactionGenerator({ seed: 4 })(), currency: "USD", amountCents: 1_001 } as Transaction
    expect(Result.getOrThrow(valueInEur({ ...t, eventTimeMs: Date.UTC(2026, 2, 1) }, table)).amountEurCents).toBe(901)
    expect(Result.getOrThrow(valueInEur({ ...t, eventTimeMs: Date.UTC(2026, 6, 1) }, table)).rate.rateToEur).toBe(0.95)
    const early = valueInEur({ ...t, eventTimeMs: Date.UTC(2025, 6, 1) }, table)
    expect(Result.isFailure(early) && early.failure.kind).toBe("no-rate")
    const other = valueInEur({ ...t, currency: "XAF" }, table)
    expect(Result.isFailure(other) && other.failure.message).toMatch(/no EUR rate for XAF/)
    expect(toEurCents(1_000_000, { currency: "JPY", rateToEur: 0.0062, validFrom: 0 })).toBe(6_200)
  })
})
