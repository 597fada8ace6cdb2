/**
 * Folder permissions of the lake: read, write and admin per user and folder, with an expiry. The
 * rules, pure: admin implies write implies read; a grant on a folder covers what is under it
 * (`/` covers the whole lake); a revoked or expired grant counts as none.
 */
import { Result } from "effect"
import { isStorableInstant } from "./CivilDate.ts"
import { parseInstant } from "./Transaction.ts"

export const PermissionLevels = ["read", "write", "admin"] as const
export type PermissionLevel = (typeof PermissionLevels)[number]

const RANK: Record<PermissionLevel, number> = { read: 1, write: 2, admin: 3 }

/** Whether holding `held` allows what `needed` allows: admin implies write implies read. */
export const implies = (held: PermissionLevel, needed: PermissionLevel): boolean => RANK[held] >= RANK[needed]

/** One row of `data_lake_permissions`, instants as epoch millis. */
export interface Grant {
  readonly id: number
  readonly email: string
  /** A lake folder (`streams/transaction_stream`, `streams`), or `/` for the whole lake. */
  readonly folder: string
  readonly permission: PermissionLevel
  readonly grantedBy: string
  readonly grantedAt: number
  /** When it stops counting (exclusive); null: never. */
  readonly expiresAt: number | null
  /** When it was revoked; null: never. */
  readonly revokedAt: number | null
}

/** The lake as a whole. */
export const ROOT_FOLDER = "/"

/** Folders are `VARCHAR(1024)` in the warehouse. */
export const MAX_FOLDER_LENGTH = 1024
/** Emails are `VARCHAR(255)`. */
export const MAX_EMAIL_LENGTH = 255

/**
 * A folder as grants name it: slashes at either end and repeated ones dropped (`/streams//x/` is
 * `streams/x`), `/` (or nothing) for the whole lake. Relative segments and control characters are
 * refused: a grant names one folder, never a way around one.
 */
export const normalizeFolder = (text: string): Result.Result<string, string> => {
  const segments = text.trim().split("/").filter((s) => s.length > 0)
  if (segments.length === 0) return Result.succeed(ROOT_FOLDER)
  // Control characters are refused on purpose: a folder is a path, never a terminal escape.
  // oxlint-disable-next-line no-control-regex
  if (segments.some((s) => s === "." || s === ".." || /[\u0000-\u001f\u007f\\]/.test(s))) {
    return Result.fail(`${JSON.stringify(text)} is not a lake folder: no . or .. segments, backslashes or control characters`)
  }
  const folder = segments.join("/")
  if (folder.length > MAX_FOLDER_LENGTH) return Result.fail(`a folder has at most ${MAX_FOLDER_LENGTH} characters`)
  return Result.succeed(folder)
}

/** An email as grants name it: trimmed, lowercase (one person, one spelling). */
export const normalizeEmail = (text: string): Result.Result<string, string> => {
  const email = text.trim().toLowerCase()
  if (email.length > MAX_EMAIL_LENGTH) return Result.fail(`an email has at most ${MAX_EMAIL_LENGTH} characters`)
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) return Result.fail(`${JSON.stringify(text)} is not an email address`)
  return Result.succeed(email)
}

/** Whether a grant on `granted` covers `folder` (both normalized): the same folder, one below it, or any under `/`. */
export const covers = (granted: string, folder: string): boolean =>
  granted === ROOT_FOLDER || folder === granted || folder.startsWith(`${granted}/`)

/** Whether a grant counts at `now`: not revoked, and not expired. */
export const inForce = (grant: Grant, now: number): boolean => grant.revokedAt === null && (grant.expiresAt === null || now < grant.expiresAt)

/** What a user may do on a folder, and the grant that says so. */
export interface Decision {
  readonly allowed: boolean
  /** The strongest grant in force covering the folder (the one that allows, when one does). */
  readonly through: Grant | undefined
}

/**
 * Whether `grants` (a user's) allow `needed` on `folder` at `now`: through the strongest grant in
 * force that covers it (of equal ones, the one that lasts longest).
 */
export const decide = (grants: ReadonlyArray<Grant>, folder: string, needed: PermissionLevel, now: number): Decision => {
  let best: Grant | undefined
  for (const g of grants) {
    if (!inForce(g, now) || !covers(g.folder, folder)) continue
    if (
      best === undefined || RANK[g.permission] > RANK[best.permission] ||
      (RANK[g.permission] === RANK[best.permission] && (g.expiresAt === null ? Number.POSITIVE_INFINITY : g.expiresAt) > (best.expiresAt ?? Number.POSITIVE_INFINITY))
    ) best = g
  }
  return { allowed: best !== undefined && implies(best.permission, needed), through: best }
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/
const DURATION = /^(\d+)([dhm])$/
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const

/**
 * When a grant given at `now` expires: an ISO-8601 date-time with an offset; a date (`2027-01-31`:
 * valid through that day, UTC); or a duration from now (`90d`, `12h`, `30m`). It must lie ahead.
 */
export const parseExpiry = (text: string, now: number): Result.Result<number, string> => {
  const t = text.trim()
  let at: number
  const date = DATE_ONLY.exec(t)
  const duration = DURATION.exec(t)
  if (date !== null) {
    const start = parseInstant(`${t}T00:00:00Z`)
    at = Number.isNaN(start) ? Number.NaN : start + UNIT_MS.d
  } else if (duration !== null) {
    at = now + Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS]
  } else {
    at = parseInstant(t)
  }
  if (Number.isNaN(at)) return Result.fail(`${JSON.stringify(text)}: expected an ISO-8601 date-time with an offset, a date (YYYY-MM-DD, through that day UTC) or a duration (90d, 12h, 30m)`)
  if (!isStorableInstant(at)) return Result.fail(`${JSON.stringify(text)}: expected an instant in the years 1000 to 9999`)
  if (at <= now) return Result.fail(`${JSON.stringify(text)} is already past (${new Date(at).toISOString()})`)
  return Result.succeed(at)
}

/** A grant's state at `now`, as `list` shows it. */
export const grantState = (grant: Grant, now: number): "in force" | "expired" | "revoked" =>
  grant.revokedAt !== null ? "revoked" : grant.expiresAt !== null && now >= grant.expiresAt ? "expired" : "in force"
