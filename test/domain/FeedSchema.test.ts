import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  checkPartitionField,
  compileFeedDecoder,
  DEFAULT_STRING_LENGTH,
  type FeedDecodeError,
  type FeedRow,
  type FeedSchema,
  type FeedSchemaError,
  formatFeedSchema,
  numberToUnscaled,
  parseFeedSchema,
  schemaIncompatibility
} from "../../src/domain/FeedSchema.ts"
import { makeRandom } from "../../src/domain/Generator.ts"
import type { ValueDecoder } from "../../src/topology/Decode.ts"

/** The schema file of the example. */
const ORDERS = {
  fields: {
    order_id: "string",
    qty: "integer",
    amount: "decimal(12,2)",
    paid: "boolean",
    placed_at: "timestamp",
    customer: { id: "string", vip: "boolean?" }
  }
}

const schemaOf = (file: unknown): FeedSchema => Result.getOrThrow(parseFeedSchema(file))

const refusal = (file: unknown): FeedSchemaError => {
  const r = parseFeedSchema(file)
  if (Result.isSuccess(r)) throw new Error(`accepted: ${JSON.stringify(file)}`)
  return r.failure
}

const orders = schemaOf(ORDERS)
const decodeOrder = compileFeedDecoder(orders)

const validOrder = {
  order_id: "o-1",
  qty: 3,
  amount: 134217728.02,
  paid: true,
  placed_at: "2026-11-22T00:30:00.000+01:00",
  customer: { id: "c-1", vip: false }
}

const failure = (decode: (v: unknown) => Result.Result<FeedRow, FeedDecodeError>, value: unknown): FeedDecodeError => {
  const r = decode(value)
  if (Result.isSuccess(r)) throw new Error(`decoded: ${JSON.stringify(value)}`)
  return r.failure
}

/** A decoder of one top-level field `v` of the given declared type. */
const one = (type: string) => compileFeedDecoder(schemaOf({ fields: { v: type } }))

