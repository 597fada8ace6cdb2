/**
 * The rules of the `transaction_stream_anonymized` feed: a valid transaction with no personal data,
 * its user known only by a keyed pseudonym, its email by its domain and its IP address by its network.
 *
 * The rules, field by field:
 * - `user.id` becomes `anon-` followed by the first 32 lowercase hex digits (128 bits) of
 *   HMAC-SHA256(key, UTF-8 bytes of the id): the same id gives the same pseudonym on every run
 *   and instance that has the key, and no one without the key can compute or invert it. 128 bits
 *   keep a collision among a billion users at odds of about 10^-21 and make a 37-character
 *   value, half the size of the full digest in every row. A new key gives every user a new
 *   pseudonym; so does the same user under another id.
 * - `user.name`, `user.email`, `user.city` and `card_last4` are dropped.
 * - the email's domain stays: the part after its last `@`, lowercased (locale-independent Unicode
 *   lowercase, an internationalized domain is not converted to punycode); null when the email has
 *   no `@` or nothing after it.
 * - `user.country` stays as sent.
 * - `ip_address` becomes its network: an IPv4 address its /24 (`203.0.113.7` → `203.0.113.0/24`),
 *   an IPv6 address its /48 in RFC 5952 text (`2001:DB8:85a3::8a2e:370:7334` →
 *   `2001:db8:85a3::/48`), an IPv4-mapped IPv6 address (`::ffff:203.0.113.7`) the /24 of its IPv4
 *   address. Anything else (a host name, a port, brackets, spaces, an octet with a leading zero)
 *   becomes null, as does an absent address.
 * - every other field (ids, type, status, amounts, currency and rate, payment method, product,
 *   quantity, event time) stays as it is.
 *
 * A kept field that happens to equal a dropped one stays as it is: a user named `France` in France
 * keeps the country `France`, and a user id `example.com` with an email at `example.com` keeps the
 * domain `example.com`. The output is computed from the kept fields and the pseudonym alone, so it
 * says nothing about the dropped fields; blanking a kept field *because* it equals a dropped one
 * would do the opposite and tell the reader that it does. The feed is pseudonymous, not anonymous:
 * a kept field can still single a person out (a personal email domain, a rare country with a
 * /24), which is why its readers are still controlled.
 */
import { createHmac, createSecretKey, type KeyObject } from "node:crypto"
import { Data } from "effect"
import type { EurTransaction, ExchangeRate } from "./ExchangeRate.ts"
import { type IpAddress, networkOf, parseIp } from "./IpAddress.ts"
import type { TransactionStatus, TransactionType } from "./Transaction.ts"

/** A transaction as the anonymized feed keeps it. */
export interface AnonymizedTransaction {
  readonly transactionId: string
  readonly eventTimeMs: number
  readonly transactionType: TransactionType
  readonly status: TransactionStatus
  readonly amountCents: number
  readonly currency: string
  readonly rate: ExchangeRate
  readonly amountEurCents: number
  readonly user: {
    /** `anon-` and 32 lowercase hex digits: see `pseudonym`. */
    readonly pseudonym: string
    /** The email's domain, lowercased; null when the email has none. */
    readonly emailDomain: string | null
    readonly country: string
  }
  readonly paymentMethod: { readonly id: string; readonly name: string; readonly category: string }
  readonly product: { readonly id: string; readonly name: string; readonly category: string; readonly priceCents: number } | null
  readonly quantity: number
  /** The /24 (IPv4) or /48 (IPv6) of the address; null when there was none or it was not an IP address. */
  readonly ipNetwork: string | null
}

/** The prefix of every pseudonym, so that one is never mistaken for a raw user id. */
export const PSEUDONYM_PREFIX = "anon-"

/** Hex digits of the HMAC kept in a pseudonym: 128 bits. */
export const PSEUDONYM_HEX_DIGITS = 32

/** The shortest key accepted: 32 bytes, SHA-256's block output (RFC 2104 advises no less). */
export const MIN_KEY_BYTES = 32

