import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { dayRange, MAX_DAYS, parseDay } from "../../src/ops/Backfill.ts"

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

describe("dayRange", () => {
  it("lists every day from --from to --to, both included, across month and year ends", () => {
    expect(dayRange("2024-02-28", "2024-03-01")).toEqual(Result.succeed(["2024-02-28", "2024-02-29", "2024-03-01"]))
    expect(dayRange("2025-12-31", "2026-01-01")).toEqual(Result.succeed(["2025-12-31", "2026-01-01"]))
    expect(dayRange("2026-05-04", "2026-05-04")).toEqual(Result.succeed(["2026-05-04"]))
  })

  it("refuses a range that is not one, naming the flag", () => {
    expect(dayRange("2026-02-30", "2026-03-02")).toEqual(Result.fail("--from 2026-02-30: no such day"))
    expect(dayRange("2026-03-01", "03/02")).toEqual(Result.fail("--to 03/02: expected a UTC day as YYYY-MM-DD"))
    expect(dayRange("2026-03-02", "2026-03-01")).toEqual(Result.fail("--to 2026-03-01 is before --from 2026-03-02"))
    expect(dayRange("2025-01-01", "2026-12-31")).toEqual(Result.fail(`--from 2025-01-01 --to 2026-12-31: 730 days, more than ${MAX_DAYS} in one run`))
    expect(Result.isSuccess(dayRange("2024-01-01", "2024-12-31"))).toBe(true)
  })
})
