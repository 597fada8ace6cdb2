import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { parseDay } from "../../src/ops/Backfill.ts"

describe("parseDay", () => {
  it("gives the start of a UTC day", () => {
    expect(parseDay("2026-03-01")).toEqual(Result.succeed(Date.UTC(2026, 2, 1)))
    expect(parseDay("2024-02-29")).toEqual(Result.succeed(Date.UTC(2024, 1, 29)))
  })

  it("refuses what is not a calendar day, saying why", () => {
    expect(parseDay("2026-02-29")).toEqual(Result.fail("--date 2026-02-29: no such day"))
    expect(parseDay("2026-13-01")).toEqual(Result.fail("--date 2026-13-01: no such day"))
    expect(parseDay("2026-3-1")).toEqual(Result.fail("--date 2026-3-1: expected a UTC day as YYYY-MM-DD"))
    expect(parseDay("yesterday")).toEqual(Result.fail("--date yesterday: expected a UTC day as YYYY-MM-DD"))
  })
})
