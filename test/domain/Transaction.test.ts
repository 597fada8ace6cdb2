import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { makeRandom, makeTransactionGenerator } from "../../src/domain/Generator.ts"
import { decodeFastPath, decodeTransaction, decodeWithSchema, parseInstant, toWire, type TransactionDecodeError } from "../../src/domain/Transaction.ts"

const valid = {
  transaction_id: "7b0c-1",
  event_time: "2026-11-22T10:15:30.123Z",
  transaction_type: "purchase",
  status: "completed",
  amount: 123.45,
  currency: "USD",
  user: { id: "u-000123", name: "Alice Martin", email: "alice@example.com", country: "FR", city: "Paris" },
  payment_method: { id: "pm-visa", name: "Visa", category: "card" },
  product: { id: "p-0042", name: "Casque audio", category: "audio", price: 59.9 },
  quantity: 2,
  ip_address: "203.0.113.7",
  card_last4: "4242"
}

const failure = (value: unknown): TransactionDecodeError => {
  const r = decodeTransaction(value)
  if (Result.isSuccess(r)) throw new Error(`decoded: ${JSON.stringify(value)}`)
  return r.failure
}

describe("decodeTransaction", () => {
  it("decodes a full transaction into UTC millis and integer cents", () => {
    const r = decodeTransaction(valid)
    expect(Result.isSuccess(r)).toBe(true)
    const t = Result.getOrThrow(r)
    expect(t.eventTimeMs).toBe(Date.UTC(2026, 10, 22, 10, 15, 30, 123))
    expect(t.amountCents).toBe(12345)
    expect(t.product?.priceCents).toBe(5990)
    expect(t.quantity).toBe(2)
    expect(t.user.city).toBe("Paris")
  })

  it("applies the defaults of optional fields", () => {
    const { product: _p, quantity: _q, ip_address: _i, card_last4: _c, ...minimal } = valid
    const t = Result.getOrThrow(decodeTransaction(minimal))
    expect(t.product).toBeNull()
    expect(t.quantity).toBe(1)
    expect(t.ipAddress).toBeNull()
    expect(t.cardLast4).toBeNull()
  })

  it("ignores unknown fields, at the top and nested", () => {
    const t = Result.getOrThrow(decodeTransaction({ ...valid, loyalty_tier: "gold", user: { ...valid.user, vip: true } }))
    expect(t.transactionId).toBe("7b0c-1")
    expect(toWire(t)).not.toHaveProperty("loyalty_tier")
  })

  it.each([
    ["2026-11-22T11:15:30.123+01:00", Date.UTC(2026, 10, 22, 10, 15, 30, 123)],
    ["2026-11-22T05:15:30-05:00", Date.UTC(2026, 10, 22, 10, 15, 30)],
    ["2026-11-23T00:15:30+1400", Date.UTC(2026, 10, 22, 10, 15, 30)],
    ["2026-11-22T10:15Z", Date.UTC(2026, 10, 22, 10, 15)]
  ])("accepts the ISO-8601 offset of %s and stores UTC", (text, utc) => {
    expect(Result.getOrThrow(decodeTransaction({ ...valid, event_time: text })).eventTimeMs).toBe(utc)
  })

  it.each([
    [{ ...valid, transaction_id: undefined }, "transaction_id", /Missing key|Expected/],
    [{ ...valid, transaction_id: "" }, "transaction_id", /non-empty/],
    [{ ...valid, user: { ...valid.user, name: "x".repeat(256) } }, "user.name", /at most 255/],
    [{ ...valid, user: { ...valid.user, city: "bad \ud800 text" } }, "user.city", /at most 128/],
    [{ ...valid, payment_method: { ...valid.payment_method, id: "p".repeat(129) } }, "payment_method.id", /at most 128/],
    [{ ...valid, event_time: "2026-02-30T10:00:00Z" }, "event_time", /ISO-8601/],
    [{ ...valid, event_time: "yesterday" }, "event_time", /ISO-8601/],
    [{ ...valid, event_time: "2026-11-22T10:15:30" }, "event_time", /ISO-8601/],
    [{ ...valid, transaction_type: "gift" }, "transaction_type", /purchase/],
    [{ ...valid, status: "done" }, "status", /completed/],
    [{ ...valid, amount: 0 }, "amount", /> 0/],
    [{ ...valid, amount: -5 }, "amount", /> 0/],
    [{ ...valid, amount: "12.50" }, "amount", /number/],
    [{ ...valid, amount: 1.234 }, "amount", /2 decimal/],
    [{ ...valid, currency: "usd" }, "currency", /ISO-4217/],
    [{ ...valid, user: { ...valid.user, id: 7 } }, "user.id", /string/],
    [{ ...valid, payment_method: null }, "payment_method", /object|Expected/],
    [{ ...valid, quantity: 0 }, "quantity", />= 1/],
    [{ ...valid, quantity: 1.5 }, "quantity", /integer/],
    [{ ...valid, product: { ...valid.product, price: -1 } }, "product.price", /> 0/]
  ])("refuses %j naming the field", (value, field, reason) => {
    const e = failure(value)
    expect(e.field).toBe(field)
    expect(e.reason).toMatch(reason)
    expect(e.message).toContain(field)
  })

  it("refuses values that are not objects", () => {
    for (const v of [null, 42, "text", [1, 2]]) expect(failure(v).reason).toMatch(/Expected/)
  })
})

