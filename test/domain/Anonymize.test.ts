import { createHmac } from "node:crypto"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  AnonymizationKeyError,
  anonymize,
  type AnonymizedTransaction,
  emailDomain,
  makeAnonymizer,
  pseudonym,
  truncateIp
} from "../../src/domain/Anonymize.ts"
import { defaultExchangeRates, type EurTransaction, RateTable, valueInEur } from "../../src/domain/ExchangeRate.ts"
import { makeRandom, makeTransactionGenerator } from "../../src/domain/Generator.ts"

const key = Buffer.from("0123456789abcdef0123456789abcdef-a-test-key")
const rates = new RateTable(defaultExchangeRates)
const transactions = (n: number, seed = 1): Array<EurTransaction> => {
  const next = makeTransactionGenerator({ seed })
  return Array.from({ length: n }, () => Result.getOrThrow(valueInEur(next(), rates)))
}
const base = transactions(1, 7)[0]!
const hmacHex = (id: string, k: Buffer = key) => createHmac("sha256", k).update(id, "utf8").digest("hex")

describe("pseudonym", () => {
  it("is anon- and the first 32 hex digits of HMAC-SHA256(key, id), the same on every call", () => {
    expect(pseudonym("u-000123", key)).toBe(`anon-${hmacHex("u-000123").slice(0, 32)}`)
    expect(pseudonym("u-000123", key)).toMatch(/^anon-[0-9a-f]{32}$/)
    expect(pseudonym("Zoé 😀", key)).toBe(`anon-${hmacHex("Zoé 😀").slice(0, 32)}`)
  })

  it("differs across ids and across keys", () => {
    const other = Buffer.from("another key of at least thirty-two bytes!")
    expect(pseudonym("u-1", key)).not.toBe(pseudonym("u-2", key))
    expect(pseudonym("u-1", key)).not.toBe(pseudonym("u-1", other))
  })

  it("refuses a key shorter than 32 bytes, saying why", () => {
    const short = Buffer.alloc(31, 7)
    expect(() => pseudonym("u-1", short)).toThrow(AnonymizationKeyError)
    expect(() => makeAnonymizer(short)).toThrow("the anonymization key has 31 bytes; it needs at least 32 random bytes")
  })
})

describe("emailDomain", () => {
  it.each([
    ["alice@example.com", "example.com"],
    ["Bob@Example.COM", "example.com"],
    ["\"a@b\"@mail.example.org", "mail.example.org"],
    ["@example.net", "example.net"],
    ["zoé@ÉCOLE.fr", "école.fr"],
    ["no-at-sign", null],
    ["bob@", null],
    ["", null]
  ])("of %j is %j", (email, domain) => {
    expect(emailDomain(email)).toBe(domain)
  })
})

describe("truncateIp", () => {
  it.each([
    ["203.0.113.7", "203.0.113.0/24"],
    ["203.0.113.0", "203.0.113.0/24"],
    ["2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::/48"],
    ["2001:0DB8:85A3:0000:0000:8A2E:0370:7334", "2001:db8:85a3::/48"],
    ["2001:db8::1", "2001:db8::/48"],
    ["::ffff:203.0.113.7", "203.0.113.0/24"],
    ["::ffff:cb00:7107", "203.0.113.0/24"],
    ["fe80::1%eth0", "fe80::/48"],
    ["::1", "::/48"]
  ])("cuts %s to %s", (ip, network) => {
    expect(truncateIp(ip)).toBe(network)
  })

  it.each(["", "unknown", "203.0.113.7:443", "203.0.113.07", "[2001:db8::1]", "2001:db8::1/64", "1.2.3.4 "])("makes %j null", (text) => {
    expect(truncateIp(text)).toBeNull()
  })
})

describe("anonymize", () => {
  it("keeps the transaction without its personal data", () => {
    const t: EurTransaction = {
      ...base,
      user: { id: "u-000123", name: "Alice Martin", email: "Alice.Martin@Example.com", country: "FR", city: "Paris" },
      ipAddress: "203.0.113.7",
      cardLast4: "4242"
    }
    const a = anonymize(t, key)
    expect(a).toEqual({
      transactionId: t.transactionId,
      eventTimeMs: t.eventTimeMs,
      transactionType: t.transactionType,
      status: t.status,
      amountCents: t.amountCents,
      currency: t.currency,
      rate: t.rate,
      amountEurCents: t.amountEurCents,
      user: { pseudonym: `anon-${hmacHex("u-000123").slice(0, 32)}`, emailDomain: "example.com", country: "FR" },
      paymentMethod: t.paymentMethod,
      product: t.product,
      quantity: t.quantity,
      ipNetwork: "203.0.113.0/24"
    } satisfies AnonymizedTransaction)
  })

  it("makes an absent or invalid IP address null", () => {
    expect(anonymize({ ...base, ipAddress: null }, key).ipNetwork).toBeNull()
    expect(anonymize({ ...base, ipAddress: "n/a" }, key).ipNetwork).toBeNull()
  })

  it("keeps a kept field that equals a dropped one: a user named after the country keeps the country", () => {
    const a = anonymize({ ...base, user: { ...base.user, name: "France", country: "France", city: "France" } }, key)
    expect(a.user.country).toBe("France")
  })

  it("keeps the email domain of a user whose id is that domain, and never the id as the user's", () => {
    const a = anonymize({ ...base, user: { ...base.user, id: "example.com", email: "bob@example.com" } }, key)
    expect(a.user).toEqual({ pseudonym: pseudonym("example.com", key), emailDomain: "example.com", country: base.user.country })
  })
})

