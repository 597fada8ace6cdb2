import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  type BlacklistDecodeError,
  type BlacklistEntry,
  type BlacklistKind,
  BlacklistKinds,
  BlacklistTable,
  blacklistKey,
  decodeBlacklistEntry,
  decodeBlacklistRecord,
  parseBlacklist,
  serializeBlacklist
} from "../../src/domain/Blacklist.ts"
import { makeRandom, makeTransactionGenerator } from "../../src/domain/Generator.ts"
import type { Transaction } from "../../src/domain/Transaction.ts"

const wire = { kind: "email", value: "Bob@Example.com", reason: "chargebacks", added_at: "2026-11-01T00:00:00Z" }
const t0 = Date.UTC(2026, 10, 1)
const base: Transaction = {
  ...makeTransactionGenerator({ seed: 5 })(),
  eventTimeMs: Date.UTC(2026, 10, 15),
  user: { id: "u-000001", name: "Bob", email: "bob@example.com", country: "FR", city: "Lyon" },
  paymentMethod: { id: "pm-card", name: "Credit card", category: "card" },
  ipAddress: "203.0.113.7",
  cardLast4: "4242"
}
const entry = (kind: BlacklistKind, value: string, more: Partial<BlacklistEntry> = {}): BlacklistEntry => ({
  kind,
  value,
  reason: `${kind} ${value}`,
  addedAtMs: t0,
  removedAtMs: null,
  ...more
})
const failure = (r: Result.Result<unknown, BlacklistDecodeError>): BlacklistDecodeError => {
  if (Result.isSuccess(r)) throw new Error("decoded")
  return r.failure
}

describe("decodeBlacklistEntry and decodeBlacklistRecord", () => {
  it("decodes an entry, its instants into UTC millis", () => {
    expect(Result.getOrThrow(decodeBlacklistEntry({ ...wire, removed_at: "2026-12-01T01:00:00+01:00" }))).toEqual({
      kind: "email",
      value: "Bob@Example.com",
      reason: "chargebacks",
      addedAtMs: t0,
      removedAtMs: Date.UTC(2026, 11, 1)
    })
    expect(Result.getOrThrow(decodeBlacklistEntry({ ...wire, removed_at: null })).removedAtMs).toBeNull()
  })

  it("reads a null value as a tombstone of its key", () => {
    expect(Result.getOrThrow(decodeBlacklistRecord("ip:203.0.113.7", null))).toEqual({ key: "ip:203.0.113.7", entry: null })
  })

  it("takes a record whose key is kind:value, and refuses one whose key is not, naming key", () => {
    expect(Result.getOrThrow(decodeBlacklistRecord("email:Bob@Example.com", wire)).entry?.value).toBe("Bob@Example.com")
    expect(failure(decodeBlacklistRecord("email:bob@example.com", wire)).message).toBe(
      "key: \"email:bob@example.com\" is not kind:value of its entry, \"email:Bob@Example.com\""
    )
  })

  it.each([
    [{ ...wire, kind: "phone" }, "kind", /user_id/],
    [{ ...wire, value: "" }, "value", /non-empty/],
    [{ ...wire, value: 7 }, "value", /string/],
    [{ ...wire, kind: "ip", value: "203.0.113.0/24" }, "value", /IP address/],
    [{ ...wire, kind: "ip", value: "localhost" }, "value", /IP address/],
    [{ ...wire, kind: "email_domain", value: "@example.com" }, "value", /without @/],
    [{ ...wire, kind: "card_last4", value: "42424" }, "value", /at most 4 characters/],
    [{ ...wire, kind: "user_id", value: "u".repeat(129) }, "value", /at most 128 characters/],
    [{ ...wire, reason: "r".repeat(256) }, "reason", /at most 255/],
    [{ ...wire, reason: undefined }, "reason", /Missing key|Expected/],
    [{ ...wire, added_at: "2026-11-01" }, "added_at", /ISO-8601/],
    [{ ...wire, added_at: "0999-12-31T23:59:59Z" }, "added_at", /years 1000 to 9999/],
    [{ ...wire, removed_at: "2026-11-01T00:00:00Z" }, "removed_at", /is not after added_at/],
    [{ ...wire, removed_at: "2026-10-31T23:59:59Z" }, "removed_at", /is not after added_at/]
  ])("refuses %j naming %s", (json, field, reason) => {
    const e = failure(decodeBlacklistEntry(json))
    expect(e.field).toBe(field)
    expect(e.reason).toMatch(reason)
  })
})

