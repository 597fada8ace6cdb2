/**
 * Currency conversion to EUR: the rates (from the `exchange_rates` topic or a built-in table), the
 * rate in force at an instant, and the EUR amount of a transaction, rounded to the cent once.
 */
import { Result, Schema, SchemaIssue } from "effect"
import { isStorableInstant } from "./CivilDate.ts"
import { centsToDecimal } from "./Money.ts"
import { MAX_AMOUNT_EXCLUSIVE, parseInstant, type Transaction } from "./Transaction.ts"

/** `rate_to_eur` units of EUR per unit of `currency`, in force from `validFrom` (epoch millis). */
export interface ExchangeRate {
  readonly currency: string
  readonly rateToEur: number
  readonly validFrom: number
}

/** A transaction with the rate in force at its event time and its amount in EUR cents. */
export interface EurTransaction extends Transaction {
  readonly rate: ExchangeRate
  readonly amountEurCents: number
}

/**
 * The wire shape of an `exchange_rates` message (key `<currency>@<valid_from>` keeps history under
 * compaction). A rate is kept in `dim_exchange_rates` as DECIMAL(20,10) and its `valid_from` as
 * DATETIME(3): a rate outside [10^-10, 10^10) or an instant outside the years 1000 to 9999 would
 * stop the warehouse (or be stored as 0), so such a message is refused.
 */
export const ExchangeRateWire = Schema.Struct({
  currency: Schema.String.pipe(Schema.check(Schema.isPattern(/^[A-Z]{3}$/, { expected: "an ISO-4217 code" }))),
  rate_to_eur: Schema.Number.pipe(
    Schema.check(Schema.isGreaterThan(0, { expected: "a rate > 0" })),
    Schema.check(Schema.isGreaterThanOrEqualTo(1e-10, { expected: "a rate >= 10^-10 (DECIMAL(20,10) in dim_exchange_rates)" })),
    Schema.check(Schema.isLessThan(1e10, { expected: "a rate < 10^10 (DECIMAL(20,10) in dim_exchange_rates)" }))
  ),
  valid_from: Schema.String.pipe(
    Schema.check(Schema.makeFilter((s: string) => Number.isFinite(parseInstant(s)), { expected: "an ISO-8601 date-time with an offset" })),
    Schema.check(
      Schema.makeFilter((s: string) => isStorableInstant(parseInstant(s)), {
        expected: "an instant in the years 1000 to 9999 in UTC (MySQL's DATETIME range)"
      })
    )
  )
})

const decodeWire = Schema.decodeUnknownResult(ExchangeRateWire)
const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1()

/** Decodes an `exchange_rates` value (parsed JSON); the error names the field. */
export const decodeExchangeRate = (json: unknown): Result.Result<ExchangeRate, string> => {
  const r = decodeWire(json)
  if (Result.isFailure(r)) {
    const first = formatIssue(r.failure.issue).issues[0]
    return Result.fail(`${first?.path?.join(".") ?? ""}: ${first?.message ?? "not an exchange rate"}`)
  }
  return Result.succeed({ currency: r.success.currency, rateToEur: r.success.rate_to_eur, validFrom: parseInstant(r.success.valid_from) })
}

const since2000 = Date.UTC(2000, 0, 1)

/** The built-in table, used when no `exchange_rates` topic exists. */
export const defaultExchangeRates: ReadonlyArray<ExchangeRate> = [
  { currency: "EUR", rateToEur: 1, validFrom: since2000 },
  { currency: "USD", rateToEur: 0.92, validFrom: since2000 },
  { currency: "GBP", rateToEur: 1.17, validFrom: since2000 },
  { currency: "CHF", rateToEur: 1.05, validFrom: since2000 },
  { currency: "JPY", rateToEur: 0.0062, validFrom: since2000 },
  { currency: "CAD", rateToEur: 0.68, validFrom: since2000 },
  { currency: "MAD", rateToEur: 0.092, validFrom: since2000 },
  { currency: "SEK", rateToEur: 0.087, validFrom: since2000 },
  { currency: "NOK", rateToEur: 0.085, validFrom: since2000 },
  { currency: "DKK", rateToEur: 0.134, validFrom: since2000 },
  { currency: "PLN", rateToEur: 0.23, validFrom: since2000 },
  { currency: "AUD", rateToEur: 0.6, validFrom: since2000 },
  { currency: "CNY", rateToEur: 0.128, validFrom: since2000 },
  { currency: "INR", rateToEur: 0.011, validFrom: since2000 },
  { currency: "BRL", rateToEur: 0.17, validFrom: since2000 }
]