// Values drawn for both dropped and kept fields, so that they collide often. User ids all hold a
// character that is no lowercase hex digit and are no part of "anon-": a pseudonym is hex, and an id
// made of hex digits alone could appear in one by chance (a 1 in 16^n event that says nothing of the id).
const POOL = [
  "France", "FR", "example.com", "EXAMPLE.COM", "bob@example.com", "Bob", "u-1", "U-000123", "4242", "42", "0000", "203.0.113.7",
  "203.0.113.0", "2001:db8::7", "Paris", "pm-card", "Credit card", "p-0001", "Casque audio", "audio", "tx-1", "EUR", "2001",
  "anonymous", "x", "é", "Zoé"
]

/** A transaction whose every text comes from POOL (or, for addresses, is a valid IP address half of the time). */
const hostile = (random: () => number): EurTransaction => {
  const pick = () => POOL[Math.floor(random() * POOL.length)]!
  const userId = () => {
    const id = pick()
    return /[g-zA-Z@.]/.test(id) && !"anon-".includes(id) ? id : `u${id}`
  }
  const ips = ["203.0.113.7", "203.0.113.0", "10.0.0.1", "2001:db8::7", "2001:db8:85a3::8a2e:370:7334", "::ffff:203.0.113.7"]
  const email = random() < 0.8 ? `${pick()}@${pick()}` : pick()
  return {
    ...base,
    transactionId: pick(),
    currency: pick(),
    user: { id: userId(), name: pick(), email, country: pick(), city: pick() },
    paymentMethod: { id: pick(), name: pick(), category: pick() },
    product: random() < 0.2 ? null : { id: pick(), name: pick(), category: pick(), priceCents: 100 },
    ipAddress: random() < 0.5 ? ips[Math.floor(random() * ips.length)]! : random() < 0.5 ? null : pick(),
    cardLast4: random() < 0.2 ? null : pick()
  }
}

/** Every string in a value, at any depth. */
const strings = (v: unknown): Array<string> =>
  typeof v === "string" ? [v] : typeof v === "object" && v !== null ? Object.values(v).flatMap(strings) : []

describe("the anonymized feed holds no personal data", () => {
  it("never holds a dropped value, except where a kept field holds it too", () => {
    const random = makeRandom(23)
    let checked = 0
    let explainedByKeptField = 0
    for (let i = 0; i < 20_000; i++) {
      const t = hostile(random)
      const a = anonymize(t, key)
      // What the feed publishes by rule: the kept fields as sent, the email's domain and the address's network.
      const kept = [
        t.transactionId, t.currency, t.rate.currency, t.user.country, t.paymentMethod.id, t.paymentMethod.name, t.paymentMethod.category,
        ...(t.product === null ? [] : [t.product.id, t.product.name, t.product.category]),
        ...(a.user.emailDomain === null ? [] : [a.user.emailDomain]),
        ...(a.ipNetwork === null ? [] : [a.ipNetwork])
      ]
      const dropped = [t.user.name, t.user.email, t.user.city, t.user.id, t.ipAddress, t.cardLast4].filter((v): v is string => v !== null && v !== "")
      for (const value of dropped) {
        for (const s of strings(a)) {
          // A pseudonym is hex: "42" or "2001" appear in one by chance, which says nothing of a card or a name.
          // Its content is asserted exactly below; here it is searched for any value that is not all hex digits.
          if (s === a.user.pseudonym && /^[0-9a-f]+$/.test(value)) continue
          checked++
          if (!s.includes(value)) continue
          expect({ value, in: s, keptElsewhere: kept.some((k) => k.includes(value)) }).toEqual({ value, in: s, keptElsewhere: true })
          explainedByKeptField++
        }
      }
      // The pseudonym holds nothing of the input but the HMAC.
      expect(a.user.pseudonym).toBe(`anon-${hmacHex(t.user.id).slice(0, 32)}`)
      // A full address appears in its network only as the network's own first address (x.y.z.0 in x.y.z.0/24).
      if (t.ipAddress !== null && a.ipNetwork?.includes(t.ipAddress)) expect(a.ipNetwork).toBe(`${t.ipAddress}/24`)
    }
    expect(checked).toBeGreaterThan(500_000)
    expect(explainedByKeptField).toBeGreaterThan(1_000)
  })

  it("is computed from the kept fields and the pseudonym alone: changing a dropped field changes nothing", () => {
    const random = makeRandom(29)
    for (let i = 0; i < 5_000; i++) {
      const t = hostile(random)
      const u = hostile(random)
      // Another name, email local part, city and card, an address of the same network; same id, domain and country.
      const domain = emailDomain(t.user.email)
      const other: EurTransaction = {
        ...t,
        user: { ...t.user, name: u.user.name, city: u.user.city, email: domain === null ? u.user.name.replaceAll("@", "") : `${u.user.name}@${domain.toUpperCase()}` },
        cardLast4: u.cardLast4,
        ipAddress: t.ipAddress === "203.0.113.7" ? "203.0.113.200" : t.ipAddress === "2001:db8::7" ? "2001:db8:0:ffff::1" : t.ipAddress
      }
      expect(anonymize(other, key)).toEqual(anonymize(t, key))
    }
  })
})

describe("makeAnonymizer", () => {
  it("gives the values of anonymize, across cache generations", () => {
    const xs = transactions(3_000, 3)
    for (const cacheSize of [0, 16, 4096]) {
      const fast = makeAnonymizer(key, { cacheSize })
      for (const t of xs) expect(fast(t)).toEqual(anonymize(t, key))
    }
  })

  it("keeps its own copy of the key", () => {
    const mine = Buffer.from(key)
    const fast = makeAnonymizer(mine, { cacheSize: 0 })
    mine.fill(0)
    expect(fast(base).user.pseudonym).toBe(pseudonym(base.user.id, key))
  })
})
