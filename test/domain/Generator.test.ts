import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { makeMessageGenerator, makeTransactionGenerator } from "../../src/domain/Generator.ts"
import { decodeTransaction, toWire } from "../../src/domain/Transaction.ts"

describe("transaction generator", () => {
  it("is deterministic under a seed, and differs across seeds", () => {
    const a = makeTransactionGenerator({ seed: 9 })
    const b = makeTransactionGenerator({ seed: 9 })
    const c = makeTransactionGenerator({ seed: 10 })
    const xs = Array.from({ length: 50 }, a)
    expect(Array.from({ length: 50 }, b)).toEqual(xs)
    expect(Array.from({ length: 50 }, c)).not.toEqual(xs)
  })

  it("makes valid, varied transactions over several days", () => {
    const next = makeTransactionGenerator({ seed: 3 })
    const xs = Array.from({ length: 5_000 }, next)
    for (const t of xs) expect(Result.isSuccess(decodeTransaction(JSON.parse(JSON.stringify(toWire(t)))))).toBe(true)
    expect(new Set(xs.map((t) => t.user.id)).size).toBeGreaterThan(200)
    expect(new Set(xs.map((t) => t.product?.id).filter(Boolean)).size).toBeGreaterThan(20)
    expect(new Set(xs.map((t) => t.paymentMethod.id)).size).toBe(5)
    expect(new Set(xs.map((t) => t.currency)).size).toBeGreaterThan(3)
    expect(new Set(xs.map((t) => t.transactionType)).size).toBe(5)
    expect(new Set(xs.map((t) => new Date(t.eventTimeMs).toISOString().slice(0, 10))).size).toBeGreaterThanOrEqual(5)
    expect(new Set(xs.map((t) => t.transactionId)).size).toBe(xs.length)
  })

  it("mixes in the requested share of malformed messages", () => {
    const next = makeMessageGenerator({ seed: 4, badRatio: 0.1 })
    const xs = Array.from({ length: 10_000 }, next)
    const bad = xs.filter((m) => m.bad !== undefined)
    expect(bad.length).toBeGreaterThan(850)
    expect(bad.length).toBeLessThan(1_150)
    expect(new Set(bad.map((m) => m.bad)).size).toBeGreaterThanOrEqual(6)
  })
})
