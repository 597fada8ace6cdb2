/**
 * The `transaction_stream` message: its schema, and the decoding of raw Kafka values into it.
 * Pure: no I/O, no services. A failure names the field and the reason.
 */
import { Data, Result, Schema, SchemaIssue } from "effect"
import { enable as compileSchema } from "effect/schema/SchemaJITCompiler"
import { DAY_MS, daysFromCivil, daysInMonth, isStorableInstant } from "./CivilDate.ts"
import { numberToCents } from "./Money.ts"

/** The kinds of transaction a payment system emits. */
export const TransactionTypes = ["purchase", "refund", "transfer", "withdrawal", "deposit"] as const
export type TransactionType = (typeof TransactionTypes)[number]

/** Settlement states; `failed` transactions are kept in the lake but count in no aggregate. */
export const TransactionStatuses = ["completed", "pending", "failed"] as const
export type TransactionStatus = (typeof TransactionStatuses)[number]

// ISO-8601 date-time with a mandatory offset (Z or ±hh[:]mm); seconds and their fraction optional.
const isoDateTime = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))$/

// Decoding validates event_time, then converts it: the second call with the same string is free.
let lastText: string | undefined
let lastInstant = Number.NaN

/** Epoch millis of an ISO-8601 instant, or NaN when it is not one (a 30 February, a 25th hour…). */
export const parseInstant = (text: string): number => {
  if (text === lastText) return lastInstant
  lastText = text
  lastInstant = parseInstantUncached(text)
  return lastInstant
}

const digit = (text: string, at: number): number => {
  const c = text.charCodeAt(at) - 48
  return c >= 0 && c <= 9 ? c : Number.NaN
}
const two = (text: string, at: number): number => digit(text, at) * 10 + digit(text, at + 1)

/**
 * The common shapes, `YYYY-MM-DDTHH:MM:SS[.mmm](Z|±HH:MM)`, read digit by digit (the regular
 * expression below reads the rest): NaN when the text is not of these shapes.
 */
const parseCommonInstant = (text: string): number => {
  const n = text.length
  const fraction = n === 24 || n === 29
  if (!(n === 20 || n === 25 || fraction)) return Number.NaN
  if (text[4] !== "-" || text[7] !== "-" || text[10] !== "T" || text[13] !== ":" || text[16] !== ":") return Number.NaN
  if (fraction && text[19] !== ".") return Number.NaN
  const year = two(text, 0) * 100 + two(text, 2)
  const month = two(text, 5)
  const day = two(text, 8)
  const hour = two(text, 11)
  const minute = two(text, 14)
  const second = two(text, 17)
  const millis = fraction ? digit(text, 20) * 100 + two(text, 21) : 0
  const zone = fraction ? 23 : 19
  let offsetMinutes = 0
  if (text[zone] === "Z") {
    if (n !== zone + 1) return Number.NaN
  } else {
    const sign = text[zone] === "+" ? 1 : text[zone] === "-" ? -1 : 0
    const oh = two(text, zone + 1)
    const om = two(text, zone + 4)
    if (sign === 0 || text[zone + 3] !== ":" || n !== zone + 6 || oh > 23 || om > 59) return Number.NaN
    offsetMinutes = sign * (oh * 60 + om)
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    return Number.NaN
  }
  return daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + millis
}

const parseInstantUncached = (text: string): number => {
  const common = parseCommonInstant(text)
  if (!Number.isNaN(common)) return common
  const m = isoDateTime.exec(text)
  if (m === null) return Number.NaN
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = Number(m[4])
  const minute = Number(m[5])
  const second = m[6] === undefined ? 0 : Number(m[6])
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN
  let offsetMinutes = 0
  if (m[8] === undefined) {
    const oh = Number(m[10])
    const om = Number(m[11])
    if (oh > 23 || om > 59) return Number.NaN
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (oh * 60 + om)
  }
  // Sub-millisecond digits are truncated: the lake keeps milliseconds.
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0"))
  return daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + millis
}

