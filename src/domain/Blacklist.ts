/**
 * The blacklist: entries of the compacted topic `blacklist`, the table they make, and which entry
 * a transaction matches at its event time. Pure: the topology reads the topic and versions the table.
 *
 * The rules:
 * - A record is keyed `<kind>:<value>` and its value is `{"kind", "value", "reason", "added_at",
 *   "removed_at"?}`; its key must be exactly `kind + ":" + value` of its value (otherwise
 *   compaction would keep the wrong records), else it is refused naming `key`. A record with no
 *   value (Kafka's tombstone) or the JSON value `null` deletes its key. A later record for a key
 *   replaces the earlier one, as compaction does.
 * - `added_at` and `removed_at` are ISO-8601 instants with an offset, in the years 1000 to 9999;
 *   `removed_at`, when present and not null, must be after `added_at`. An entry is in force at the
 *   instants `added_at <= t < removed_at` (no end when `removed_at` is absent).
 * - A transaction is blacklisted when one of its fields matches an entry in force at its
 *   `event_time`. Kinds are tried in this order, and the first entry in force wins:
 *   `user_id` (exact), `email` (case-insensitive), `email_domain` (the part of the email after its
 *   last `@`, case-insensitive, the domain itself only: `example.com` does not match
 *   `mail.example.com`), `ip` (the same address, however written: both sides in canonical text, an
 *   IPv4-mapped IPv6 address as its IPv4 address, no ranges), `card_last4` (exact),
 *   `payment_method_id` (exact). Case-insensitive means both sides lowercased (JavaScript's
 *   locale-independent `toLowerCase`), not Unicode case folding: `ß` and `SS` differ.
 * - Entries of one kind that match the same value (`email:Bob@x.org` and `email:bob@x.org`) are
 *   tried in the order of their keys, so the match depends only on the table's content.
 * - An entry that no transaction could match is refused, naming `value`: an `ip` that is not an IP
 *   address, an `email_domain` with an `@`, a value longer than the transaction's field may be
 *   (`user_id` and `payment_method_id` 128 characters, `email` and `email_domain` 255,
 *   `card_last4` 4). `reason` has at most 255 characters.
 */
import { Data, Result, Schema } from "effect"
import { emailDomain } from "./Anonymize.ts"
import { canonicalIp } from "./IpAddress.ts"
import { BoundedText, firstIssue, Instant, parseInstant, type Transaction } from "./Transaction.ts"

/** The kinds of entry, in the order a transaction is matched against them. */
export const BlacklistKinds = ["user_id", "email", "email_domain", "ip", "card_last4", "payment_method_id"] as const
export type BlacklistKind = (typeof BlacklistKinds)[number]

/** An entry of the blacklist. */
export interface BlacklistEntry {
  readonly kind: BlacklistKind
  /** As sent (the key is `kind:value`); matched as the rules say. */
  readonly value: string
  readonly reason: string
  readonly addedAtMs: number
  /** Null: in force from `addedAtMs` on. */
  readonly removedAtMs: number | null
}

/** A record of the `blacklist` topic: an entry, or null for a tombstone deleting the key. */
export interface BlacklistRecord {
  readonly key: string
  readonly entry: BlacklistEntry | null
}

/** The wire shape of a `blacklist` value. */
export const BlacklistEntryWire = Schema.Struct({
  kind: Schema.Literals(BlacklistKinds),
  value: BoundedText(255, true),
  reason: BoundedText(255),
  added_at: Instant,
  removed_at: Schema.optionalKey(Schema.NullOr(Instant))
})
export type BlacklistEntryWire = typeof BlacklistEntryWire.Type

/** Why a record is not a blacklist entry: the field (`key`, `value`, `added_at`…) and the reason. */
export class BlacklistDecodeError extends Data.TaggedError("BlacklistDecodeError")<{
  readonly field: string
  readonly reason: string
}> {
  override get message(): string {
    return this.field === "" ? this.reason : `${this.field}: ${this.reason}`
  }
}

const decodeWire = Schema.decodeUnknownResult(BlacklistEntryWire)

/** The longest value a transaction's field may hold, by kind. */
const MAX_LENGTH: Record<BlacklistKind, number> = {
  user_id: 128,
  email: 255,
  email_domain: 255,
  ip: 64,
  card_last4: 4,
  payment_method_id: 128
}

