/**
 * The daily aggregates of a batch of transactions, as the warehouse adds them: dimensions (latest
 * attributes, first and last seen), additive facts by entity and UTC day, and the buyers behind
 * exact distinct counts. Failed transactions update dimensions but count in no fact. Sums of money
 * and units stay exact past 2^53 (one amount may be 10^15 cents): see `ExactSum`.
 */
import { utcDate } from "./CivilDate.ts"
import type { EurTransaction, ExchangeRate } from "./ExchangeRate.ts"
import { addExact, type ExactSum, sumExact } from "./Money.ts"

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
  totalCents: ExactSum
  totalEurCents: ExactSum
  count: number
}

export interface PaymentMethodDayFact {
  readonly paymentMethodId: string
  readonly day: Day
  totalEurCents: ExactSum
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
  units: ExactSum
  revenueEurCents: ExactSum
}

/** A bought product on a day, and who bought it (for exact distinct counts). */
interface ProductDay extends ProductDayFact {
  readonly buyers: Set<string>
}

const DAY_MS = 86_400_000
const dayNames = new Map<number, Day>()

/** The UTC day of an instant, as the warehouse's `snapshot_date`. */
export const dayOf = (epochMs: number): Day => {
  const n = Math.floor(epochMs / DAY_MS)
  let name = dayNames.get(n)
  if (name === undefined) {
    const d = utcDate(epochMs)
    name = `${d.year}-${pad2(d.month)}-${pad2(d.day)}`
    dayNames.set(n, name)
  }
  return name
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n))

const TYPE_INDEX: Record<string, number> = { purchase: 0, refund: 1, transfer: 2, withdrawal: 3, deposit: 4 }

const getOrCreate = <K, V>(map: Map<K, V>, key: K, make: () => V): V => {
  let v = map.get(key)
  if (v === undefined) {
    v = make()
    map.set(key, v)
  }
  return v
}

/**
 * Adds `theirs` (facts by key, then by inner key) into `mine`: a fact only they have is copied with
 * `copy`, one both have is added into mine with `add`; `theirs` is left as it was.
 */
const absorbNested = <K, J, F>(mine: Map<K, Map<J, F>>, theirs: Map<K, Map<J, F>>, copy: (f: F) => F, add: (m: F, f: F) => void): void => {
  for (const [key, facts] of theirs) {
    const own = getOrCreate(mine, key, () => new Map<J, F>())
    for (const [inner, f] of facts) {
      const m = own.get(inner)
      if (m === undefined) own.set(inner, copy(f))
      else add(m, f)
    }
  }
}

/**
 * The aggregates of a window. Facts are kept in maps nested by entity then by (type and) day
 * number, so adding a transaction hashes each id once and builds no composite key.
 */
export class DailyAggregates {
  readonly users = new Map<string, UserDimension>()
  readonly paymentMethods = new Map<string, PaymentMethodDimension>()
  /** The rates applied (the rate table's own objects, so identity is enough). */
  readonly rates = new Set<ExchangeRate>()
  /** Transactions that reached the facts (not failed). */
  counted = 0
  readonly #userDays = new Map<string, Map<number, UserDayFact>>()
  readonly #paymentMethodDays = new Map<string, Map<number, PaymentMethodDayFact>>()
  readonly #productDays = new Map<string, Map<number, ProductDay>>()
  /**
   * Everything added so far (cents, EUR cents and units, in absolute value): while it is a safe
   * integer, so is every sum, and they are added as plain numbers; past it, through `addExact`.
   */
  #volume = 0

