import { describe, expect, it } from "vitest"
import { barChart, columnChart, escapeHtml } from "../../src/ops/Charts.ts"

const widths = (svg: string) => [...svg.matchAll(/<rect x="\d+" y="\d+" width="(\d+)"/g)].map((m) => Number(m[1]))

describe("charts", () => {
  it("draw bars in proportion to their values, the largest across the plot", () => {
    const svg = barChart("amounts", [{ label: "FR", value: 400 }, { label: "US", value: 100 }, { label: "JP", value: 0 }], { width: 560 })
    const [fr, us, jp] = widths(svg)
    expect(us! / fr!).toBeCloseTo(0.25, 2)
    expect(jp).toBe(1)
    expect(svg).toContain("aria-label=\"amounts\"")
  })

  it("escape labels and texts", () => {
    const svg = barChart("x", [{ label: "<script>alert(1)</script>", value: 1, text: "a & b" }])
    expect(svg).not.toContain("<script>")
    expect(svg).toContain("&lt;script&gt;alert(1)&lt;/script&gt;")
    expect(svg).toContain("a &amp; b")
    expect(escapeHtml("\"'")).toBe("&quot;&#39;")
  })

  it("draw one column per day and label no more than fit", () => {
    const days = Array.from({ length: 30 }, (_, i) => ({ label: `11-${String(i + 1).padStart(2, "0")}`, value: i + 1 }))
    const svg = columnChart("per day", days, { width: 560 })
    expect([...svg.matchAll(/<g class="column">/g)]).toHaveLength(30)
    expect([...svg.matchAll(/<text /g)].length).toBeLessThanOrEqual(7)
  })

  it("draw an empty chart without failing", () => {
    expect(barChart("none", [])).toContain("<svg")
    expect(columnChart("none", [])).toContain("<svg")
  })
})
