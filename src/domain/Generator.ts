/**
 * Realistic, reproducible transactions for load and tests: hundreds of users, tens of products,
 * the five payment methods, several currencies, event times over several days; and the
 * malformed messages a real feed carries. Deterministic under a seed.
 */
import { type Transaction, type TransactionStatus, type TransactionType, toWire } from "./Transaction.ts"

/** mulberry32: a small, fast, well-distributed 32-bit PRNG. */
export const makeRandom = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const FIRST = ["Alice", "Bruno", "Chloé", "David", "Emma", "Farid", "Giulia", "Hugo", "Inès", "Jonas", "Karim", "Léa", "Mateo", "Nora", "Oscar", "Paula", "Quentin", "Rosa", "Sami", "Tess", "Ugo", "Vera", "Wen", "Yara", "Zoé"]
const LAST = ["Martin", "Bernard", "Dubois", "Rossi", "Müller", "García", "Silva", "Nowak", "Haddad", "Kim", "Okafor", "Laurent", "Moreau", "Fournier", "Lefèvre", "Girard"]
const PLACES: ReadonlyArray<readonly [country: string, city: string, currency: string]> = [
  ["FR", "Paris", "EUR"], ["FR", "Lyon", "EUR"], ["DE", "Berlin", "EUR"], ["ES", "Madrid", "EUR"],
  ["IT", "Milano", "EUR"], ["GB", "London", "GBP"], ["US", "New York", "USD"], ["US", "Austin", "USD"],
  ["CH", "Zürich", "CHF"], ["JP", "Tokyo", "JPY"], ["CA", "Montréal", "CAD"], ["MA", "Casablanca", "MAD"]
]
const PAYMENT_METHODS = [
  { id: "pm-card", name: "Credit card", category: "card" },
  { id: "pm-debit", name: "Debit card", category: "card" },
  { id: "pm-paypal", name: "PayPal", category: "wallet" },
  { id: "pm-transfer", name: "Bank transfer", category: "bank" },
  { id: "pm-crypto", name: "Crypto", category: "crypto" }
] as const
const CATEGORIES = ["audio", "video", "computing", "phone", "home", "books", "games", "sport"] as const
const PRODUCT_NAMES = ["Casque audio", "Enceinte", "Écran 27\"", "Clavier", "Souris", "Téléphone", "Tablette", "Liseuse", "Console", "Montre", "Lampe", "Cafetière", "Roman", "Vélo", "Raquette"]

export interface GeneratorOptions {
  readonly seed: number
  readonly users: number
  readonly products: number
  /** Event times are spread over this many days ending at `endMs`. */
  readonly days: number
  readonly endMs: number
}

export const defaultGeneratorOptions: GeneratorOptions = {
  seed: 42,
  users: 500,
  products: 40,
  days: 5,
  endMs: Date.UTC(2026, 10, 22, 12, 0, 0)
}

const TYPES: ReadonlyArray<readonly [TransactionType, number]> = [
  ["purchase", 0.6], ["refund", 0.08], ["transfer", 0.14], ["withdrawal", 0.1], ["deposit", 0.08]
]
const STATUSES: ReadonlyArray<readonly [TransactionStatus, number]> = [["completed", 0.88], ["pending", 0.08], ["failed", 0.04]]

const weighted = <A>(random: () => number, table: ReadonlyArray<readonly [A, number]>): A => {
  let r = random()
  for (const [value, weight] of table) {
    r -= weight
    if (r < 0) return value
  }
  return table[table.length - 1]![0]
}

