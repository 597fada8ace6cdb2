import { describe, expect, it } from "vitest"
import { makeRandom } from "../../src/domain/Generator.ts"
import { addExact, centsToDecimal, decimalToCents, numberToCents } from "../../src/domain/Money.ts"

/** The cents of a number as its shortest round-trip text says, through strings and bigints only. */
const centsOfText = (n: number): number => {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(n))
  if (m === null) return Number.NaN
  const cents = BigInt(m[2]!) * 100n + BigInt((m[3] ?? "").padEnd(2, "0"))
  return Number(m[1] === "-" ? -cents : cents)
}

describe("numberToCents", () => {
  it.each([
    [134_217_728.02, 13_421_772_802],
    [157_118_081.11, 15_711_808_111],
    [9_999_999_999_999.99, 999_999_999_999_999],
    [0.07, 7],
    [0.5, 50],
    [-12.3, -1_230],
    [42, 4_200]
  ])("reads %d as %d cents", (n, cents) => {
    expect(numberToCents(n)).toBe(cents)
  })

  it.each([134_217_728.021, 0.001, 1e-7, 1.5e-7, 0.1 + 0.2, Number.NaN, Number.POSITIVE_INFINITY])("refuses %d, whose text has more than two decimals or none that count", (n) => {
    expect(numberToCents(n)).toBeNaN()
  })

  it("agrees with the decimal text of two-decimal, three-decimal and arbitrary numbers below 10^13", () => {
    const random = makeRandom(5)
    let accepted = 0
    for (let i = 0; i < 100_000; i++) {
      const scale = 10 ** Math.floor(random() * 16)
      const n = i % 3 === 0 ? Math.floor(random() * scale) / 100 : i % 3 === 1 ? Math.floor(random() * scale) / 1000 : random() * scale / 1000
      const expected = centsOfText(n)
      if (Number.isNaN(expected)) expect(numberToCents(n)).toBeNaN()
      else {
        expect(numberToCents(n)).toBe(expected)
        accepted++
      }
    }
    expect(accepted).toBeGreaterThan(30_000)
  })
})

describe("centsToDecimal", () => {
  it.each([
    [12_345, "123.45"],
    [-5, "-0.05"],
    [0, "0.00"],
    [999_999_999_999_999, "9999999999999.99"]
  ])("writes %d cents as %s", (cents, text) => {
    expect(centsToDecimal(cents)).toBe(text)
    expect(decimalToCents(text)).toBe(cents)
  })

  it("reads totals past 2^53 cents back as exact bigints, and smaller ones as numbers", () => {
    expect(decimalToCents("90071992547409.91")).toBe(Number.MAX_SAFE_INTEGER)
    expect(decimalToCents("90071992547409.92")).toBe(2n ** 53n)
    expect(decimalToCents("29999999999999970.01")).toBe(2_999_999_999_999_997_001n)
    expect(decimalToCents("-29999999999999970.1")).toBe(-2_999_999_999_999_997_010n)
    expect(decimalToCents(centsToDecimal(10n ** 30n + 7n))).toBe(10n ** 30n + 7n)
  })

  it("writes sums past 2^53 cents, held as bigints, exactly", () => {
    expect(centsToDecimal(2n ** 53n + 1n)).toBe("90071992547409.93")
    expect(centsToDecimal(123_456_789_012_345_678_901_234_567_890n)).toBe("1234567890123456789012345678.90")
    expect(centsToDecimal(-7n)).toBe("-0.07")
    expect(centsToDecimal(100n)).toBe("1.00")
  })
})

describe("addExact", () => {
  it("stays a number while the sum is a safe integer, and becomes an exact bigint past it", () => {
    expect(addExact(Number.MAX_SAFE_INTEGER - 5, 5)).toBe(Number.MAX_SAFE_INTEGER)
    expect(addExact(Number.MAX_SAFE_INTEGER - 5, 6)).toBe(2n ** 53n)
    expect(addExact(2n ** 53n, 999_999_999_999_999)).toBe(2n ** 53n + 999_999_999_999_999n)
    expect(addExact(-Number.MAX_SAFE_INTEGER, -1)).toBe(-(2n ** 53n))
  })
})
