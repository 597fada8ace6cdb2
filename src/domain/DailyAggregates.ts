/**
 * The daily aggregates of a batch of transactions, as the warehouse adds them: dimensions (latest
 * attributes, first and last seen), additive facts by entity and UTC day, and the buyers behind
 * exact distinct counts. Failed transactions update dimensions but count in no fact.
 */
import { utcDate } from "./CivilDate.ts"
import type { EurTransaction, ExchangeRate } from "./ExchangeRate.ts"

/** A UTC day as `YYYY-MM-DD`. */
export type Day = string

export interface UserDimension {
  readonly userId: string
  name: string
  email: string
  country: string
  city: string
  firstSeen: number
  lastSeen: number
}

export interface PaymentMethodDimension {
  readonly paymentMethodId: string
  name: string
  category: string
  firstSeen: number
  lastSeen: number
}

export interface UserDayFact {
  readonly userId: string
  readonly transactionType: string
  readonly day: Day
  totalCents: number
  totalEurCents: number
  count: number
}

export interface PaymentMethodDayFact {
  readonly paymentMethodId: string
  readonly day: Day
  totalEurCents: number
  count: number
}

export interface ProductDayFact {
  readonly productId: string
  readonly day: Day
  name: string
  category: string
  /** When `name`/`category` were seen, so the latest wins. */
  seenAt: number
  purchases: number
  units: number
  revenueEurCents: number
}

export interface DailyAggregates {
  readonly users: Map<string, UserDimension>
  readonly paymentMethods: Map<string, PaymentMethodDimension>
  readonly userDays: Map<string, UserDayFact>
  readonly paymentMethodDays: Map<string, PaymentMethodDayFact>
  readonly productDays: Map<string, ProductDayFact>
  /** (product, day, user) of every counted purchase. */
  readonly buyers: Map<string, { readonly productId: string; readonly day: Day; readonly userId: string }>
  /** The rates applied, by `currency@validFrom`. */
  readonly rates: Map<string, ExchangeRate>
  /** Transactions that reached the facts (not failed). */
  counted: number
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n))

/** The UTC day of an instant, as the warehouse's `snapshot_date`. */
export const dayOf = (epochMs: number): Day => {
  const d = utcDate(epochMs)
  return `${d.year}-${pad2(d.month)}-${pad2(d.day)}`
}

export const emptyAggregates = (): DailyAggregates => ({
  users: new Map(),
  paymentMethods: new Map(),
  userDays: new Map(),
  paymentMethodDays: new Map(),
  productDays: new Map(),
  buyers: new Map(),
  rates: new Map(),
  counted: 0
})

/** Adds one transaction to the aggregates (mutating them: this runs per record on the hot path). */
export const addTransaction = (a: DailyAggregates, t: EurTransaction): void => {
  const at = t.eventTimeMs
  const user = a.users.get(t.user.id)
  if (user === undefined) {
    a.users.set(t.user.id, { userId: t.user.id, ...t.user, firstSeen: at, lastSeen: at })
  } else {
    if (at >= user.lastSeen) {
      user.name = t.user.name
      user.email = t.user.email
      user.country = t.user.country
      user.city = t.user.city
      user.lastSeen = at
    }
    if (at < user.firstSeen) user.firstSeen = at
  }
  const pm = a.paymentMethods.get(t.paymentMethod.id)
  if (pm === undefined) {
    a.paymentMethods.set(t.paymentMethod.id, {
      paymentMethodId: t.paymentMethod.id,
      name: t.paymentMethod.name,
      category: t.paymentMethod.category,
      firstSeen: at,
      lastSeen: at
    })
  } else {
    if (at >= pm.lastSeen) {
      pm.name = t.paymentMethod.name
      pm.category = t.paymentMethod.category
      pm.lastSeen = at
    }
    if (at < pm.firstSeen) pm.firstSeen = at
  }
  if (t.status === "failed") return

  a.counted += 1
  a.rates.set(`${t.rate.currency}@${t.rate.validFrom}`, t.rate)
  const day = dayOf(at)
  const userKey = `${t.user.id}\u0000${t.transactionType}\u0000${day}`
  const userDay = a.userDays.get(userKey)
  if (userDay === undefined) {
    a.userDays.set(userKey, {
      userId: t.user.id,
      transactionType: t.transactionType,
      day,
      totalCents: t.amountCents,
      totalEurCents: t.amountEurCents,
      count: 1
    })
  } else {
    userDay.totalCents += t.amountCents
    userDay.totalEurCents += t.amountEurCents
    userDay.count += 1
  }
  const pmKey = `${t.paymentMethod.id}\u0000${day}`
  const pmDay = a.paymentMethodDays.get(pmKey)
  if (pmDay === undefined) {
    a.paymentMethodDays.set(pmKey, { paymentMethodId: t.paymentMethod.id, day, totalEurCents: t.amountEurCents, count: 1 })
  } else {
    pmDay.totalEurCents += t.amountEurCents
    pmDay.count += 1
  }
  if (t.transactionType === "purchase" && t.product !== null) {
    const productKey = `${t.product.id}\u0000${day}`
    const productDay = a.productDays.get(productKey)
    if (productDay === undefined) {
      a.productDays.set(productKey, {
        productId: t.product.id,
        day,
        name: t.product.name,
        category: t.product.category,
        seenAt: at,
        purchases: 1,
        units: t.quantity,
        revenueEurCents: t.amountEurCents
      })
    } else {
      productDay.purchases += 1
      productDay.units += t.quantity
      productDay.revenueEurCents += t.amountEurCents
      if (at >= productDay.seenAt) {
        productDay.name = t.product.name
        productDay.category = t.product.category
        productDay.seenAt = at
      }
    }
    a.buyers.set(`${productKey}\u0000${t.user.id}`, { productId: t.product.id, day, userId: t.user.id })
  }
}

/** The aggregates of a batch. */
export const aggregate = (transactions: Iterable<EurTransaction>): DailyAggregates => {
  const a = emptyAggregates()
  for (const t of transactions) addTransaction(a, t)
  return a
}