/** An ISO-8601 date-time with an offset, in the years 1000 to 9999 once in UTC: what every sink stores of an instant. */
export const Instant = Schema.String.pipe(
  Schema.check(
    Schema.makeFilter((s: string) => Number.isFinite(parseInstant(s)), {
      expected: "an ISO-8601 date-time with an offset"
    })
  ),
  Schema.check(
    Schema.makeFilter((s: string) => isStorableInstant(parseInstant(s)), {
      expected: "an instant in the years 1000 to 9999 in UTC (MySQL's DATETIME range)"
    })
  )
)

/**
 * Text that fits the warehouse: at most `max` characters (as VARCHAR(max) counts them, or fewer)
 * and well-formed Unicode (a lone surrogate cannot be stored as UTF-8).
 */
export const BoundedText = (max: number, nonEmpty = false) =>
  Schema.String.pipe(
    Schema.check(
      Schema.makeFilter((s: string) => (!nonEmpty || s.length > 0) && s.length <= max && s.isWellFormed(), {
        expected: `${nonEmpty ? "a non-empty" : "a"} string of at most ${max} characters`
      })
    )
  )

/** An identifier: 1 to 128 characters, a `VARCHAR(128)` key of the warehouse. */
export const Identifier = BoundedText(128, true)

/** Amounts are below 10^13: DECIMAL(18,2) in the lake, and 10^15 cents stay exact in a JS number. */
export const MAX_AMOUNT_EXCLUSIVE = 1e13

/** Quantities are the lake's int32. */
export const MAX_QUANTITY = 2_147_483_647

/**
 * Money: a positive amount below 10^13 whose decimal text has at most two decimals, the scale of
 * DECIMAL(18,2) downstream. Kept as integer cents, read from that text, so that sums are exact.
 */
export const PositiveMoney = Schema.Number.pipe(
  Schema.check(Schema.isGreaterThan(0, { expected: "a number > 0" })),
  Schema.check(Schema.isLessThan(MAX_AMOUNT_EXCLUSIVE, { expected: "a number < 10^13 (exact in cents)" })),
  Schema.check(
    Schema.makeFilter((n: number) => !Number.isNaN(numberToCents(n)), {
      expected: "at most 2 decimal places"
    })
  )
)

/** A quantity: an integer from 1 to 2^31 - 1, the lake's int32. */
export const Quantity = Schema.Int.pipe(
  Schema.check(Schema.isGreaterThanOrEqualTo(1, { expected: "an integer >= 1" })),
  Schema.check(Schema.isLessThanOrEqualTo(MAX_QUANTITY, { expected: "an integer <= 2147483647 (the lake's int32)" }))
)

const User = Schema.Struct({
  id: Identifier,
  name: BoundedText(255),
  email: BoundedText(255),
  country: BoundedText(64),
  city: BoundedText(128)
})

const PaymentMethod = Schema.Struct({
  id: Identifier,
  name: BoundedText(255),
  category: BoundedText(64)
})

const Product = Schema.Struct({
  id: Identifier,
  name: BoundedText(255),
  category: BoundedText(64),
  price: PositiveMoney
})

/** The wire shape of a `transaction_stream` value, as producers send it. */
export const TransactionWire = Schema.Struct({
  transaction_id: Identifier,
  event_time: Instant,
  transaction_type: Schema.Literals(TransactionTypes),
  status: Schema.Literals(TransactionStatuses),
  amount: PositiveMoney,
  currency: Schema.String.pipe(
    Schema.check(Schema.isPattern(/^[A-Z]{3}$/, { expected: "an ISO-4217 code of 3 capital letters" }))
  ),
  user: User,
  payment_method: PaymentMethod,
  product: Schema.optionalKey(Schema.NullOr(Product)),
  quantity: Schema.optionalKey(Schema.NullOr(Quantity)),
  ip_address: Schema.optionalKey(Schema.NullOr(BoundedText(64))),
  card_last4: Schema.optionalKey(Schema.NullOr(BoundedText(4)))
})
export type TransactionWire = typeof TransactionWire.Type