  /** Adds one transaction (mutating: this runs per record on the hot path). */
  add(t: EurTransaction): void {
    const at = t.eventTimeMs
    const user = this.users.get(t.user.id)
    if (user === undefined) {
      this.users.set(t.user.id, { userId: t.user.id, ...t.user, firstSeen: at, lastSeen: at })
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
    const pm = this.paymentMethods.get(t.paymentMethod.id)
    if (pm === undefined) {
      this.paymentMethods.set(t.paymentMethod.id, {
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

    this.counted += 1
    this.#volume += Math.abs(t.amountCents) + Math.abs(t.amountEurCents) + t.quantity
    const plain = this.#volume <= Number.MAX_SAFE_INTEGER
    this.rates.add(t.rate)
    const dayNumber = Math.floor(at / DAY_MS)
    const byTypeDay = getOrCreate(this.#userDays, t.user.id, () => new Map<number, UserDayFact>())
    const typeDay = TYPE_INDEX[t.transactionType]! * 1_000_000 + dayNumber
    const userDay = byTypeDay.get(typeDay)
    if (userDay === undefined) {
      byTypeDay.set(typeDay, {
        userId: t.user.id,
        transactionType: t.transactionType,
        day: dayOf(at),
        totalCents: t.amountCents,
        totalEurCents: t.amountEurCents,
        count: 1
      })
    } else {
      if (plain) {
        userDay.totalCents = (userDay.totalCents as number) + t.amountCents
        userDay.totalEurCents = (userDay.totalEurCents as number) + t.amountEurCents
      } else {
        userDay.totalCents = addExact(userDay.totalCents, t.amountCents)
        userDay.totalEurCents = addExact(userDay.totalEurCents, t.amountEurCents)
      }
      userDay.count += 1
    }
    const pmDays = getOrCreate(this.#paymentMethodDays, t.paymentMethod.id, () => new Map<number, PaymentMethodDayFact>())
    const pmDay = pmDays.get(dayNumber)
    if (pmDay === undefined) {
      pmDays.set(dayNumber, { paymentMethodId: t.paymentMethod.id, day: dayOf(at), totalEurCents: t.amountEurCents, count: 1 })
    } else {
      pmDay.totalEurCents = plain ? (pmDay.totalEurCents as number) + t.amountEurCents : addExact(pmDay.totalEurCents, t.amountEurCents)
      pmDay.count += 1
    }
    if (t.transactionType === "purchase" && t.product !== null) {
      const productDays = getOrCreate(this.#productDays, t.product.id, () => new Map<number, ProductDay>())
      const productDay = productDays.get(dayNumber)
      if (productDay === undefined) {
        productDays.set(dayNumber, {
          productId: t.product.id,
          day: dayOf(at),
          name: t.product.name,
          category: t.product.category,
          seenAt: at,
          purchases: 1,
          units: t.quantity,
          revenueEurCents: t.amountEurCents,
          buyers: new Set([t.user.id])
        })
      } else {
        productDay.purchases += 1
        if (plain) {
          productDay.units = (productDay.units as number) + t.quantity
          productDay.revenueEurCents = (productDay.revenueEurCents as number) + t.amountEurCents
        } else {
          productDay.units = addExact(productDay.units, t.quantity)
          productDay.revenueEurCents = addExact(productDay.revenueEurCents, t.amountEurCents)
        }
        productDay.buyers.add(t.user.id)
        if (at >= productDay.seenAt) {
          productDay.name = t.product.name
          productDay.category = t.product.category
          productDay.seenAt = at
        }
      }
    }
  }

  /**
   * Adds the aggregates of `other` (another batch) to these, as if its transactions had been added
   * here; `other` is left as it was.
   */
  absorb(other: DailyAggregates): void {
    for (const u of other.users.values()) {
      const mine = this.users.get(u.userId)
      if (mine === undefined) this.users.set(u.userId, { ...u })
      else {
        if (u.lastSeen >= mine.lastSeen) Object.assign(mine, { name: u.name, email: u.email, country: u.country, city: u.city, lastSeen: u.lastSeen })
        if (u.firstSeen < mine.firstSeen) mine.firstSeen = u.firstSeen
      }
    }
    for (const p of other.paymentMethods.values()) {
      const mine = this.paymentMethods.get(p.paymentMethodId)
      if (mine === undefined) this.paymentMethods.set(p.paymentMethodId, { ...p })
      else {
        if (p.lastSeen >= mine.lastSeen) Object.assign(mine, { name: p.name, category: p.category, lastSeen: p.lastSeen })
        if (p.firstSeen < mine.firstSeen) mine.firstSeen = p.firstSeen
      }
    }
    for (const r of other.rates) this.rates.add(r)
    this.counted += other.counted
    this.#volume += other.#volume
    absorbNested(this.#userDays, other.#userDays, (f) => ({ ...f }), (m, f) => {
      m.totalCents = sumExact(m.totalCents, f.totalCents)
      m.totalEurCents = sumExact(m.totalEurCents, f.totalEurCents)
      m.count += f.count
    })
    absorbNested(this.#paymentMethodDays, other.#paymentMethodDays, (f) => ({ ...f }), (m, f) => {
      m.totalEurCents = sumExact(m.totalEurCents, f.totalEurCents)
      m.count += f.count
    })
    absorbNested(this.#productDays, other.#productDays, (f) => ({ ...f, buyers: new Set(f.buyers) }), (m, f) => {
      m.purchases += f.purchases
      m.units = sumExact(m.units, f.units)
      m.revenueEurCents = sumExact(m.revenueEurCents, f.revenueEurCents)
      for (const b of f.buyers) m.buyers.add(b)
      if (f.seenAt >= m.seenAt) {
        m.name = f.name
        m.category = f.category
        m.seenAt = f.seenAt
      }
    })
  }

  /** Facts by user, type and day. */
  *userDays(): Iterable<UserDayFact> {
    for (const days of this.#userDays.values()) yield* days.values()
  }

  /** Facts by payment method and day. */
  *paymentMethodDays(): Iterable<PaymentMethodDayFact> {
    for (const days of this.#paymentMethodDays.values()) yield* days.values()
  }

  /** Facts by product and day. */
  *productDays(): Iterable<ProductDayFact> {
    for (const days of this.#productDays.values()) yield* days.values()
  }

  /** (product, day, user) of every counted purchase. */
  *buyers(): Iterable<{ readonly productId: string; readonly day: Day; readonly userId: string }> {
    for (const days of this.#productDays.values()) {
      for (const p of days.values()) for (const userId of p.buyers) yield { productId: p.productId, day: p.day, userId }
    }
  }
}

/** The aggregates of a batch. */
export const aggregate = (transactions: Iterable<EurTransaction>): DailyAggregates => {
  const a = new DailyAggregates()
  for (const t of transactions) a.add(t)
  return a
}
