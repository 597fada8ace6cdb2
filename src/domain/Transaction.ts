/**
 * The `transaction_stream` message: its schema, and the decoding of raw Kafka values into it.
 * Pure: no I/O, no services. A failure names the field and the reason.
 */
import { Data, Result, Schema, SchemaIssue } from "effect"

/** The kinds of transaction a payment system emits. */
export const TransactionTypes = ["purchase", "refund", "transfer", "withdrawal", "deposit"] as const
export type TransactionType = (typeof TransactionTypes)[number]

/** Settlement states; `failed` transactions are kept in the lake but count in no aggregate. */
export const TransactionStatuses = ["completed", "pending", "failed"] as const
export type TransactionStatus = (typeof TransactionStatuses)[number]

// ISO-8601 date-time with a mandatory offset (Z or ±hh:mm); fractional seconds optional.
const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/

/** Epoch millis of an ISO-8601 instant, or NaN when it is not one (a 30 February, a 25th hour…). */
export const parseInstant = (text: string): number => {
  if (!isoDateTime.test(text)) return Number.NaN
  const ms = Date.parse(text)
  if (!Number.isFinite(ms)) return Number.NaN
  // Date.parse rolls 2026-02-30 over to March: compare the calendar fields it kept.
  const local = text.slice(0, 10)
  const offset = /(Z|[+-]\d{2}:?\d{2})$/.exec(text)![1]!
  const offsetMinutes = offset === "Z" ? 0 : (offset[0] === "-" ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(-2)))
  return new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 10) === local ? ms : Number.NaN
}

const EventTime = Schema.String.pipe(
  Schema.check(
    Schema.makeFilter((s: string) => Number.isFinite(parseInstant(s)), {
      expected: "an ISO-8601 date-time with an offset"
    })
  )
)

const NonEmpty = Schema.String.pipe(Schema.check(Schema.isNonEmpty({ expected: "a non-empty string" })))

/**
 * Money: a positive amount with at most two decimals, the precision of DECIMAL(18,2) downstream.
 * Kept as integer cents so that sums are exact.
 */
const PositiveMoney = Schema.Number.pipe(
  Schema.check(Schema.isGreaterThan(0, { expected: "a number > 0" })),
  Schema.check(Schema.isLessThan(1e16, { expected: "a number < 10^16" })),
  Schema.check(
    Schema.makeFilter((n: number) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-6, {
      expected: "at most 2 decimal places"
    })
  )
)

const User = Schema.Struct({
  id: NonEmpty,
  name: Schema.String,
  email: Schema.String,
  country: Schema.String,
  city: Schema.String
})

const PaymentMethod = Schema.Struct({
  id: NonEmpty,
  name: Schema.String,
  category: Schema.String
})

const Product = Schema.Struct({
  id: NonEmpty,
  name: Schema.String,
  category: Schema.String,
  price: PositiveMoney
})

/** The wire shape of a `transaction_stream` value, as producers send it. */
export const TransactionWire = Schema.Struct({
  transaction_id: NonEmpty,
  event_time: EventTime,
  transaction_type: Schema.Literals(TransactionTypes),
  status: Schema.Literals(TransactionStatuses),
  amount: PositiveMoney,
  currency: Schema.String.pipe(
    Schema.check(Schema.isPattern(/^[A-Z]{3}$/, { expected: "an ISO-4217 code of 3 capital letters" }))
  ),
  user: User,
  payment_method: PaymentMethod,
  product: Schema.optionalKey(Schema.NullOr(Product)),
  quantity: Schema.optionalKey(
    Schema.NullOr(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1, { expected: "an integer >= 1" }))))
  ),
  ip_address: Schema.optionalKey(Schema.NullOr(Schema.String)),
  card_last4: Schema.optionalKey(Schema.NullOr(Schema.String))
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