/** Why no transaction could match this value, or undefined when one could. */
const unmatchable = (kind: BlacklistKind, value: string): string | undefined => {
  if (kind === "ip") return canonicalIp(value) === undefined ? "Expected an IP address (IPv4 or IPv6), not a range or a host name" : undefined
  if (value.length > MAX_LENGTH[kind]) return `Expected at most ${MAX_LENGTH[kind]} characters for ${kind}, as a transaction's field holds`
  if (kind === "email_domain" && value.includes("@")) return "Expected a domain without @"
  return undefined
}

/** The domain value of a wire entry, or the first field that is wrong. */
export const decodeBlacklistEntry = (json: unknown): Result.Result<BlacklistEntry, BlacklistDecodeError> => {
  const wire = decodeWire(json)
  if (Result.isFailure(wire)) return Result.fail(new BlacklistDecodeError(firstIssue(wire.failure.issue, "not a blacklist entry")))
  const w = wire.success
  const why = unmatchable(w.kind, w.value)
  if (why !== undefined) return Result.fail(new BlacklistDecodeError({ field: "value", reason: why }))
  const addedAtMs = parseInstant(w.added_at)
  const removedAtMs = w.removed_at == null ? null : parseInstant(w.removed_at)
  if (removedAtMs !== null && removedAtMs <= addedAtMs) {
    return Result.fail(new BlacklistDecodeError({ field: "removed_at", reason: `${w.removed_at} is not after added_at ${w.added_at}` }))
  }
  return Result.succeed({ kind: w.kind, value: w.value, reason: w.reason, addedAtMs, removedAtMs })
}

/** The key of an entry in the topic: `<kind>:<value>`. */
export const blacklistKey = (entry: { readonly kind: BlacklistKind; readonly value: string }): string => `${entry.kind}:${entry.value}`

/**
 * A record of the topic from its key and its parsed value: null (a tombstone, or the JSON value
 * null) deletes the key; anything else must be an entry whose key is `kind:value`.
 */
export const decodeBlacklistRecord = (key: string, json: unknown): Result.Result<BlacklistRecord, BlacklistDecodeError> => {
  if (json === null || json === undefined) return Result.succeed({ key, entry: null })
  return Result.flatMap(decodeBlacklistEntry(json), (entry) =>
    blacklistKey(entry) === key
      ? Result.succeed({ key, entry })
      : Result.fail(new BlacklistDecodeError({ field: "key", reason: `${JSON.stringify(key)} is not kind:value of its entry, ${JSON.stringify(blacklistKey(entry))}` })))
}

/** The wire form of an entry, as the topic and the canonical text hold it. */
export const toBlacklistWire = (e: BlacklistEntry): BlacklistEntryWire => ({
  kind: e.kind,
  value: e.value,
  reason: e.reason,
  added_at: new Date(e.addedAtMs).toISOString(),
  ...(e.removedAtMs === null ? {} : { removed_at: new Date(e.removedAtMs).toISOString() })
})

const inForce = (e: BlacklistEntry, atMs: number): boolean => e.addedAtMs <= atMs && (e.removedAtMs === null || atMs < e.removedAtMs)

/** The text an entry's value is matched by, per kind. */
const matchText = (kind: BlacklistKind, value: string): string => {
  switch (kind) {
    case "email":
    case "email_domain":
      return value.toLowerCase()
    case "ip":
      return canonicalIp(value)!
    default:
      return value
  }
}