describe("BlacklistTable.match", () => {
  it("matches an entry in force at the event time: from added_at included to removed_at excluded", () => {
    const removed = Date.UTC(2026, 10, 20)
    const table = new BlacklistTable([entry("user_id", "u-000001", { removedAtMs: removed })])
    expect(table.match({ ...base, eventTimeMs: t0 - 1 })).toBeUndefined()
    expect(table.match({ ...base, eventTimeMs: t0 })?.value).toBe("u-000001")
    expect(table.match({ ...base, eventTimeMs: removed - 1 })?.value).toBe("u-000001")
    expect(table.match({ ...base, eventTimeMs: removed })).toBeUndefined()
  })

  it("tries the kinds in order, and the first entry in force wins", () => {
    const all = [
      entry("payment_method_id", "pm-card"), entry("card_last4", "4242"), entry("ip", "203.0.113.7"),
      entry("email_domain", "example.com"), entry("email", "bob@example.com"), entry("user_id", "u-000001")
    ]
    for (let i = 0; i < all.length; i++) {
      // Without the entries of earlier kinds, the next kind matches.
      expect(new BlacklistTable(all.slice(0, all.length - i)).match(base)?.kind).toBe(BlacklistKinds[i])
    }
    const userLater = entry("user_id", "u-000001", { addedAtMs: base.eventTimeMs + 1 })
    expect(new BlacklistTable([...all.slice(0, 5), userLater]).match(base)?.kind).toBe("email")
  })

  it("matches emails and their domains without regard to case, the domain itself only", () => {
    const t = { ...base, user: { ...base.user, email: "Bob@Mail.Example.COM" } }
    expect(new BlacklistTable([entry("email", "BOB@mail.example.com")]).match(t)?.kind).toBe("email")
    expect(new BlacklistTable([entry("email_domain", "MAIL.example.com")]).match(t)?.kind).toBe("email_domain")
    expect(new BlacklistTable([entry("email_domain", "example.com")]).match(t)).toBeUndefined()
    expect(new BlacklistTable([entry("email_domain", "example.com")]).match({ ...t, user: { ...t.user, email: "no domain" } })).toBeUndefined()
    // Lowercased, not case-folded.
    expect(new BlacklistTable([entry("email", "strasse@example.de")]).match({ ...t, user: { ...t.user, email: "STRAßE@example.de" } })).toBeUndefined()
  })

  it("matches the same IP address however it is written, and nothing else", () => {
    const v6 = { ...base, ipAddress: "2001:db8:0:0:0:0:0:1" }
    expect(new BlacklistTable([entry("ip", "2001:DB8::1")]).match(v6)?.value).toBe("2001:DB8::1")
    expect(new BlacklistTable([entry("ip", "::ffff:203.0.113.7")]).match(base)?.value).toBe("::ffff:203.0.113.7")
    expect(new BlacklistTable([entry("ip", "203.0.113.7")]).match({ ...base, ipAddress: "::ffff:cb00:7107" })?.kind).toBe("ip")
    expect(new BlacklistTable([entry("ip", "203.0.113.8")]).match(base)).toBeUndefined()
    expect(new BlacklistTable([entry("ip", "203.0.113.7")]).match({ ...base, ipAddress: "203.0.113.7 " })).toBeUndefined()
    expect(new BlacklistTable([entry("ip", "203.0.113.7")]).match({ ...base, ipAddress: null })).toBeUndefined()
  })

  it("matches cards and payment methods exactly", () => {
    expect(new BlacklistTable([entry("card_last4", "4242")]).match({ ...base, cardLast4: "4242" })?.kind).toBe("card_last4")
    expect(new BlacklistTable([entry("card_last4", "424")]).match(base)).toBeUndefined()
    expect(new BlacklistTable([entry("card_last4", "4242")]).match({ ...base, cardLast4: null })).toBeUndefined()
    expect(new BlacklistTable([entry("payment_method_id", "PM-CARD")]).match(base)).toBeUndefined()
  })

  it("tries entries that match the same text in the order of their keys", () => {
    const upper = entry("email", "BOB@example.com", { reason: "upper" })
    const lower = entry("email", "bob@example.com", { reason: "lower", removedAtMs: base.eventTimeMs })
    expect(new BlacklistTable([lower, upper]).match(base)?.reason).toBe("upper")
    expect(new BlacklistTable([upper, { ...lower, removedAtMs: null }]).match(base)?.reason).toBe("upper")
    expect(new BlacklistTable([lower]).match(base)).toBeUndefined()
  })
})

