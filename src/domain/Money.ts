/**
 * Money as integer cents in memory and as exact decimal text (DECIMAL(18,2)) at the edges.
 */

/** `12345` → `"123.45"`, `-5` → `"-0.05"`. */
export const centsToDecimal = (cents: number): string => {
  const sign = cents < 0 ? "-" : ""
  const abs = Math.abs(cents)
  const units = Math.floor(abs / 100)
  const rest = abs - units * 100
  return `${sign}${units}.${rest < 10 ? "0" : ""}${rest}`
}

/** `"123.45"`, `"123.4"`, `"123"` → cents; throws on anything else. */
export const decimalToCents = (text: string): number => {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(text.trim())
  if (m === null) throw new Error(`not a decimal amount with at most 2 places: ${text}`)
  const cents = Number(m[2]) * 100 + Number((m[3] ?? "0").padEnd(2, "0"))
  return m[1] === "-" ? -cents : cents
}