const pick = <A>(random: () => number, items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!

/** An endless, seeded sequence of transactions over a fixed population of users and products. */
export const makeTransactionGenerator = (options: Partial<GeneratorOptions> = {}) => {
  const o = { ...defaultGeneratorOptions, ...options }
  const random = makeRandom(o.seed)
  const users = Array.from({ length: o.users }, (_, i) => {
    const [country, city, currency] = pick(random, PLACES)
    const first = pick(random, FIRST)
    const last = pick(random, LAST)
    return {
      user: {
        id: `u-${String(i + 1).padStart(6, "0")}`,
        name: `${first} ${last}`,
        email: `${first}.${last}.${i + 1}@example.com`.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, ""),
        country,
        city
      },
      currency
    }
  })
  const products = Array.from({ length: o.products }, (_, i) => ({
    id: `p-${String(i + 1).padStart(4, "0")}`,
    name: `${pick(random, PRODUCT_NAMES)} ${i + 1}`,
    category: pick(random, CATEGORIES),
    priceCents: 199 + Math.floor(random() * 150_000)
  }))
  const spanMs = o.days * 86_400_000
  let n = 0

  return (): Transaction => {
    n += 1
    const { user, currency } = users[Math.floor(random() ** 1.6 * users.length)]!
    const transactionType = weighted(random, TYPES)
    const withProduct = transactionType === "purchase" || transactionType === "refund"
    const product = withProduct ? pick(random, products) : null
    const quantity = product ? 1 + Math.floor(random() ** 3 * 4) : 1
    const amountCents = product ? product.priceCents * quantity : 500 + Math.floor(random() * 200_000)
    const id = Math.floor(random() * 0xffffffff).toString(16).padStart(8, "0")
    return {
      transactionId: `tx-${o.seed}-${n}-${id}`,
      eventTimeMs: o.endMs - Math.floor(random() * spanMs),
      transactionType,
      status: weighted(random, STATUSES),
      amountCents,
      currency,
      user,
      paymentMethod: pick(random, PAYMENT_METHODS),
      product,
      quantity,
      ipAddress: `203.0.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`,
      cardLast4: random() < 0.7 ? String(Math.floor(random() * 10_000)).padStart(4, "0") : null
    }
  }
}

/** The kinds of malformed message a feed carries, each one a different reason to dead-letter. */
export const BadKinds = ["not-json", "not-utf8", "empty", "missing-field", "bad-type", "bad-enum", "negative-amount", "bad-date"] as const
export type BadKind = (typeof BadKinds)[number]

/** A malformed value of the given kind, derived from a valid transaction. */
export const malformed = (kind: BadKind, t: Transaction): Buffer => {
  const wire = toWire(t) as Record<string, unknown>
  switch (kind) {
    case "not-json":
      return Buffer.from(JSON.stringify(wire).slice(0, 40))
    case "not-utf8":
      return Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])
    case "empty":
      return Buffer.alloc(0)
    case "missing-field": {
      const { transaction_id: _, ...rest } = wire
      return Buffer.from(JSON.stringify(rest))
    }
    case "bad-type":
      return Buffer.from(JSON.stringify({ ...wire, amount: "12.50" }))
    case "bad-enum":
      return Buffer.from(JSON.stringify({ ...wire, transaction_type: "gift" }))
    case "negative-amount":
      return Buffer.from(JSON.stringify({ ...wire, amount: -(t.amountCents / 100) }))
    case "bad-date":
      return Buffer.from(JSON.stringify({ ...wire, event_time: "2026-13-45 25:61" }))
  }
}

export interface GeneratedMessage {
  readonly key: string
  readonly value: Buffer
  /** Set when the message is deliberately malformed. */
  readonly bad: BadKind | undefined
}

/** Messages for `transaction_stream`: valid ones, with a share `badRatio` malformed, keyed by transaction id. */
export const makeMessageGenerator = (options: Partial<GeneratorOptions> & { readonly badRatio?: number } = {}) => {
  const next = makeTransactionGenerator(options)
  const random = makeRandom((options.seed ?? defaultGeneratorOptions.seed) ^ 0x5bd1e995)
  const badRatio = options.badRatio ?? 0
  return (): GeneratedMessage => {
    const t = next()
    if (badRatio > 0 && random() < badRatio) {
      const bad = pick(random, BadKinds)
      return { key: t.transactionId, value: malformed(bad, t), bad }
    }
    return { key: t.transactionId, value: Buffer.from(JSON.stringify(toWire(t))), bad: undefined }
  }
}
