import { describe, expect, it } from "vitest"
import { formatDuration, progressWanted, rateAndEta } from "../../src/ops/Progress.ts"

describe("progress", () => {
  it("shows only on a terminal and never under CI", () => {
    // An explicit environment each time: this test itself may run under CI.
    expect(progressWanted(true, {})).toBe(true)
    expect(progressWanted(true, { CI: "false" })).toBe(true)
    expect(progressWanted(true, { CI: "true" })).toBe(false)
    expect(progressWanted(true, { CI: "1" })).toBe(false)
    expect(progressWanted(false, {})).toBe(false)
    expect(progressWanted(undefined, {})).toBe(false)
  })

  it("computes the rate so far and the time left at that rate", () => {
    expect(rateAndEta(5_000, 20_000, 2_000)).toEqual({ rate: 2_500, etaSeconds: 6 })
    expect(rateAndEta(0, 20_000, 2_000)).toEqual({ rate: 0, etaSeconds: undefined })
    expect(rateAndEta(20_000, 20_000, 4_000)).toEqual({ rate: 5_000, etaSeconds: 0 })
    expect(rateAndEta(10, 20, 0)).toEqual({ rate: 0, etaSeconds: undefined })
  })

  it("writes durations for a person", () => {
    expect(formatDuration(7.4)).toBe("7s")
    expect(formatDuration(65)).toBe("1m 05s")
    expect(formatDuration(3_725)).toBe("1h 02m")
    expect(formatDuration(undefined)).toBe("?")
    expect(formatDuration(Infinity)).toBe("?")
  })
})
