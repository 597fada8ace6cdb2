import { describe, expect, it } from "vitest"
import { parsePeakRss } from "../../bench/scenarios/Sluice.ts"
import { formatPeakRss } from "../../src/ops/LakeSnapshot.ts"

describe("the peak RSS line of sluice run", () => {
  it("is read back by the bench as run prints it, with and without a snapshot process", () => {
    expect(parsePeakRss(`2 windows\n${formatPeakRss(412.4, 268.6)}\n`)).toEqual({ serviceMB: 412, snapshotMB: 269 })
    expect(parsePeakRss(formatPeakRss(385.2, 0))).toEqual({ serviceMB: 385, snapshotMB: 0 })
    expect(parsePeakRss("a build that does not say")).toBeUndefined()
  })
})