describe("the bounds of what every sink stores", () => {
  it.each([
    ["1000-01-01T00:00:00Z", Date.UTC(1000, 0, 1)],
    ["9999-12-31T23:59:59.999Z", Date.UTC(9999, 11, 31, 23, 59, 59, 999)],
    ["9999-12-31T23:59:59.999+01:00", Date.UTC(9999, 11, 31, 22, 59, 59, 999)],
    ["0999-12-31T23:30:00-01:00", Date.UTC(1000, 0, 1, 0, 30)]
  ])("accepts event_time %s, in the years 1000 to 9999 in UTC", (text, utc) => {
    expect(Result.getOrThrow(decodeTransaction({ ...valid, event_time: text })).eventTimeMs).toBe(utc)
  })

  it.each([
    // Year 10000 in UTC, which DATETIME cannot hold.
    "9999-12-31T23:00:00-05:00",
    "0999-12-31T23:59:59.999Z",
    // Year 999 in UTC.
    "1000-01-01T00:30:00+01:00",
    // A date MySQL would read as 1999-06-15 had it been written unpadded.
    "0099-06-15T00:00:00Z",
    "0000-01-01T00:00:00Z"
  ])("refuses event_time %s, outside the years 1000 to 9999 in UTC", (text) => {
    const e = failure({ ...valid, event_time: text })
    expect(e.field).toBe("event_time")
    expect(e.reason).toMatch(/years 1000 to 9999 in UTC/)
  })

  it("accepts a quantity of 2^31 - 1, the lake's int32, and refuses 2^31 and above", () => {
    expect(Result.getOrThrow(decodeTransaction({ ...valid, quantity: 2_147_483_647 })).quantity).toBe(2_147_483_647)
    for (const quantity of [2_147_483_648, 1e20]) {
      const e = failure({ ...valid, quantity })
      expect(e.field).toBe("quantity")
      expect(e.reason).toMatch(quantity === 1e20 ? /integer/ : /<= 2147483647/)
    }
  })

  it("accepts amounts just under 10^13 and refuses 10^13, for the amount and the product's price", () => {
    const t = Result.getOrThrow(decodeTransaction({ ...valid, amount: 9_999_999_999_999.99, product: { ...valid.product, price: 9_999_999_999_999.99 } }))
    expect([t.amountCents, t.product?.priceCents]).toEqual([999_999_999_999_999, 999_999_999_999_999])
    expect(failure({ ...valid, amount: 1e13 }).message).toBe("amount: Expected a number < 10^13 (exact in cents)")
    expect(failure({ ...valid, product: { ...valid.product, price: 1e13 } }).message).toBe("product.price: Expected a number < 10^13 (exact in cents)")
  })
})

