import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { makeRandom, makeTransactionGenerator } from "../../src/domain/Generator.ts"
import { decodeTransaction, decodeWithSchema, parseInstant, toWire, type TransactionDecodeError } from "../../src/domain/Transaction.ts"

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
  it("agrees with the schema on valid messages and on thousands of mutations of them", () => {
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
    for (let i = 0; i < 20_000; i++) {
      const wire = JSON.parse(JSON.stringify(toWire(next()))) as Record<string, any>
      if (i % 4 !== 0) {
        const path = pick(paths)
        let target = wire
        for (const key of path.slice(0, -1)) target = (target[key] ??= {})
        const last = path[path.length - 1]!
        if (random() < 0.2) delete target[last]
        else target[last] = pick(oddValues)
      }
      const fast = decodeTransaction(wire)
      const reference = decodeWithSchema(wire)
      expect(Result.isSuccess(fast)).toBe(Result.isSuccess(reference))
      if (Result.isSuccess(fast) && Result.isSuccess(reference)) {
        expect(fast.success).toEqual(reference.success)
        fastAccepted++
      } else if (Result.isFailure(fast) && Result.isFailure(reference)) {
        expect(fast.failure.message).toBe(reference.failure.message)
      }
    }
    expect(fastAccepted).toBeGreaterThan(5_000)
  })
})
