/**
 * Exact decimal addition for the embedded warehouse, which keeps money as decimal text: SQLite's own
 * arithmetic is 64-bit integers and doubles, exact to the cent only up to about 2^44 units.
 */
import type { DatabaseSync, SQLOutputValue } from "node:sqlite"

/** `unscaled` × 10^-`scale`. */
interface Decimal {
  readonly unscaled: bigint
  readonly scale: number
}

const DECIMAL_TEXT = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,3}))?\s*$/

const shown = (v: SQLOutputValue): string => (v instanceof Uint8Array ? `a blob of ${v.length} bytes` : JSON.stringify(String(v)))

const parse = (v: SQLOutputValue): Decimal => {
  if (typeof v === "bigint") return { unscaled: v, scale: 0 }
  if (typeof v === "number" && Number.isInteger(v)) return { unscaled: BigInt(v), scale: 0 }
  // A double as its shortest round-trip text, the digits it was written with.
  const text = typeof v === "number" ? String(v) : typeof v === "string" ? v : undefined
  const m = text === undefined ? null : DECIMAL_TEXT.exec(text)
  const digits = m === null ? "" : `${m[2]}${m[3] ?? ""}`
  if (m === null || digits === "") throw new Error(`decimal_add: not a decimal number: ${shown(v)}`)
  const scale = (m[3] ?? "").length - Number(m[4] ?? 0)
  const magnitude = scale < 0 ? BigInt(digits) * 10n ** BigInt(-scale) : BigInt(digits)
  return { unscaled: m[1] === "-" ? -magnitude : magnitude, scale: Math.max(scale, 0) }
}

const format = ({ scale, unscaled }: Decimal): string => {
  const negative = unscaled < 0n
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0")
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`
  return negative ? `-${text}` : text
}

/**
 * The exact sum of two decimal numbers (text, integers or doubles) as text with the larger of their
 * scales: `decimalAdd("0.10", "0.2")` is `"0.30"`. NULL if either is NULL, as SQL's `+`; an error
 * for anything that is not a number.
 */
export const decimalAdd = (a: SQLOutputValue, b: SQLOutputValue): string | null => {
  if (a === null || b === null) return null
  const x = parse(a)
  const y = parse(b)
  const scale = Math.max(x.scale, y.scale)
  const unscaled = x.unscaled * 10n ** BigInt(scale - x.scale) + y.unscaled * 10n ** BigInt(scale - y.scale)
  return format({ unscaled, scale })
}

/**
 * Makes `decimal_add(a, b)` callable on a connection (the name SQLite's decimal extension gives it;
 * node:sqlite does not include that extension).
 */
export const registerDecimalFunctions = (database: DatabaseSync): void => {
  database.function("decimal_add", { deterministic: true, useBigIntArguments: true }, decimalAdd)
}