/** The anonymization key cannot be used. */
export class AnonymizationKeyError extends Data.TaggedError("AnonymizationKeyError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** The key as Node's KeyObject: `createHmac` with a Buffer key imports it on every call, which costs 5 to 8 times the HMAC. */
const keyObject = (key: Uint8Array): KeyObject => {
  if (key.length < MIN_KEY_BYTES) {
    throw new AnonymizationKeyError({
      reason: `the anonymization key has ${key.length} bytes; it needs at least ${MIN_KEY_BYTES} random bytes`
    })
  }
  return createSecretKey(key)
}

const hmacPseudonym = (userId: string, key: KeyObject): string =>
  PSEUDONYM_PREFIX + createHmac("sha256", key).update(userId, "utf8").digest("hex").slice(0, PSEUDONYM_HEX_DIGITS)

/**
 * The pseudonym of a user id under a key: `anon-` and the first 32 hex digits of
 * HMAC-SHA256(key, id). Throws `AnonymizationKeyError` for a key shorter than 32 bytes.
 */
export const pseudonym = (userId: string, key: Uint8Array): string => hmacPseudonym(userId, keyObject(key))

/**
 * The domain of an email: the part after its last `@`, lowercased; null when there is no `@` or
 * nothing after it (`bob@` has no domain).
 */
export const emailDomain = (email: string): string | null => {
  const at = email.lastIndexOf("@")
  if (at < 0 || at === email.length - 1) return null
  return email.slice(at + 1).toLowerCase()
}

/** The network an address belongs to, as the anonymized feed keeps it: its /24 or /48. */
export const ipNetworkOf = (ip: IpAddress): string => networkOf(ip, 24, 48)

/**
 * An IP address cut to its network: `203.0.113.7` → `203.0.113.0/24`, `2001:db8:85a3::8a2e:370:7334`
 * → `2001:db8:85a3::/48`, `::ffff:203.0.113.7` → `203.0.113.0/24`; null for anything that is not
 * an IP address.
 */
export const truncateIp = (text: string): string | null => {
  const ip = parseIp(text)
  return ip === undefined ? null : ipNetworkOf(ip)
}

const build = (t: EurTransaction, userPseudonym: string): AnonymizedTransaction => ({
  transactionId: t.transactionId,
  eventTimeMs: t.eventTimeMs,
  transactionType: t.transactionType,
  status: t.status,
  amountCents: t.amountCents,
  currency: t.currency,
  rate: t.rate,
  amountEurCents: t.amountEurCents,
  user: { pseudonym: userPseudonym, emailDomain: emailDomain(t.user.email), country: t.user.country },
  paymentMethod: t.paymentMethod,
  product: t.product,
  quantity: t.quantity,
  ipNetwork: t.ipAddress === null ? null : truncateIp(t.ipAddress)
})

/**
 * A transaction as the anonymized feed keeps it (see the rules above). The reference form: it
 * computes the HMAC every time; `makeAnonymizer` gives the same values faster.
 */
export const anonymize = (t: EurTransaction, key: Uint8Array): AnonymizedTransaction => build(t, pseudonym(t.user.id, key))

export interface AnonymizerOptions {
  /**
   * User ids whose pseudonyms are remembered, in each of two generations (so up to twice this
   * many): a user's pseudonym is computed once while the user stays active. Default 4,096.
   */
  readonly cacheSize?: number
}

/**
 * The anonymization of the hot path: the key imported once, and the pseudonyms of recent users
 * remembered. The cache holds two generations: the current one takes new ids until it is full,
 * then becomes the old one (the previous old one is dropped); an id found in the old one moves to
 * the current one. Active users stay, idle ones leave, and no list is kept in order per lookup.
 * The key is copied: changing the caller's buffer afterwards changes nothing.
 */
export const makeAnonymizer = (key: Uint8Array, options: AnonymizerOptions = {}): ((t: EurTransaction) => AnonymizedTransaction) => {
  const k = keyObject(key)
  const capacity = options.cacheSize ?? 4096
  let current = new Map<string, string>()
  let old = new Map<string, string>()
  const cached = (userId: string): string => {
    let p = current.get(userId)
    if (p !== undefined) return p
    p = old.get(userId) ?? hmacPseudonym(userId, k)
    if (current.size >= capacity) {
      old = current
      current = new Map()
    }
    current.set(userId, p)
    return p
  }
  return (t) => build(t, capacity > 0 ? cached(t.user.id) : hmacPseudonym(t.user.id, k))
}