describe("BlacklistTable as compaction builds it", () => {
  it("keeps the latest entry of a key, and a tombstone deletes the key", () => {
    const first = entry("user_id", "u-000001", { reason: "first" })
    const second = entry("user_id", "u-000001", { reason: "second" })
    const table = BlacklistTable.fromRecords([
      { key: blacklistKey(first), entry: first },
      { key: "card_last4:4242", entry: entry("card_last4", "4242") },
      { key: blacklistKey(second), entry: second }
    ])
    expect(table.size).toBe(2)
    expect(table.match(base)?.reason).toBe("second")
    const after = table.apply([{ key: "user_id:u-000001", entry: null }, { key: "ip:10.0.0.1", entry: null }])
    expect(after.entries().map(blacklistKey)).toEqual(["card_last4:4242"])
    expect(after.match(base)?.kind).toBe("card_last4")
    // The table applied to is left as it was.
    expect(table.size).toBe(2)
  })
})

/** The rules read literally: every entry, kinds in order, then keys in order, compared as the rules say. */
const scan = (entries: ReadonlyArray<BlacklistEntry>, t: Transaction): BlacklistEntry | undefined => {
  const ip = (text: string | null) => (text === null ? undefined : new URL(`http://${text.includes(":") ? `[${text}]` : text}`).hostname.replace(/^\[::ffff:([0-9a-f]+):([0-9a-f]+)\]$/, (_, hi: string, lo: string) => {
    const v = Number.parseInt(hi, 16) * 65536 + Number.parseInt(lo, 16)
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".")
  }))
  const fieldOf: Record<BlacklistKind, (e: BlacklistEntry) => boolean> = {
    user_id: (e) => e.value === t.user.id,
    email: (e) => e.value.toLowerCase() === t.user.email.toLowerCase(),
    email_domain: (e) => t.user.email.includes("@") && e.value.toLowerCase() === t.user.email.slice(t.user.email.lastIndexOf("@") + 1).toLowerCase(),
    ip: (e) => t.ipAddress !== null && ip(e.value) === ip(t.ipAddress),
    card_last4: (e) => e.value === t.cardLast4,
    payment_method_id: (e) => e.value === t.paymentMethod.id
  }
  const sorted = [...entries].sort((a, b) => (blacklistKey(a) < blacklistKey(b) ? -1 : 1))
  for (const kind of BlacklistKinds) {
    for (const e of sorted) {
      if (e.kind === kind && e.addedAtMs <= t.eventTimeMs && (e.removedAtMs === null || t.eventTimeMs < e.removedAtMs) && fieldOf[kind](e)) return e
    }
  }
  return undefined
}

const VALUES: Record<BlacklistKind, ReadonlyArray<string>> = {
  user_id: ["u-000001", "u-000002", "U-000001"],
  email: ["bob@example.com", "BOB@example.com", "alice@example.org", "bob@EXAMPLE.com"],
  email_domain: ["example.com", "EXAMPLE.COM", "example.org", "mail.example.com"],
  ip: ["203.0.113.7", "::ffff:203.0.113.7", "203.0.113.8", "2001:db8::1", "2001:DB8:0::1"],
  card_last4: ["4242", "0000", "424"],
  payment_method_id: ["pm-card", "pm-paypal"]
}

const randomTable = (random: () => number, size: number): Array<BlacklistEntry> =>
  Array.from({ length: size }, () => {
    const kind = BlacklistKinds[Math.floor(random() * BlacklistKinds.length)]!
    const list = VALUES[kind]
    const added = t0 + Math.floor(random() * 30) * 86_400_000
    return entry(kind, list[Math.floor(random() * list.length)]!, {
      reason: `r${Math.floor(random() * 1000)}`,
      addedAtMs: added,
      removedAtMs: random() < 0.4 ? added + (1 + Math.floor(random() * 20)) * 86_400_000 : null
    })
  })

