/**
 * Money as integer cents in memory and as exact decimal text (DECIMAL(p,2)) at the edges.
 */

/**
 * `12345` → `"123.45"`, `-5` → `"-0.05"`. Sums past 2^53 cents are bigints (see `ExactSum`),
 * written just as exactly.
 */
export const centsToDecimal = (cents: number | bigint): string => {
  if (typeof cents === "bigint") {
    const digits = (cents < 0n ? -cents : cents).toString().padStart(3, "0")
    return `${cents < 0n ? "-" : ""}${digits.slice(0, -2)}.${digits.slice(-2)}`
  }
  const sign = cents < 0 ? "-" : ""
  const abs = Math.abs(cents)
  const units = Math.floor(abs / 100)
  const rest = abs - units * 100
  return `${sign}${units}.${rest < 10 ? "0" : ""}${rest}`
}

/**
 * A sum of cents (or of quantities), exact however large: a number while it is a safe integer,
 * which is almost always and costs nothing, a bigint once it leaves that range.
 */
export type ExactSum = number | bigint

/** `sum + n`, exactly. */
export const addExact = (sum: ExactSum, n: number): ExactSum => {
  if (typeof sum === "number") {
    const s = sum + n
    // Both are safe integers: their double sum is exact whenever the exact sum is a safe integer.
    if (s <= Number.MAX_SAFE_INTEGER && s >= Number.MIN_SAFE_INTEGER) return s
    return BigInt(sum) + BigInt(n)
  }
  return sum + BigInt(n)
}

/** `a + b` of two exact sums, exactly (a number whenever the sum is a safe integer). */
export const sumExact = (a: ExactSum, b: ExactSum): ExactSum => {
  if (typeof b === "number") return addExact(a, b)
  const s = BigInt(a) + b
  return s <= BigInt(Number.MAX_SAFE_INTEGER) && s >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(s) : s
}

/**
 * `"123.45"`, `"123.4"`, `"123"` → cents, a bigint past 2^53 (as `ExactSum`, so that equal amounts
 * are equal values); throws on anything else.
 */
export const decimalToCents = (text: string): ExactSum => {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(text.trim())
  if (m === null) throw new Error(`not a decimal amount with at most 2 places: ${text}`)
  const fraction = (m[3] ?? "0").padEnd(2, "0")
  // Rounding never brings a sum of 2^53 or more back below it: unsafe here means unsafe exactly.
  const cents = Number(m[2]) * 100 + Number(fraction)
  if (Number.isSafeInteger(cents)) return m[1] === "-" ? -cents : cents
  const exact = BigInt(m[2]!) * 100n + BigInt(fraction)
  return m[1] === "-" ? -exact : exact
}

/**
 * The cents of a number as its decimal text says: JavaScript's shortest round-trip text of the
 * number (`String(n)`, the digits a producer wrote), when it has at most two digits after the
 * point; NaN when it has more, or an exponent below zero (`1e-7`, as numbers below 10^-6 are
 * written). Floating point cannot decide it: `134217728.02 * 100` is 13421772802.000002.
 * Exact while the cents stay below 2^53 (amounts are bounded far below that).
 */
export const numberToCents = (n: number): number => {
  // An integer's text has no point (at 10^21 and above it has a positive exponent: still no decimals).
  if (Number.isInteger(n)) return n * 100
  const text = String(n)
  const point = text.indexOf(".")
  const decimals = text.length - point - 1
  // No point: NaN, Infinity or an exponent form of a fraction; an exponent after a point makes more than two "decimals".
  if (point < 0 || decimals > 2) return Number.NaN
  const negative = text.charCodeAt(0) === 45
  let cents = 0
  for (let i = negative ? 1 : 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) {
      if (i === point) continue
      return Number.NaN
    }
    cents = cents * 10 + d
  }
  if (decimals === 1) cents *= 10
  return negative ? -cents : cents
}
