import { describe, expect, it } from "vitest"
import { WindowState } from "../../src/topology/Window.ts"

const limits = { maxRecords: 3, maxBytes: 100, maxAgeMs: 1_000 }

describe("WindowState", () => {
  it("is empty until an offset enters, and has no deadline then", () => {
    const w = new WindowState(10)
    expect(w.isEmpty).toBe(true)
    expect(w.deadline(limits)).toBe(Number.POSITIVE_INFINITY)
    w.cover(12, 5_000)
    expect(w.isEmpty).toBe(false)
    expect(w.deadline(limits)).toBe(6_000)
    w.cover(15, 5_500)
    expect(w.deadline(limits)).toBe(6_000)
    expect({ from: w.from, to: w.to, openedAt: w.openedAt }).toEqual({ from: 10, to: 15, openedAt: 5_000 })
  })

  it("is full on records or on bytes, whichever comes first", () => {
    const w = new WindowState(0)
    w.count = 2
    expect(w.isFull(limits)).toBe(false)
    w.count = 3
    expect(w.isFull(limits)).toBe(true)
    const b = new WindowState(0)
    b.bytes = 100
    expect(b.isFull(limits)).toBe(true)
  })
})