const randomTransaction = (random: () => number): Transaction => {
  const pick = (xs: ReadonlyArray<string>) => xs[Math.floor(random() * xs.length)]!
  return {
    ...base,
    eventTimeMs: t0 - 86_400_000 + Math.floor(random() * 50 * 86_400_000),
    user: { ...base.user, id: pick(VALUES.user_id), email: pick([...VALUES.email, "Bob@Mail.Example.com", "nobody"]) },
    paymentMethod: { ...base.paymentMethod, id: pick(VALUES.payment_method_id) },
    ipAddress: random() < 0.2 ? null : pick([...VALUES.ip, "2001:db8:0:0:0:0:0:1", "10.0.0.1"]),
    cardLast4: random() < 0.2 ? null : pick(VALUES.card_last4)
  }
}

describe("match by maps", () => {
  it("decides as a scan of every entry by the rules", () => {
    const random = makeRandom(31)
    let matched = 0
    let unmatched = 0
    for (let i = 0; i < 300; i++) {
      const entries = randomTable(random, 1 + Math.floor(random() * 12))
      const table = new BlacklistTable(entries)
      const dedup = [...new Map(entries.map((e) => [blacklistKey(e), e])).values()]
      for (let j = 0; j < 40; j++) {
        const t = randomTransaction(random)
        const expected = scan(dedup, t)
        expect(table.match(t)).toBe(expected)
        if (expected === undefined) unmatched++
        else matched++
      }
    }
    expect(matched).toBeGreaterThan(2_000)
    expect(unmatched).toBeGreaterThan(2_000)
  })
})

describe("serializeBlacklist and parseBlacklist", () => {
  it("give equal text for equal tables, however their records arrived", () => {
    const random = makeRandom(37)
    const survivors = [...new Map(randomTable(random, 40).map((e) => [blacklistKey(e), e])).values()]
    const records = survivors.map((e) => ({ key: blacklistKey(e), entry: e }))
    const text = serializeBlacklist(BlacklistTable.fromRecords(records))
    // The same records in another order, and with replaced and deleted ones before them: the same table.
    const shuffled = [...records].sort(() => random() - 0.5)
    const overwritten = records.map((r) => ({ key: r.key, entry: { ...r.entry, reason: "older" } }))
    const deleted = { key: "user_id:gone", entry: entry("user_id", "gone") }
    expect(serializeBlacklist(BlacklistTable.fromRecords(shuffled))).toBe(text)
    expect(serializeBlacklist(BlacklistTable.fromRecords([deleted, ...overwritten, { key: deleted.key, entry: null }, ...shuffled]))).toBe(text)
    expect(serializeBlacklist(BlacklistTable.fromRecords([...shuffled, deleted]))).not.toBe(text)
    expect(serializeBlacklist(new BlacklistTable())).toBe("[]")
  })

  it("round-trip: the parsed table has the same text and decides the same", () => {
    const random = makeRandom(41)
    const table = new BlacklistTable(randomTable(random, 60))
    const text = serializeBlacklist(table)
    const back = Result.getOrThrow(parseBlacklist(text))
    expect(serializeBlacklist(back)).toBe(text)
    expect(back.entries()).toEqual(table.entries())
    for (let i = 0; i < 2_000; i++) {
      const t = randomTransaction(random)
      expect(back.match(t)).toEqual(table.match(t))
    }
  })

  it("writes entries in key order, in wire form", () => {
    const table = new BlacklistTable([
      entry("user_id", "u-2", { reason: "fraud", removedAtMs: Date.UTC(2026, 11, 1) }),
      entry("card_last4", "4242", { reason: "stolen" })
    ])
    expect(serializeBlacklist(table)).toBe(
      "[{\"kind\":\"card_last4\",\"value\":\"4242\",\"reason\":\"stolen\",\"added_at\":\"2026-11-01T00:00:00.000Z\"}," +
        "{\"kind\":\"user_id\",\"value\":\"u-2\",\"reason\":\"fraud\",\"added_at\":\"2026-11-01T00:00:00.000Z\",\"removed_at\":\"2026-12-01T00:00:00.000Z\"}]"
    )
  })

  it("refuses text that is not a table, naming the entry and its field", () => {
    expect(failure(parseBlacklist("{")).reason).toMatch(/^not JSON/)
    expect(failure(parseBlacklist("{}")).reason).toBe("Expected an array of blacklist entries")
    expect(failure(parseBlacklist(JSON.stringify([wire, { ...wire, added_at: "soon" }]))).field).toBe("1.added_at")
    expect(failure(parseBlacklist(JSON.stringify([wire, null]))).field).toBe("1")
  })
})