describe("amounts, decided from their decimal text", () => {
  it.each([
    [134_217_728.02, 13_421_772_802],
    [157_118_081.11, 15_711_808_111],
    [2_147_483_647.99, 214_748_364_799],
    [9_007_199_254.74, 900_719_925_474],
    [0.07, 7],
    [0.1, 10],
    [1_000_000, 100_000_000]
  ])("accepts %d as %d cents, for the amount and the product's price", (amount, cents) => {
    const t = Result.getOrThrow(decodeTransaction({ ...valid, amount, product: { ...valid.product, price: amount } }))
    expect([t.amountCents, t.product?.priceCents]).toEqual([cents, cents])
    const reference = Result.getOrThrow(decodeWithSchema({ ...valid, amount, product: { ...valid.product, price: amount } }))
    expect([reference.amountCents, reference.product?.priceCents]).toEqual([cents, cents])
  })

  it("accepts every two-decimal amount from 134217728.00 to 134217827.99", () => {
    // A third of them were refused when the check was `n * 100` within 1e-6 of an integer.
    const refused: Array<number> = []
    for (let cents = 13_421_772_800; cents < 13_421_782_800; cents++) {
      const r = decodeTransaction({ ...valid, amount: cents / 100 })
      if (Result.isFailure(r) || r.success.amountCents !== cents) refused.push(cents / 100)
    }
    expect(refused).toEqual([])
  })

  it.each([134_217_728.021, 157_118_081.115, 0.001, 1e-7, 1.5e-7, 12.345])("refuses %d, with more than two decimals", (amount) => {
    expect(failure({ ...valid, amount }).message).toBe("amount: Expected at most 2 decimal places")
    expect(failure({ ...valid, product: { ...valid.product, price: amount } }).message).toBe("product.price: Expected at most 2 decimal places")
  })
})

