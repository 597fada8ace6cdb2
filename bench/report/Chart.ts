/**
 * The SVG chart of a bench result, written by hand: throughput bars per scenario and peer (with the
 * targets) on the left, produce → commit latency percentiles per offered load (with the p99 target) on the right.
 */
import { machineLine, peerLabels, scenarioLabels } from "./Markdown.ts"
import type { BenchResult, PeerEntry, ScenarioResult } from "./Results.ts"

const WIDTH = 1000
const HEIGHT = 440
const FONT = "font-family=\"-apple-system, Segoe UI, Helvetica, Arial, sans-serif\""

const escape = (s: string): string => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\"", "&quot;")

const fmt = (x: number): string => Math.round(x).toLocaleString("en-US")

/** 1k, 10k, 1M: axis labels. */
const short = (x: number): string => (x >= 1e6 ? `${x / 1e6}M` : x >= 1e3 ? `${x / 1e3}k` : String(x))

const text = (x: number, y: number, s: string, attrs = ""): string => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escape(s)}</text>`

/** A "nice" upper bound for an axis (1, 2, 4, 5 or 8 × 10^k), whose quarters are round too. */
const niceMax = (max: number): number => {
  if (!(max > 0)) return 1
  const magnitude = 10 ** Math.floor(Math.log10(max))
  for (const step of [1, 2, 4, 5, 8, 10]) if (step * magnitude >= max) return step * magnitude
  return 10 * magnitude
}

const PEER_COLOR = "#7c3aed"

const colorOf = (key: string): string =>
  key === "ceiling" ? "#6b7280" : key.startsWith("baseline") ? "#f59e0b" : "#2563eb"

/** One bar: a scenario or a peer, measured or why not. */
interface Bar {
  readonly label: string
  readonly color: string
  readonly measured: { readonly msgPerSec: number; readonly messages: number } | undefined
  readonly why: string
}

const barOf = (label: string, color: string, result: ScenarioResult | PeerEntry | undefined): Bar => ({
  label,
  color,
  measured: result !== undefined && "msgPerSec" in result ? result : undefined,
  why: result === undefined ? "not run" : "skipped" in result ? `skipped: ${result.skipped}` : "failed"
})

/** The scenarios, then the peers (none for results written before peers existed). */
const barsOf = (r: BenchResult): Array<Bar> => [
  ...scenarioLabels.map(([key]) => barOf(key, colorOf(key), r.scenarios[key])),
  ...(r.peers === undefined ? [] : peerLabels.map(([key]) => barOf(`${key} (peer)`, PEER_COLOR, r.peers?.[key])))
]

const throughputPanel = (r: BenchResult, x0: number, y0: number, width: number, height: number): Array<string> => {
  const out: Array<string> = []
  const labelWidth = 190
  const plotX = x0 + labelWidth
  const plotWidth = width - labelWidth - 20
  const bars = barsOf(r)
  const rowHeight = (height - 60) / bars.length
  const targets = [
    { value: 100_000, label: "lake target 100k" },
    { value: 50_000, label: "lake + warehouse target 50k" }
  ]
  // Log scale: the ceiling and the INSERT-per-message baseline are three orders of magnitude apart.
  const measured = bars.flatMap((b) => (b.measured === undefined ? [] : [b.measured.msgPerSec]))
  const lo = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...measured, ...targets.map((t) => t.value)))))
  const highest = Math.max(...measured, ...targets.map((t) => t.value)) * 1.05
  const hi = [1, 2, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(highest))).find((v) => v >= highest)!
  const scale = (v: number) => plotX + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotWidth
  out.push(text(x0, y0 + 14, "Throughput, msg/s (log scale; median of runs, first fetch → last commit)", `font-size="14" font-weight="600" ${FONT}`))
  const top = y0 + 40
  const bottom = top + rowHeight * bars.length
  for (let decade = lo; decade <= hi; decade *= 10) {
    for (const m of [1, 2, 5]) {
      const v = decade * m
      if (v > hi) break
      const x = scale(v)
      out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="${m === 1 ? "#d1d5db" : "#f3f4f6"}"/>`)
      if (m === 1) out.push(text(x, bottom + 14, short(v), `font-size="10" text-anchor="middle" fill="#6b7280" ${FONT}`))
    }
  }
  bars.forEach((bar, i) => {
    const y = top + i * rowHeight
    const result = bar.measured
    out.push(text(plotX - 8, y + rowHeight / 2 + 4, bar.label, `font-size="12" text-anchor="end" ${FONT}`))
    if (result !== undefined) {
      const w = Math.max(2, scale(result.msgPerSec) - plotX)
      out.push(`<rect x="${plotX}" y="${(y + 4).toFixed(1)}" width="${w.toFixed(1)}" height="${(rowHeight - 8).toFixed(1)}" fill="${bar.color}" rx="2"/>`)
      const partial = result.messages === r.messages ? "" : ` (first ${fmt(result.messages)})`
      const label = `${fmt(result.msgPerSec)}${partial}`
      const inside = w > 140
      out.push(text(inside ? plotX + w - 6 : plotX + w + 6, y + rowHeight / 2 + 4, label,
        `font-size="11" ${inside ? "text-anchor=\"end\" fill=\"#ffffff\"" : "fill=\"#111827\""} ${FONT}`))
    } else {
      out.push(text(plotX + 6, y + rowHeight / 2 + 4, bar.why, `font-size="11" font-style="italic" fill="#9ca3af" ${FONT}`))
    }
  })
  // Labels on either side of their lines, above the plot: the two targets are close together.
  for (const [i, t] of targets.entries()) {
    const x = scale(t.value)
    out.push(`<line x1="${x}" y1="${top - 12}" x2="${x}" y2="${bottom}" stroke="#dc2626" stroke-dasharray="4 3"/>`)
    out.push(text(i === 0 ? x + 3 : x - 3, top - 4, t.label, `font-size="10" fill="#dc2626" ${i === 0 ? "" : "text-anchor=\"end\""} ${FONT}`))
  }
  return out
}