/** A decoded transaction: event time in UTC epoch millis, money in integer cents, defaults applied. */
export interface Transaction {
  readonly transactionId: string
  readonly eventTimeMs: number
  readonly transactionType: TransactionType
  readonly status: TransactionStatus
  readonly amountCents: number
  readonly currency: string
  readonly user: { readonly id: string; readonly name: string; readonly email: string; readonly country: string; readonly city: string }
  readonly paymentMethod: { readonly id: string; readonly name: string; readonly category: string }
  readonly product: { readonly id: string; readonly name: string; readonly category: string; readonly priceCents: number } | null
  readonly quantity: number
  readonly ipAddress: string | null
  readonly cardLast4: string | null
}

/** Why a value is not a transaction: the JSON path of the first offending field, and the reason. */
export class TransactionDecodeError extends Data.TaggedError("TransactionDecodeError")<{
  readonly field: string
  readonly reason: string
}> {
  override get message(): string {
    return this.field === "" ? this.reason : `${this.field}: ${this.reason}`
  }
}

compileSchema(TransactionWire.ast)
const decodeWire = Schema.decodeUnknownResult(TransactionWire)
const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1()

/** The first problem a schema found: the JSON path of the field (dot-separated, "" for the value itself) and the reason. */
export const firstIssue = (issue: SchemaIssue.Issue, fallback: string): { readonly field: string; readonly reason: string } => {
  const first = formatIssue(issue).issues[0]
  return { field: first?.path?.map(String).join(".") ?? "", reason: first?.message ?? fallback }
}

// ---------------------------------------------------------------------------------------------
// The hot path: a hand-written check of the common, valid message. It accepts only what the schema
// accepts (a property test holds it to that); anything else goes through the schema, which
// decides, and names the field when it refuses.

type Json = Record<string, unknown>

/** A JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)

/** The fast check of `BoundedText(max, nonEmpty)`. */
export const isText = (v: unknown, max: number, nonEmpty: boolean): v is string =>
  typeof v === "string" && v.length <= max && (!nonEmpty || v.length > 0) && v.isWellFormed()

/**
 * The cents of a valid amount, or NaN: the decimal-text rule of `numberToCents` without writing the
 * text (`String(n)` costs ~150 ns, twice a message). Below 10^13 a double's spacing is under 0.002,
 * so its shortest text has at most two decimals exactly when the nearest whole number of cents,
 * divided back (correctly rounded), gives the same double; that number is then the text's cents.
 */
export const moneyCents = (v: unknown): number => {
  if (typeof v !== "number" || !(v > 0 && v < MAX_AMOUNT_EXCLUSIVE)) return Number.NaN
  const cents = Math.round(v * 100)
  return cents / 100 === v ? cents : Number.NaN
}

const TYPES: ReadonlySet<unknown> = new Set(TransactionTypes)
const STATUSES: ReadonlySet<unknown> = new Set(TransactionStatuses)
const CURRENCY = /^[A-Z]{3}$/

const optionalText = (v: unknown, max: number): string | null | undefined =>
  v === undefined || v === null ? null : isText(v, max, false) ? v : undefined

/**
 * The hand-written check alone: the transaction, or undefined where it leaves the decision to the
 * schema. Exported for the property test that holds it to the schema.
 */
