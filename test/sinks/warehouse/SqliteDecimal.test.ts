import { DatabaseSync } from "node:sqlite"
import { describe, expect, it } from "vitest"
import { decimalAdd, registerDecimalFunctions } from "../../../src/sinks/warehouse/SqliteDecimal.ts"

describe("decimalAdd", () => {
  it.each<[unknown, unknown, string]>([
    ["0.10", "0.20", "0.30"],
    ["0.10", "0.2", "0.30"],
    ["-0.05", "0.05", "0.00"],
    ["-5.00", "2.50", "-2.50"],
    ["9999999999999.99", "9999999999999.99", "19999999999999.98"],
    ["99999999999999999999999999999999.99", "0.01", "100000000000000000000000000000000.00"],
    [9_223_372_036_854_775_807n, "0.01", "9223372036854775807.01"],
    [7, "0.5", "7.5"],
    [0.1, 0.2, "0.3"],
    ["1e3", ".5", "1000.5"],
    [" 12.50 ", "+1", "13.50"]
  ])("adds %s and %s exactly: %s", (a, b, sum) => {
    expect(decimalAdd(a as never, b as never)).toBe(sum)
  })

  it("gives NULL for NULL, as SQL's + does", () => {
    expect(decimalAdd(null, "1.00")).toBeNull()
    expect(decimalAdd("1.00", null)).toBeNull()
  })

  it.each<unknown>(["ten", "", "-", "1.2.3", Number.NaN, new Uint8Array([1, 2])])("refuses %j, which is no decimal number", (v) => {
    expect(() => decimalAdd(v as never, "1.00")).toThrow(/^decimal_add: not a decimal number: /)
  })
})

describe("registerDecimalFunctions", () => {
  it("makes decimal_add callable in SQL, exact past 64-bit integers and doubles", () => {
    const db = new DatabaseSync(":memory:")
    try {
      registerDecimalFunctions(db)
      const row = db.prepare("SELECT decimal_add('19999999999999980.01', ?) AS s, decimal_add(9223372036854775807, 1) AS big").get("0.99")
      expect({ ...row }).toEqual({ s: "19999999999999981.00", big: "9223372036854775808" })
      expect(() => db.prepare("SELECT decimal_add('x', 1)").get()).toThrow(/not a decimal number: "x"/)
    } finally {
      db.close()
    }
  })
})