describe("parseFeedSchema", () => {
  it("reads the issue's example into typed fields, in the file's order", () => {
    expect(orders).toEqual({
      fields: [
        { name: "order_id", optional: false, type: { kind: "string", maxLength: DEFAULT_STRING_LENGTH } },
        { name: "qty", optional: false, type: { kind: "integer" } },
        { name: "amount", optional: false, type: { kind: "decimal", precision: 12, scale: 2 } },
        { name: "paid", optional: false, type: { kind: "boolean" } },
        { name: "placed_at", optional: false, type: { kind: "timestamp" } },
        {
          name: "customer",
          optional: false,
          type: {
            kind: "object",
            fields: [
              { name: "id", optional: false, type: { kind: "string", maxLength: DEFAULT_STRING_LENGTH } },
              { name: "vip", optional: true, type: { kind: "boolean" } }
            ]
          }
        }
      ]
    })
  })

  it("reads bounded strings, decimals of every allowed scale, and optional objects", () => {
    const s = schemaOf({ fields: { code: "string(3)", rate: "decimal( 13 , 0 )", pct: "decimal(14,1)", tiny: "decimal(1,1)", "addr?": { city: "string" } } })
    expect(s.fields.map((f) => [f.name, f.optional, f.type])).toEqual([
      ["code", false, { kind: "string", maxLength: 3 }],
      ["rate", false, { kind: "decimal", precision: 13, scale: 0 }],
      ["pct", false, { kind: "decimal", precision: 14, scale: 1 }],
      ["tiny", false, { kind: "decimal", precision: 1, scale: 1 }],
      ["addr", true, { kind: "object", fields: [{ name: "city", optional: false, type: { kind: "string", maxLength: DEFAULT_STRING_LENGTH } }] }]
    ])
  })

  it.each([
    [42, "", /expected a schema object/],
    [{}, "fields", /missing/],
    [{ fields: {}, extra: 1 }, "extra", /only "fields"/],
    [{ fields: [] }, "fields", /expected an object of fields/],
    [{ fields: {} }, "fields", /declares no field/],
    [{ fields: { a: "bool" } }, "fields.a", /unknown type "bool"; the types are string, string\(n\), integer, decimal\(p,s\)/],
    [{ fields: { a: "String" } }, "fields.a", /unknown type/],
    [{ fields: { a: 3 } }, "fields.a", /expected a type .*, got 3/],
    [{ fields: { a: null } }, "fields.a", /got null/],
    [{ fields: { customer: { id: "string", vip: "boolean??" } } }, "fields.customer.vip", /unknown type "boolean\?"/],
    [{ fields: { customer: { address: { zip: "strin" } } } }, "fields.customer.address.zip", /unknown type "strin"/],
    [{ fields: { customer: {} } }, "fields.customer", /declares no field/],
    [{ fields: { "vip?": "boolean" } }, "fields.vip?", /write the \? after the type \("vip": "boolean\?"\)/],
    [{ fields: { "1st": "string" } }, "fields.1st", /a field name is a letter/],
    [{ fields: { "a-b": "string" } }, "fields.a-b", /a field name/],
    [{ fields: { ["x".repeat(129)]: "string" } }, `fields.${"x".repeat(129)}`, /at most 128/],
    [JSON.parse('{"fields": {"__proto__": "string"}}'), "fields.__proto__", /not __proto__/],
    [{ fields: { Amount: "integer", amount: "integer" } }, "fields.amount", /the same name as Amount/],
    [{ fields: { year: "integer" } }, "fields.year", /reserved: the lake adds year, month, day/],
    [{ fields: { Day: "integer" } }, "fields.Day", /reserved/],
    [{ fields: { _kafka_offset: "integer" } }, "fields._kafka_offset", /lineage/],
    [{ fields: { string: "string(0)" } }, "fields.string", /string\(0\): the length must be from 1 to 1048576/],
    [{ fields: { s: "string(1048577)" } }, "fields.s", /from 1 to 1048576/],
    [{ fields: { d: "decimal(0,0)" } }, "fields.d", /precision must be at least 1/],
    [{ fields: { d: "decimal(2,3)" } }, "fields.d", /scale cannot exceed the precision/],
    [{ fields: { d: "decimal(10,3)" } }, "fields.d", /at most 2 decimals \(the lake's decimal column is DECIMAL\(18,2\)\)/],
    [{ fields: { d: "decimal(16,2)" } }, "fields.d", /at most 13 digits before the point/],
    [{ fields: { d: "decimal(14,0)" } }, "fields.d", /at most 13 digits before the point/],
    [{ fields: { d: "decimal(12, 2" } }, "fields.d", /unknown type/]
  ])("refuses %j at %s", (file, path, reason) => {
    const e = refusal(file)
    expect(e.path).toBe(path)
    expect(e.reason).toMatch(reason)
    expect(e.message).toBe(path === "" ? e.reason : `${path}: ${e.reason}`)
  })

  it("allows the partition and lineage names inside objects, where they clash with nothing", () => {
    expect(schemaOf({ fields: { period: { year: "integer", _kafka_offset: "integer" } } }).fields[0]!.type.kind).toBe("object")
  })

  it("refuses objects nested deeper than 10", () => {
    let fields: Record<string, unknown> = { leaf: "string" }
    for (let i = 0; i < 10; i++) fields = { n: fields }
    expect(refusal({ fields }).path).toBe(`fields${".n".repeat(10)}`)
    expect(refusal({ fields }).reason).toMatch(/at most 10 deep/)
    expect(Result.isSuccess(parseFeedSchema({ fields: (fields.n as Record<string, unknown>) }))).toBe(true)
  })

  it("formats a schema as its file writes it, and reads it back the same", () => {
    const file = { fields: { a: "string", b: "string(12)", c: "integer?", d: "decimal(12,2)", e: "boolean", f: "timestamp?", "g?": { h: "decimal(3,0)", i: { j: "boolean" } } } }
    expect(formatFeedSchema(schemaOf(file))).toEqual(file)
    expect(schemaOf(formatFeedSchema(orders))).toEqual(orders)
    expect(formatFeedSchema(schemaOf({ fields: { d: "decimal( 5 , 1 )" } }))).toEqual({ fields: { d: "decimal(5,1)" } })
  })
})

describe("checkPartitionField", () => {
  const s = schemaOf({ fields: { at: "timestamp", maybe: "timestamp?", n: "integer", o: { at: "timestamp" }, "p?": { at: "timestamp" } } })

  it("accepts a required timestamp, at the top or nested in required objects", () => {
    expect(checkPartitionField(s, "at")).toBeUndefined()
    expect(checkPartitionField(s, "o.at")).toBeUndefined()
  })

  it.each([
    ["missing", /no field missing in the schema/],
    ["o.nope", /no field o.nope/],
    ["n.x", /no field n.x/],
    ["n", /n is integer, not a timestamp/],
    ["o", /o is an object, not a timestamp/],
    ["maybe", /maybe is optional/],
    ["p.at", /p.at is optional \(or inside an optional object\)/]
  ])("refuses %s", (path, reason) => {
    expect(checkPartitionField(s, path)).toMatch(reason)
  })
})

describe("schemaIncompatibility", () => {
  const before = schemaOf({ fields: { id: "string(10)", n: "integer?", m: "decimal(8,2)", o: { a: "boolean" } } })
  const after = (fields: Record<string, unknown>) => schemaIncompatibility(before, schemaOf({ fields }))
  const same = { id: "string(10)", n: "integer?", m: "decimal(8,2)", o: { a: "boolean" } }

  it("accepts the same schema, new optional fields anywhere, a longer string and a wider decimal", () => {
    expect(after(same)).toBeUndefined()
    expect(after({ ...same, extra: "string?", "more?": { x: "integer" }, o: { a: "boolean", b: "timestamp?" } })).toBeUndefined()
    expect(after({ ...same, id: "string", m: "decimal(12,2)" })).toBeUndefined()
  })

  it.each([
    [{ n: "integer?", m: "decimal(8,2)", o: { a: "boolean" } }, "id is removed (rows already written have it)"],
    [{ ...same, id: "string(9)" }, "id changes from string(10) to string(9) (only a string's bound and a decimal's precision may grow)"],
    [{ ...same, m: "decimal(8,1)" }, "m changes from decimal(8,2) to decimal(8,1) (only a string's bound and a decimal's precision may grow)"],
    [{ ...same, n: "integer" }, "n changes from optional to required"],
    [{ ...same, id: "string(10)?" }, "id changes from required to optional"],
    [{ ...same, o: "boolean" }, "o changes from an object to boolean"],
    [{ ...same, o: { a: "integer" } }, "o.a changes from boolean to integer (only a string's bound and a decimal's precision may grow)"],
    [{ ...same, o: { a: "boolean", b: "string" } }, "o.b is new and required (rows already written have none: declare it optional)"],
    [{ ...same, z: "integer" }, "z is new and required (rows already written have none: declare it optional)"]
  ])("refuses %j: %s", (fields, reason) => {
    expect(after(fields)).toBe(reason)
  })
})

describe("numberToUnscaled", () => {
  it("reads the decimals of the number's shortest text, not of its binary value", () => {
    expect(numberToUnscaled(134217728.02, 2)).toBe(13_421_772_802)
    expect(numberToUnscaled(12.5, 2)).toBe(1250)
    expect(numberToUnscaled(12.5, 1)).toBe(125)
    expect(numberToUnscaled(-0.07, 2)).toBe(-7)
    expect(numberToUnscaled(42, 0)).toBe(42)
    expect(numberToUnscaled(-42, 2)).toBe(-4200)
    expect(numberToUnscaled(9_999_999_999_999.99, 2)).toBe(999_999_999_999_999)
  })

  it("is NaN past the scale, for exponents below zero and for non-finite numbers", () => {
    expect(numberToUnscaled(12.5, 0)).toBeNaN()
    expect(numberToUnscaled(0.001, 2)).toBeNaN()
    expect(numberToUnscaled(1e-7, 2)).toBeNaN()
    expect(numberToUnscaled(1.5e-7, 2)).toBeNaN()
    expect(numberToUnscaled(Number.NaN, 2)).toBeNaN()
    expect(numberToUnscaled(Number.POSITIVE_INFINITY, 2)).toBeNaN()
  })
})

describe("compileFeedDecoder", () => {
  it("decodes a message into its row: decimals unscaled, timestamps in UTC millis, optional fields null", () => {
    expect(Result.getOrThrow(decodeOrder(validOrder))).toEqual({
      order_id: "o-1",
      qty: 3,
      amount: 13_421_772_802,
      paid: true,
      placed_at: Date.UTC(2026, 10, 21, 23, 30),
      customer: { id: "c-1", vip: false }
    })
    const { vip: _, ...noVip } = validOrder.customer
    expect(Result.getOrThrow(decodeOrder({ ...validOrder, customer: noVip })).customer).toEqual({ id: "c-1", vip: null })
    expect(Result.getOrThrow(decodeOrder({ ...validOrder, customer: { id: "c-1", vip: null } })).customer).toEqual({ id: "c-1", vip: null })
  })

  it("has the shape of the topology's value decoder", () => {
    const decoder: ValueDecoder<FeedRow> = decodeOrder
    const r = decoder({ ...validOrder, qty: "3" })
    expect(Result.isFailure(r) ? r.failure.message : "decoded").toBe('qty: expected an integer, got "3"')
  })

  it("ignores fields the schema does not declare, and never reads inherited ones", () => {
    expect(Result.getOrThrow(decodeOrder({ ...validOrder, extra: [1, 2], customer: { ...validOrder.customer, tier: "gold" } }))).toEqual(
      Result.getOrThrow(decodeOrder(validOrder))
    )
    const d = compileFeedDecoder(schemaOf({ fields: { constructor: "string?", toString: "string" } }))
    expect(Result.getOrThrow(d({ toString: "x" }))).toEqual({ constructor: null, toString: "x" })
    expect(failure(d, {}).message).toBe("toString: missing; expected a string of at most 65535 characters")
  })

  it.each([
    [{ ...validOrder, order_id: undefined }, "order_id", "missing; expected a string of at most 65535 characters"],
    [{ ...validOrder, order_id: null }, "order_id", "expected a string of at most 65535 characters, got null"],
    [{ ...validOrder, order_id: 7 }, "order_id", "expected a string of at most 65535 characters, got 7"],
    [{ ...validOrder, order_id: "x".repeat(65_536) }, "order_id", "expected a string of at most 65535 characters, got a string of 65536 characters"],
    [{ ...validOrder, order_id: "bad \ud800" }, "order_id", "expected well-formed Unicode text, got a lone surrogate"],
    [{ ...validOrder, qty: 1.5 }, "qty", "expected an integer, got 1.5"],
    [{ ...validOrder, qty: 2 ** 53 }, "qty", "expected an integer between -(2^53 - 1) and 2^53 - 1 (exact in a JSON number), got 9007199254740992"],
    [{ ...validOrder, qty: -(2 ** 53) }, "qty", "expected an integer between -(2^53 - 1) and 2^53 - 1 (exact in a JSON number), got -9007199254740992"],
    [{ ...validOrder, amount: "12.50" }, "amount", 'expected a number (decimal(12,2)), got "12.50"'],
    [{ ...validOrder, amount: 12.345 }, "amount", "expected at most 2 decimal places (decimal(12,2)), got 12.345"],
    [{ ...validOrder, amount: 1e-7 }, "amount", "expected at most 2 decimal places (decimal(12,2)), got 1e-7"],
    [{ ...validOrder, amount: 1e10 }, "amount", "expected a number of at most 10 digits before the point (decimal(12,2)), got 10000000000"],
    [{ ...validOrder, amount: -1e10 }, "amount", "expected a number of at most 10 digits before the point (decimal(12,2)), got -10000000000"],
    [{ ...validOrder, paid: "yes" }, "paid", 'expected true or false, got "yes"'],
    [{ ...validOrder, paid: 1 }, "paid", "expected true or false, got 1"],
    [{ ...validOrder, placed_at: "2026-11-22T00:30:00" }, "placed_at", 'expected an ISO-8601 date-time with an offset, got "2026-11-22T00:30:00"'],
    [{ ...validOrder, placed_at: "2026-02-30T00:00:00Z" }, "placed_at", 'expected an ISO-8601 date-time with an offset, got "2026-02-30T00:00:00Z"'],
    [{ ...validOrder, placed_at: 1_700_000_000_000 }, "placed_at", "expected an ISO-8601 date-time with an offset, got 1700000000000"],
    [{ ...validOrder, placed_at: "9999-12-31T23:00:00-05:00" }, "placed_at", 'expected an instant in the years 1000 to 9999 in UTC, got "9999-12-31T23:00:00-05:00"'],
    [{ ...validOrder, placed_at: "0999-12-31T23:59:59.999Z" }, "placed_at", 'expected an instant in the years 1000 to 9999 in UTC, got "0999-12-31T23:59:59.999Z"'],
    [{ ...validOrder, customer: undefined }, "customer", "missing; expected an object"],
    [{ ...validOrder, customer: null }, "customer", "expected an object, got null"],
    [{ ...validOrder, customer: ["c-1"] }, "customer", 'expected an object, got ["c-1"]'],
    [{ ...validOrder, customer: {} }, "customer.id", "missing; expected a string of at most 65535 characters"],
    [{ ...validOrder, customer: { id: "c-1", vip: "no" } }, "customer.vip", 'expected true or false, got "no"']
  ])("refuses %j naming the field", (value, field, reason) => {
    const e = failure(decodeOrder, value)
    expect(e.field).toBe(field)
    expect(e.reason).toBe(reason)
    expect(e.message).toBe(`${field}: ${reason}`)
  })

  it("refuses values that are not objects, naming no field", () => {
    for (const [v, shown] of [[null, "null"], [42, "42"], ["text", '"text"'], [[validOrder], '[{"order_id":"o-1","qty":3,"amount":1...']] as const) {
      const e = failure(decodeOrder, v)
      expect(e.field).toBe("")
      expect(e.message).toBe(`expected an object, got ${shown}`)
    }
  })

  it("holds strings to their bound on both sides", () => {
    const d = one("string(3)")
    expect(Result.getOrThrow(d({ v: "" })).v).toBe("")
    expect(Result.getOrThrow(d({ v: "abc" })).v).toBe("abc")
    expect(failure(d, { v: "abcd" }).message).toBe('v: expected a string of at most 3 characters, got "abcd"')
    expect(Result.getOrThrow(one("string")({ v: "x".repeat(65_535) })).v).toHaveLength(65_535)
    expect(Result.getOrThrow(d({ v: "é😀" })).v).toBe("é😀")
  })

  it("holds integers to the safe range on both sides", () => {
    const d = one("integer")
    for (const n of [0, -0, 1, -1, 2 ** 31, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e3]) expect(Result.getOrThrow(d({ v: n })).v).toBe(n)
    expect(failure(d, { v: 2 ** 53 }).field).toBe("v")
    expect(failure(d, { v: 1e300 }).field).toBe("v")
    expect(failure(d, { v: true }).reason).toBe("expected an integer, got true")
  })

  it("holds decimals to their precision and scale on both sides, negative ones included", () => {
    const d = one("decimal(15,2)")
    expect(Result.getOrThrow(d({ v: 9_999_999_999_999.99 })).v).toBe(999_999_999_999_999)
    expect(Result.getOrThrow(d({ v: -9_999_999_999_999.99 })).v).toBe(-999_999_999_999_999)
    expect(failure(d, { v: 1e13 }).reason).toMatch(/at most 13 digits before the point/)
    const whole = one("decimal(3,0)")
    expect(Result.getOrThrow(whole({ v: 999 })).v).toBe(999)
    expect(Result.getOrThrow(whole({ v: -999 })).v).toBe(-999)
    expect(failure(whole, { v: 1000 }).reason).toBe("expected a number of at most 3 digits before the point (decimal(3,0)), got 1000")
    expect(failure(whole, { v: 0.5 }).reason).toBe("expected at most 0 decimal places (decimal(3,0)), got 0.5")
    const tenths = one("decimal(2,1)")
    expect(Result.getOrThrow(tenths({ v: 9.9 })).v).toBe(99)
    expect(Result.getOrThrow(tenths({ v: 0 })).v).toBe(0)
    expect(failure(tenths, { v: 0.05 }).reason).toBe("expected at most 1 decimal place (decimal(2,1)), got 0.05")
    expect(failure(tenths, { v: 10 }).reason).toMatch(/at most 1 digits before the point/)
    expect(Result.getOrThrow(one("decimal(1,1)")({ v: -0.9 })).v).toBe(-9)
  })

  it("reads timestamps at any offset into UTC millis, keeping the milliseconds and dropping what is finer", () => {
    const d = one("timestamp")
    expect(Result.getOrThrow(d({ v: "2026-11-22T10:15:30.123456+05:30" })).v).toBe(Date.UTC(2026, 10, 22, 4, 45, 30, 123))
    expect(Result.getOrThrow(d({ v: "1000-01-01T00:00:00Z" })).v).toBe(Date.UTC(1000, 0, 1))
    expect(Result.getOrThrow(d({ v: "9999-12-31T23:59:59.999Z" })).v).toBe(Date.UTC(9999, 11, 31, 23, 59, 59, 999))
    expect(failure(d, { v: "1000-01-01T00:30:00+01:00" }).reason).toMatch(/years 1000 to 9999/)
  })

  it("makes an optional object null when absent or null, and checks its fields when present", () => {
    const d = compileFeedDecoder(schemaOf({ fields: { id: "string", "addr?": { city: "string", zip: "string(5)?" } } }))
    expect(Result.getOrThrow(d({ id: "a" }))).toEqual({ id: "a", addr: null })
    expect(Result.getOrThrow(d({ id: "a", addr: null }))).toEqual({ id: "a", addr: null })
    expect(Result.getOrThrow(d({ id: "a", addr: { city: "Paris" } }))).toEqual({ id: "a", addr: { city: "Paris", zip: null } })
    expect(failure(d, { id: "a", addr: { zip: "75001" } }).message).toBe("addr.city: missing; expected a string of at most 65535 characters")
    expect(failure(d, { id: "a", addr: { city: "Paris", zip: "750011" } }).message).toBe('addr.zip: expected a string of at most 5 characters, got "750011"')
    expect(failure(d, { id: "a", addr: "Paris" }).message).toBe('addr: expected an object, got "Paris"')
  })

  it("names the first offending field in the schema's order, however deep", () => {
    const d = compileFeedDecoder(schemaOf({ fields: { a: { b: { c: { d: "integer" } } }, z: "boolean" } }))
    expect(failure(d, { a: { b: { c: { d: "1" } } }, z: "x" }).message).toBe('a.b.c.d: expected an integer, got "1"')
    expect(failure(d, { a: { b: { c: { d: 1 } } }, z: "x" }).message).toBe('z: expected true or false, got "x"')
  })

  it("accepts exactly the values within each type's bounds, over random values", () => {
    const random = makeRandom(5)
    const d = compileFeedDecoder(schemaOf({ fields: { s: "string(4)", i: "integer", m: "decimal(6,2)", b: "boolean", t: "timestamp" } }))
    const pool: ReadonlyArray<unknown> = [
      undefined, null, true, false, 0, -1, 1.5, 0.01, 0.001, 9999.99, 10000, -9999.99, 2 ** 53, "", "abcd", "abcde", "2026-01-01T00:00:00Z", "2026-13-01T00:00:00Z", {}, []
    ]
    const fits: Record<string, (v: unknown) => boolean> = {
      s: (v) => typeof v === "string" && v.length <= 4,
      i: (v) => typeof v === "number" && Number.isSafeInteger(v),
      m: (v) => typeof v === "number" && Math.abs(v) < 10_000 && Math.round(v * 100) / 100 === v,
      b: (v) => typeof v === "boolean",
      t: (v) => v === "2026-01-01T00:00:00Z"
    }
    const good: Record<string, ReadonlyArray<unknown>> = {
      s: ["", "a", "abcd"],
      i: [0, 7, -Number.MAX_SAFE_INTEGER],
      m: [0, 12.5, -9999.99],
      b: [true, false],
      t: ["2026-01-01T00:00:00Z"]
    }
    const pick = (xs: ReadonlyArray<unknown>) => xs[Math.floor(random() * xs.length)]
    let accepted = 0
    for (let n = 0; n < 5_000; n++) {
      const value = Object.fromEntries(Object.keys(fits).map((k) => [k, random() < 0.6 ? pick(good[k]!) : pick(pool)]))
      const expected = Object.entries(fits).every(([k, fit]) => fit(value[k]))
      expect(Result.isSuccess(d(value)), JSON.stringify(value)).toBe(expected)
      if (expected) accepted++
    }
    expect(accepted).toBeGreaterThan(100)
    expect(accepted).toBeLessThan(4_900)
  })
})