describe("parseInstant", () => {
  it("agrees with Date over random instants written with random offsets", () => {
    const random = makeRandom(11)
    const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, "0")
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor(random() * 4e12)
      const offset = (Math.floor(random() * 57) - 28) * 30
      const local = new Date(ms + offset * 60_000)
      const text = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:` +
        `${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}.${pad(local.getUTCMilliseconds(), 3)}` +
        (offset === 0 ? "Z" : `${offset < 0 ? "-" : "+"}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`)
      expect(parseInstant(text)).toBe(ms)
    }
  })

  it("refuses out-of-range fields", () => {
    for (const t of ["2026-11-22T24:00:00Z", "2026-11-22T10:60:00Z", "2026-11-22T10:00:60Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-22T10:00:00+24:00", "2026-11-22T10:00:00+01:60"]) {
      expect(parseInstant(t)).toBeNaN()
    }
  })

  it("tells real instants from calendar nonsense", () => {
    expect(parseInstant("2024-02-29T00:00:00Z")).toBe(Date.UTC(2024, 1, 29))
    expect(parseInstant("2025-02-29T00:00:00Z")).toBeNaN()
    expect(parseInstant("2026-04-31T00:00:00Z")).toBeNaN()
    expect(parseInstant("2026-11-22T10:15:30.123456789Z")).toBe(Date.UTC(2026, 10, 22, 10, 15, 30, 123))
  })
})

describe("toWire", () => {
  it("round-trips through decode", () => {
    const t = Result.getOrThrow(decodeTransaction(valid))
    expect(Result.getOrThrow(decodeTransaction(JSON.parse(JSON.stringify(toWire(t)))))).toEqual(t)
  })
})

describe("the hot path of decodeTransaction", () => {
  // Values that sit on the bounds, by field: each path draws from its own list as often as from the odd values.
  const boundaries: Record<string, ReadonlyArray<unknown>> = {
    event_time: [
      "1000-01-01T00:00:00Z", "0999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z", "9999-12-31T23:00:00-05:00",
      "1000-01-01T00:30:00+01:00", "0999-12-31T23:30:00-01:00", "0099-06-15T00:00:00Z", "2026-11-22T10:15:30.123456Z"
    ],
    quantity: [1, 2_147_483_646, 2_147_483_647, 2_147_483_648, 2 ** 53, 1e20, -2_147_483_648],
    amount: [0.01, 0.001, 9_999_999_999_999.98, 9_999_999_999_999.99, 1e13, 1e13 + 0.02, 134_217_728.02, 157_118_081.11, 134_217_728.021, 1e-7],
    price: [0.01, 9_999_999_999_999.99, 1e13, 134_217_728.02, 157_118_081.11, 157_118_081.115]
  }
  const boundaryOf = (path: ReadonlyArray<string>): ReadonlyArray<unknown> | undefined => boundaries[path[path.length - 1]!]

  /** Two- and three-decimal amounts above 2^27 (where the floating-point check used to refuse some), and random doubles. */
  const amountOf = (random: () => number): number => {
    const cents = 2 ** 27 * 100 + Math.floor(random() * (1e15 - 2 ** 27 * 100))
    switch (Math.floor(random() * 3)) {
      case 0:
        return cents / 100
      case 1:
        return (cents * 10 + 1 + Math.floor(random() * 9)) / 1000
      default:
        return random() * 10 ** Math.floor(random() * 14)
    }
  }

  it("accepts exactly what the schema accepts, with the same values, on valid messages and thousands of mutations", () => {
    const random = makeRandom(99)
    const next = makeTransactionGenerator({ seed: 99 })
    const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!
    const oddValues: ReadonlyArray<unknown> = [
      null, true, 0, -1, 1.5, 1e13, 12.345, 0.1 + 0.2, "", "x", "x".repeat(4), "x".repeat(5), "x".repeat(64), "x".repeat(65),
      "x".repeat(128), "x".repeat(129), "x".repeat(255), "x".repeat(256), "bad \ud800", "EUR", "eur", "purchase", "failed",
      "2026-11-22T10:00:00Z", "2026-02-30T10:00:00Z", [], {}, { id: "p", name: "n", category: "c", price: 1 }
    ]
    const paths = [
      ["transaction_id"], ["event_time"], ["transaction_type"], ["status"], ["amount"], ["currency"], ["quantity"], ["ip_address"],
      ["card_last4"], ["user"], ["user", "id"], ["user", "name"], ["user", "email"], ["user", "country"], ["user", "city"],
      ["payment_method"], ["payment_method", "id"], ["payment_method", "name"], ["payment_method", "category"], ["product"],
      ["product", "id"], ["product", "name"], ["product", "category"], ["product", "price"], ["extra"], ["user", "extra"]
    ]
    let fastAccepted = 0
    let bothRefused = 0
    for (let i = 0; i < 30_000; i++) {
      const wire = JSON.parse(JSON.stringify(toWire(next()))) as Record<string, any>
      if (i % 4 !== 0) {
        const path = pick(paths)
        let target = wire
        for (const key of path.slice(0, -1)) target = (target[key] ??= {})
        const last = path[path.length - 1]!
        const own = boundaryOf(path)
        const r = random()
        if (r < 0.15) delete target[last]
        else if (own !== undefined && r < 0.45) target[last] = pick(own)
        else if ((last === "amount" || last === "price") && r < 0.75) target[last] = amountOf(random)
        else target[last] = pick(oddValues)
      }
      const fast = decodeFastPath(wire)
      const reference = decodeWithSchema(wire)
      if (fast === undefined) {
        // The fast path leaves every message it does not accept to the schema: it must be one the schema refuses.
        expect(Result.isFailure(reference) ? undefined : wire).toBeUndefined()
        bothRefused++
      } else {
        expect(Result.isSuccess(reference) ? reference.success : reference.failure.message).toEqual(fast)
        fastAccepted++
      }
    }
    expect(fastAccepted).toBeGreaterThan(10_000)
    expect(bothRefused).toBeGreaterThan(5_000)
  })
})