/** Rates by currency, each list sorted by `validFrom`: the rate in force at an instant is the last one before it. */
export class RateTable {
  readonly #byCurrency = new Map<string, Array<ExchangeRate>>()

  constructor(rates: Iterable<ExchangeRate>) {
    for (const rate of rates) {
      const list = this.#byCurrency.get(rate.currency) ?? []
      // A later message for the same currency and instant replaces the earlier one.
      const same = list.findIndex((r) => r.validFrom === rate.validFrom)
      if (same >= 0) list[same] = rate
      else list.push(rate)
      this.#byCurrency.set(rate.currency, list)
    }
    for (const list of this.#byCurrency.values()) list.sort((a, b) => a.validFrom - b.validFrom)
  }

  /** Every rate, by currency then `validFrom`. */
  all(): Array<ExchangeRate> {
    return [...this.#byCurrency.keys()].sort().flatMap((c) => this.#byCurrency.get(c)!)
  }

  get size(): number {
    let n = 0
    for (const list of this.#byCurrency.values()) n += list.length
    return n
  }

  /** The rate of `currency` in force at `atMs`, or undefined when none is. */
  rateAt(currency: string, atMs: number): ExchangeRate | undefined {
    const list = this.#byCurrency.get(currency)
    if (list === undefined) return undefined
    let lo = 0
    let hi = list.length - 1
    let found: ExchangeRate | undefined
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (list[mid]!.validFrom <= atMs) {
        found = list[mid]
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found
  }
}

/** EUR cents of an amount in cents, rounded half up once per transaction. */
export const toEurCents = (cents: number, rate: ExchangeRate): number => Math.round(cents * rate.rateToEur)

/** Why a transaction has no EUR value: no rate in force, or an EUR amount beyond what is stored. */
export interface ValuationError {
  readonly message: string
  readonly kind: "no-rate" | "schema"
}

/**
 * Values a transaction in EUR at its event time, or says why it cannot be. The EUR amount is held
 * to the bound of the amount itself (below 10^13: DECIMAL(18,2) in the lake, exact in cents), which
 * a rate above 1 can cross.
 */
export const valueInEur = (t: Transaction, rates: RateTable): Result.Result<EurTransaction, ValuationError> => {
  const rate = rates.rateAt(t.currency, t.eventTimeMs)
  if (rate === undefined) {
    return Result.fail({ kind: "no-rate", message: `currency: no EUR rate for ${t.currency} in force at ${new Date(t.eventTimeMs).toISOString()}` })
  }
  const amountEurCents = toEurCents(t.amountCents, rate)
  if (!(amountEurCents < MAX_AMOUNT_EXCLUSIVE * 100)) {
    return Result.fail({
      kind: "schema",
      message: `amount_eur: ${centsToDecimal(t.amountCents)} ${t.currency} at the rate ${rate.rateToEur} in force at ` +
        `${new Date(t.eventTimeMs).toISOString()} is ${(amountEurCents / 100).toPrecision(4)} EUR, not below 10^13 (exact in cents)`
    })
  }
  // Written out rather than spread: one object shape, built without copying property by property.
  return Result.succeed({
    transactionId: t.transactionId,
    eventTimeMs: t.eventTimeMs,
    transactionType: t.transactionType,
    status: t.status,
    amountCents: t.amountCents,
    currency: t.currency,
    user: t.user,
    paymentMethod: t.paymentMethod,
    product: t.product,
    quantity: t.quantity,
    ipAddress: t.ipAddress,
    cardLast4: t.cardLast4,
    rate,
    amountEurCents
  })
}
