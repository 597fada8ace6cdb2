import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { covers, decide, type Grant, grantState, implies, inForce, normalizeEmail, normalizeFolder, parseExpiry } from "../../src/domain/Permission.ts"

const NOW = Date.UTC(2026, 11, 1, 12)
const HOUR = 3_600_000

let nextId = 1
const grant = (folder: string, permission: Grant["permission"], more: Partial<Grant> = {}): Grant => ({
  id: nextId++,
  email: "alice@example.com",
  folder,
  permission,
  grantedBy: "admin@example.com",
  grantedAt: NOW - HOUR,
  expiresAt: null,
  revokedAt: null,
  ...more
})

describe("permission levels", () => {
  it("admin implies write implies read, never the other way", () => {
    expect(implies("admin", "read")).toBe(true)
    expect(implies("admin", "write")).toBe(true)
    expect(implies("write", "read")).toBe(true)
    expect(implies("read", "read")).toBe(true)
    expect(implies("read", "write")).toBe(false)
    expect(implies("write", "admin")).toBe(false)
  })
})

describe("normalizeFolder", () => {
  it.each([
    ["streams/transaction_stream", "streams/transaction_stream"],
    ["/streams//transaction_stream/", "streams/transaction_stream"],
    [" streams ", "streams"],
    ["/", "/"],
    ["", "/"],
    ["_deadletter/orders", "_deadletter/orders"]
  ])("reads %j as %j", (text, folder) => {
    expect(Result.getOrThrow(normalizeFolder(text))).toBe(folder)
  })

  it.each(["streams/../tables", "./streams", "streams/a\\b", "streams/\u0000x", "x".repeat(1025)])("refuses %j", (text) => {
    expect(Result.isFailure(normalizeFolder(text))).toBe(true)
  })
})

describe("normalizeEmail", () => {
  it("trims and lowercases, so that one person has one spelling", () => {
    expect(Result.getOrThrow(normalizeEmail(" Alice@Example.COM "))).toBe("alice@example.com")
  })

  it.each(["alice", "a b@c.d", "@example.com", "alice@", `${"a".repeat(250)}@example.com`])("refuses %j", (text) => {
    expect(Result.isFailure(normalizeEmail(text))).toBe(true)
  })
})

describe("covers", () => {
  it("covers the folder itself and what is under it, / everything, and no sibling that shares a prefix", () => {
    expect(covers("streams", "streams")).toBe(true)
    expect(covers("streams", "streams/transaction_stream")).toBe(true)
    expect(covers("streams/transaction_stream", "streams/transaction_stream")).toBe(true)
    expect(covers("/", "tables/user_transaction_summary")).toBe(true)
    expect(covers("/", "/")).toBe(true)
    expect(covers("streams/transaction_stream", "streams/transaction_stream_anonymized")).toBe(false)
    expect(covers("streams/transaction_stream", "streams")).toBe(false)
    expect(covers("stream", "streams/x")).toBe(false)
    expect(covers("streams", "/")).toBe(false)
  })
})

describe("decide", () => {
  it("allows through a grant on the folder or above it, at the level it gives or below", () => {
    const grants = [grant("streams", "read"), grant("tables/payment_method_totals", "admin")]
    expect(decide(grants, "streams/transaction_stream", "read", NOW)).toEqual({ allowed: true, through: grants[0] })
    expect(decide(grants, "streams/transaction_stream", "write", NOW)).toEqual({ allowed: false, through: grants[0] })
    expect(decide(grants, "tables/payment_method_totals", "write", NOW)).toEqual({ allowed: true, through: grants[1] })
    expect(decide(grants, "tables/product_purchase_counts", "read", NOW)).toEqual({ allowed: false, through: undefined })
    expect(decide([], "streams", "read", NOW)).toEqual({ allowed: false, through: undefined })
  })

  it("counts an expired or revoked grant as none, from the instant it expires", () => {
    const expiring = grant("/", "admin", { expiresAt: NOW + 1 })
    expect(decide([expiring], "streams/x", "read", NOW).allowed).toBe(true)
    expect(decide([expiring], "streams/x", "read", NOW + 1).allowed).toBe(false)
    const revoked = grant("/", "admin", { revokedAt: NOW - 1 })
    expect(decide([revoked], "streams/x", "read", NOW)).toEqual({ allowed: false, through: undefined })
    expect(inForce(expiring, NOW)).toBe(true)
    expect(grantState(expiring, NOW + 1)).toBe("expired")
    expect(grantState(revoked, NOW)).toBe("revoked")
    expect(grantState(grant("/", "read"), NOW)).toBe("in force")
  })

  it("decides by the strongest grant in force, and of equal ones by the longest lasting", () => {
    const read = grant("streams/x", "read")
    const admin = grant("/", "admin", { expiresAt: NOW + HOUR })
    const expiredWrite = grant("streams", "write", { expiresAt: NOW - 1 })
    expect(decide([read, admin, expiredWrite], "streams/x", "admin", NOW).through).toBe(admin)
    expect(decide([read, admin, expiredWrite], "streams/x", "admin", NOW + HOUR).through).toBe(read)
    const short = grant("streams", "read", { expiresAt: NOW + HOUR })
    const forever = grant("streams", "read")
    expect(decide([short, forever], "streams/x", "read", NOW).through).toBe(forever)
  })
})

describe("parseExpiry", () => {
  it("reads an instant with an offset, a date (through that day, UTC) and a duration from now", () => {
    expect(Result.getOrThrow(parseExpiry("2027-01-31T18:00:00+01:00", NOW))).toBe(Date.UTC(2027, 0, 31, 17))
    expect(Result.getOrThrow(parseExpiry("2027-01-31", NOW))).toBe(Date.UTC(2027, 1, 1))
    expect(Result.getOrThrow(parseExpiry("90d", NOW))).toBe(NOW + 90 * 24 * HOUR)
    expect(Result.getOrThrow(parseExpiry("12h", NOW))).toBe(NOW + 12 * HOUR)
    expect(Result.getOrThrow(parseExpiry("30m", NOW))).toBe(NOW + 30 * 60_000)
  })

  it.each([
    ["2026-12-01T11:00:00Z", /already past/],
    ["2026-11-30", /already past/],
    ["0d", /already past/],
    ["tomorrow", /expected an ISO-8601 date-time with an offset, a date/],
    ["2027-01-31T18:00:00", /expected an ISO-8601/],
    ["2027-02-30", /expected an ISO-8601/],
    ["9999-12-31", /years 1000 to 9999/],
    ["10w", /expected/]
  ])("refuses %j", (text, reason) => {
    const r = parseExpiry(text, NOW)
    expect(Result.isFailure(r) ? r.failure : "accepted").toMatch(reason)
  })
})