const compareKeys = (a: BlacklistEntry, b: BlacklistEntry): number => {
  const ka = blacklistKey(a)
  const kb = blacklistKey(b)
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/**
 * The blacklist at one point of the topic: its entries by key, and per kind a map from the matched
 * text to the entries with that text, so that a match costs a few map lookups whatever its size.
 */
export class BlacklistTable {
  readonly #byKey: ReadonlyMap<string, BlacklistEntry>
  readonly #sorted: ReadonlyArray<BlacklistEntry>
  readonly #userIds = new Map<string, Array<BlacklistEntry>>()
  readonly #emails = new Map<string, Array<BlacklistEntry>>()
  readonly #domains = new Map<string, Array<BlacklistEntry>>()
  readonly #ips = new Map<string, Array<BlacklistEntry>>()
  readonly #cards = new Map<string, Array<BlacklistEntry>>()
  readonly #paymentMethods = new Map<string, Array<BlacklistEntry>>()

  /** The table of these entries; a later entry with the key of an earlier one replaces it. */
  constructor(entries: Iterable<BlacklistEntry> = []) {
    const byKey = new Map<string, BlacklistEntry>()
    for (const e of entries) byKey.set(blacklistKey(e), e)
    this.#byKey = byKey
    this.#sorted = [...byKey.values()].sort(compareKeys)
    const index: Record<BlacklistKind, Map<string, Array<BlacklistEntry>>> = {
      user_id: this.#userIds,
      email: this.#emails,
      email_domain: this.#domains,
      ip: this.#ips,
      card_last4: this.#cards,
      payment_method_id: this.#paymentMethods
    }
    // In key order, so that entries matching the same text are tried in key order.
    for (const e of this.#sorted) {
      const map = index[e.kind]
      const text = matchText(e.kind, e.value)
      const list = map.get(text)
      if (list === undefined) map.set(text, [e])
      else list.push(e)
    }
  }

  /** The table after these records, in order: an entry sets its key, a tombstone deletes it. */
  apply(records: Iterable<BlacklistRecord>): BlacklistTable {
    const byKey = new Map(this.#byKey)
    for (const r of records) {
      if (r.entry === null) byKey.delete(r.key)
      else byKey.set(r.key, r.entry)
    }
    return new BlacklistTable(byKey.values())
  }

  /** The table a topic's records make, read from its start. */
  static fromRecords(records: Iterable<BlacklistRecord>): BlacklistTable {
    return new BlacklistTable().apply(records)
  }

  get size(): number {
    return this.#sorted.length
  }

  /** Every entry, in the order of their keys. */
  entries(): ReadonlyArray<BlacklistEntry> {
    return this.#sorted
  }

  /** The entry a transaction matches at its event time (the first by kind, then by key), or undefined. */
  match(t: Transaction): BlacklistEntry | undefined {
    const at = t.eventTimeMs
    return (
      first(this.#userIds, t.user.id, at) ??
        (this.#emails.size > 0 ? first(this.#emails, t.user.email.toLowerCase(), at) : undefined) ??
        (this.#domains.size > 0 ? first(this.#domains, emailDomain(t.user.email), at) : undefined) ??
        (this.#ips.size > 0 && t.ipAddress !== null ? first(this.#ips, canonicalIp(t.ipAddress), at) : undefined) ??
        first(this.#cards, t.cardLast4, at) ??
        first(this.#paymentMethods, t.paymentMethod.id, at)
    )
  }
}

const first = (map: ReadonlyMap<string, ReadonlyArray<BlacklistEntry>>, text: string | null | undefined, atMs: number): BlacklistEntry | undefined => {
  if (text === null || text === undefined || map.size === 0) return undefined
  const list = map.get(text)
  if (list === undefined) return undefined
  for (const e of list) if (inForce(e, atMs)) return e
  return undefined
}

/**
 * The canonical text of a table: a JSON array of its entries in wire form, in the order of their
 * keys, each with its fields in the wire's order and its instants as `toISOString` writes them.
 * Equal tables give equal text however their records arrived, so its hash can version the
 * decisions a commit records.
 */
export const serializeBlacklist = (table: BlacklistTable): string => JSON.stringify(table.entries().map(toBlacklistWire))

/** The table of a canonical text (or of any JSON array of wire entries); the error names the entry and its field. */
export const parseBlacklist = (text: string): Result.Result<BlacklistTable, BlacklistDecodeError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Result.fail(new BlacklistDecodeError({ field: "", reason: `not JSON: ${(e as Error).message}` }))
  }
  if (!Array.isArray(json)) return Result.fail(new BlacklistDecodeError({ field: "", reason: "Expected an array of blacklist entries" }))
  const entries: Array<BlacklistEntry> = []
  for (let i = 0; i < json.length; i++) {
    const r = decodeBlacklistEntry(json[i])
    if (Result.isFailure(r)) {
      const { field, reason } = r.failure
      return Result.fail(new BlacklistDecodeError({ field: field === "" ? `${i}` : `${i}.${field}`, reason }))
    }
    entries.push(r.success)
  }
  return Result.succeed(new BlacklistTable(entries))
}
