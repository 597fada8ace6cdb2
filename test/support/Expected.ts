/**
 * What a seeded `sluice produce` run sent, recomputed from the same generator: the numbers the
 * exactly-once tests expect to find in the lake and the warehouse.
 */
import { Result } from "effect"
import { defaultExchangeRates, RateTable, valueInEur } from "../../src/domain/ExchangeRate.ts"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { decodeTransaction, type Transaction } from "../../src/domain/Transaction.ts"

export interface Produced {
  readonly valid: number
  readonly malformed: number
  /** Valid transactions whose status is not `failed`: what the warehouse facts count. */
  readonly counted: number
  /** Sum of the valid transactions' amounts, in cents of their own currencies. */
  readonly validCents: number
}

/** The valid transactions of a seeded run, in the order they were produced. */
const validTransactions = function*(messages: number, seed: number, badRatio: number): Generator<Transaction> {
  const next = makeMessageGenerator({ seed, badRatio })
  for (let i = 0; i < messages; i++) {
    const m = next()
    if (m.bad === undefined) yield Result.getOrThrow(decodeTransaction(JSON.parse(m.value.toString("utf8"))))
  }
}

export const expectedFromProduce = (messages: number, seed: number, badRatio: number): Produced => {
  let valid = 0
  let counted = 0
  let validCents = 0
  for (const t of validTransactions(messages, seed, badRatio)) {
    valid += 1
    validCents += t.amountCents
    if (t.status !== "failed") counted += 1
  }
  return { valid, malformed: messages - valid, counted, validCents }
}

/** A product's purchases on one UTC day. */
export interface ProductDay {
  readonly purchases: number
  readonly units: number
  readonly revenueEurCents: number
  /** Distinct users who bought it that day. */
  readonly buyers: number
}

/** A payment method's transactions on one UTC day. */
export interface PaymentMethodDay {
  readonly count: number
  readonly eurCents: number
}

/** The warehouse a seeded run must leave, with the built-in rate table. */
export interface ExpectedWarehouse {
  /** Non-failed transactions: `SUM(transaction_count)` of the user and payment-method facts. */
  readonly counted: number
  /** Rows of `fact_user_transaction_summary` (and `_eur`): distinct (user, type, day). */
  readonly userDays: number
  readonly totalCents: number
  readonly totalEurCents: number
  /** Rows of `dim_users`: every user of a valid transaction, failed ones included. */
  readonly users: number
  /** Keyed `<payment method>|<YYYY-MM-DD>`. */
  readonly paymentMethodDays: ReadonlyMap<string, PaymentMethodDay>
  /** Keyed `<product>|<YYYY-MM-DD>`: non-failed purchases of a product. */
  readonly productDays: ReadonlyMap<string, ProductDay>
}

const utcDay = (epochMs: number): string => new Date(epochMs).toISOString().slice(0, 10)

/**
 * The warehouse's facts recomputed here, apart from the sink's own aggregation: plain maps keyed
 * by entity and UTC day, distinct buyers as sets of user ids.
 */
export const expectedWarehouse = (messages: number, seed: number, badRatio: number): ExpectedWarehouse => {
  const rates = new RateTable(defaultExchangeRates)
  const users = new Set<string>()
  const userDays = new Set<string>()
  const methods = new Map<string, { count: number; eurCents: number }>()
  const products = new Map<string, { purchases: number; units: number; revenueEurCents: number; buyers: Set<string> }>()
  let counted = 0
  let totalCents = 0
  let totalEurCents = 0
  for (const t of validTransactions(messages, seed, badRatio)) {
    users.add(t.user.id)
    if (t.status === "failed") continue
    const eurCents = Result.getOrThrow(valueInEur(t, rates)).amountEurCents
    const day = utcDay(t.eventTimeMs)
    counted += 1
    totalCents += t.amountCents
    totalEurCents += eurCents
    userDays.add(`${t.user.id}|${t.transactionType}|${day}`)
    const method = methods.get(`${t.paymentMethod.id}|${day}`) ?? { count: 0, eurCents: 0 }
    method.count += 1
    method.eurCents += eurCents
    methods.set(`${t.paymentMethod.id}|${day}`, method)
    if (t.transactionType === "purchase" && t.product !== null) {
      const key = `${t.product.id}|${day}`
      const product = products.get(key) ?? { purchases: 0, units: 0, revenueEurCents: 0, buyers: new Set<string>() }
      product.purchases += 1
      product.units += t.quantity
      product.revenueEurCents += eurCents
      product.buyers.add(t.user.id)
      products.set(key, product)
    }
  }
  return {
    counted,
    userDays: userDays.size,
    totalCents,
    totalEurCents,
    users: users.size,
    paymentMethodDays: methods,
    productDays: new Map([...products].map(([key, p]) => [key, { purchases: p.purchases, units: p.units, revenueEurCents: p.revenueEurCents, buyers: p.buyers.size }]))
  }
}

/** A user's non-failed transactions in EUR, as the dashboard ranks them. */
export interface UserTotal {
  readonly userId: string
  readonly name: string
  readonly country: string
  readonly eurCents: number
  readonly transactions: number
}

/**
 * The users of a seeded run ranked by their EUR amount (non-failed transactions, the built-in
 * rates), then by id; name and country those of their latest transaction.
 */
export const expectedUserTotals = (messages: number, seed: number, badRatio: number): Array<UserTotal> => {
  const rates = new RateTable(defaultExchangeRates)
  const users = new Map<string, { name: string; country: string; at: number; eurCents: number; transactions: number }>()
  for (const t of validTransactions(messages, seed, badRatio)) {
    if (t.status === "failed") continue
    const eurCents = Result.getOrThrow(valueInEur(t, rates)).amountEurCents
    const u = users.get(t.user.id) ?? { name: t.user.name, country: t.user.country, at: t.eventTimeMs, eurCents: 0, transactions: 0 }
    if (t.eventTimeMs >= u.at) Object.assign(u, { name: t.user.name, country: t.user.country, at: t.eventTimeMs })
    u.eurCents += eurCents
    u.transactions += 1
    users.set(t.user.id, u)
  }
  return [...users]
    .map(([userId, u]) => ({ userId, name: u.name, country: u.country, eurCents: u.eurCents, transactions: u.transactions }))
    .sort((a, b) => b.eurCents - a.eurCents || (a.userId < b.userId ? -1 : 1))
}