export const decodeFastPath = (j: unknown): Transaction | undefined => {
  if (!isObject(j)) return undefined
  const { user: u, payment_method: pm, product: p } = j
  if (!isText(j.transaction_id, 128, true) || typeof j.event_time !== "string") return undefined
  if (!TYPES.has(j.transaction_type) || !STATUSES.has(j.status)) return undefined
  const amountCents = moneyCents(j.amount)
  if (Number.isNaN(amountCents)) return undefined
  if (typeof j.currency !== "string" || !CURRENCY.test(j.currency)) return undefined
  if (!isObject(u) || !isText(u.id, 128, true) || !isText(u.name, 255, false) || !isText(u.email, 255, false)) return undefined
  if (!isText(u.country, 64, false) || !isText(u.city, 128, false)) return undefined
  if (!isObject(pm) || !isText(pm.id, 128, true) || !isText(pm.name, 255, false) || !isText(pm.category, 64, false)) return undefined
  let product: Transaction["product"] = null
  if (p !== undefined && p !== null) {
    if (!isObject(p) || !isText(p.id, 128, true) || !isText(p.name, 255, false) || !isText(p.category, 64, false)) return undefined
    const priceCents = moneyCents(p.price)
    if (Number.isNaN(priceCents)) return undefined
    product = { id: p.id, name: p.name, category: p.category, priceCents }
  }
  const q = j.quantity
  if (q !== undefined && q !== null && !(typeof q === "number" && Number.isInteger(q) && q >= 1 && q <= MAX_QUANTITY)) return undefined
  const ipAddress = optionalText(j.ip_address, 64)
  const cardLast4 = optionalText(j.card_last4, 4)
  if (ipAddress === undefined || cardLast4 === undefined) return undefined
  const eventTimeMs = parseInstant(j.event_time)
  if (!isStorableInstant(eventTimeMs)) return undefined
  return {
    transactionId: j.transaction_id,
    eventTimeMs,
    transactionType: j.transaction_type as TransactionType,
    status: j.status as TransactionStatus,
    amountCents,
    currency: j.currency,
    user: { id: u.id, name: u.name, email: u.email, country: u.country, city: u.city },
    paymentMethod: { id: pm.id, name: pm.name, category: pm.category },
    product,
    quantity: (q as number | null | undefined) ?? 1,
    ipAddress,
    cardLast4
  }
}

/** Decodes a parsed JSON value; extra fields are ignored so that producers can add some. */
export const decodeTransaction = (value: unknown): Result.Result<Transaction, TransactionDecodeError> => {
  const fast = decodeFastPath(value)
  return fast === undefined ? decodeWithSchema(value) : Result.succeed(fast)
}

/** The schema's decoding: the reference, and the source of the error's field and reason. */
export const decodeWithSchema = (value: unknown): Result.Result<Transaction, TransactionDecodeError> => {
  const wire = decodeWire(value)
  if (Result.isFailure(wire)) return Result.fail(new TransactionDecodeError(firstIssue(wire.failure.issue, "not a transaction")))
  return Result.succeed(fromWire(wire.success))
}

/** The domain value of a validated wire message. */
export const fromWire = (w: TransactionWire): Transaction => ({
  transactionId: w.transaction_id,
  eventTimeMs: parseInstant(w.event_time),
  transactionType: w.transaction_type,
  status: w.status,
  amountCents: numberToCents(w.amount),
  currency: w.currency,
  user: w.user,
  paymentMethod: w.payment_method,
  product: w.product == null
    ? null
    : { id: w.product.id, name: w.product.name, category: w.product.category, priceCents: numberToCents(w.product.price) },
  quantity: w.quantity ?? 1,
  ipAddress: w.ip_address ?? null,
  cardLast4: w.card_last4 ?? null
})

/** The wire form of a transaction, as `produce` sends it (event time in UTC). */
export const toWire = (t: Transaction): TransactionWire => ({
  transaction_id: t.transactionId,
  event_time: new Date(t.eventTimeMs).toISOString(),
  transaction_type: t.transactionType,
  status: t.status,
  amount: t.amountCents / 100,
  currency: t.currency,
  user: t.user,
  payment_method: t.paymentMethod,
  ...(t.product === null
    ? {}
    : {
      product: { id: t.product.id, name: t.product.name, category: t.product.category, price: t.product.priceCents / 100 }
    }),
  quantity: t.quantity,
  ...(t.ipAddress === null ? {} : { ip_address: t.ipAddress }),
  ...(t.cardLast4 === null ? {} : { card_last4: t.cardLast4 })
})