const latencyPanel = (r: BenchResult, x0: number, y0: number, width: number, height: number): Array<string> => {
  const out: Array<string> = []
  const entries = Object.entries(r.latency)
  const measured = entries.flatMap(([, e]) => ("p99Ms" in e ? [e] : []))
  const target = measured[0]?.targetP99Ms ?? 1_250
  const maxAge = measured[0]?.windowMaxAgeMs ?? 1_000
  out.push(text(x0, y0 + 14, "Produce → commit latency, ms", `font-size="14" font-weight="600" ${FONT}`))
  out.push(text(x0, y0 + 30, `sluice run, lake, window maxAge ${fmt(maxAge)} ms`, `font-size="11" fill="#6b7280" ${FONT}`))
  const top = y0 + 40
  const plotX = x0 + 45
  const plotHeight = height - 100
  const bottom = top + plotHeight
  const plotWidth = width - 60
  const axisMax = niceMax(Math.max(target * 1.15, ...measured.map((e) => e.p99Ms)))
  const scale = (v: number) => bottom - (v / axisMax) * plotHeight
  for (let i = 0; i <= 4; i++) {
    const v = (axisMax / 4) * i
    out.push(`<line x1="${plotX}" y1="${scale(v)}" x2="${plotX + plotWidth}" y2="${scale(v)}" stroke="#e5e7eb"/>`)
    out.push(text(plotX - 6, scale(v) + 4, fmt(v), `font-size="10" text-anchor="end" fill="#6b7280" ${FONT}`))
  }
  const percentiles = [
    { key: "p50Ms", label: "p50", color: "#93c5fd" },
    { key: "p95Ms", label: "p95", color: "#3b82f6" },
    { key: "p99Ms", label: "p99", color: "#1e3a8a" }
  ] as const
  const groupWidth = plotWidth / Math.max(1, entries.length)
  const barWidth = Math.min(40, (groupWidth - 30) / percentiles.length)
  entries.forEach(([rate, e], g) => {
    const gx = plotX + g * groupWidth + (groupWidth - barWidth * percentiles.length) / 2
    out.push(text(plotX + g * groupWidth + groupWidth / 2, bottom + 16, `${fmt(Number(rate))} msg/s`, `font-size="12" text-anchor="middle" ${FONT}`))
    if (!("p99Ms" in e)) {
      out.push(text(plotX + g * groupWidth + groupWidth / 2, bottom - 20, "skipped" in e ? "skipped" : "failed", `font-size="11" text-anchor="middle" fill="#9ca3af" ${FONT}`))
      return
    }
    out.push(text(plotX + g * groupWidth + groupWidth / 2, bottom + 30, e.lagGrew ? "lag grew" : "lag flat", `font-size="10" text-anchor="middle" fill="${e.lagGrew ? "#dc2626" : "#6b7280"}" ${FONT}`))
    percentiles.forEach((p, i) => {
      const v = e[p.key]
      const x = gx + i * barWidth
      out.push(`<rect x="${x.toFixed(1)}" y="${scale(v).toFixed(1)}" width="${(barWidth - 3).toFixed(1)}" height="${(bottom - scale(v)).toFixed(1)}" fill="${p.color}" rx="2"/>`)
      out.push(text(x + (barWidth - 3) / 2, scale(v) - 4, fmt(v), `font-size="10" text-anchor="middle" ${FONT}`))
    })
  })
  const ty = scale(target)
  out.push(`<line x1="${plotX}" y1="${ty}" x2="${plotX + plotWidth}" y2="${ty}" stroke="#dc2626" stroke-dasharray="4 3"/>`)
  percentiles.forEach((p, i) => {
    const lx = plotX + i * 50
    out.push(`<rect x="${lx}" y="${bottom + 42}" width="10" height="10" fill="${p.color}"/>`)
    out.push(text(lx + 14, bottom + 51, p.label, `font-size="11" ${FONT}`))
  })
  const lx = plotX + percentiles.length * 50
  out.push(`<line x1="${lx}" y1="${bottom + 47}" x2="${lx + 16}" y2="${bottom + 47}" stroke="#dc2626" stroke-dasharray="4 3"/>`)
  out.push(text(lx + 20, bottom + 51, `p99 target ${fmt(target)}`, `font-size="11" fill="#dc2626" ${FONT}`))
  return out
}

/** The chart as a standalone SVG document. */
export const toSvg = (r: BenchResult): string =>
  [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    text(20, 26, `Sluice bench — ${r.date}, commit ${r.commit}${r.quick ? " (quick)" : ""}: ${fmt(r.messages)} messages`, `font-size="16" font-weight="700" ${FONT}`),
    ...throughputPanel(r, 20, 44, 600, HEIGHT - 90),
    ...latencyPanel(r, 650, 44, 330, HEIGHT - 90),
    text(20, HEIGHT - 12, machineLine(r), `font-size="10" fill="#6b7280" ${FONT}`),
    "</svg>",
    ""
  ].join("\n")
