/**
 * Charts as inline SVG drawn on the server: horizontal bars for rankings and shares, columns for
 * series over days. No script and no external file, so a page works offline and prints as it shows.
 */

export interface Bar {
  readonly label: string
  readonly value: number
  /** What is written at the bar's end (the exact amount), default the value. */
  readonly text?: string | undefined
}

/** Escapes text for HTML and SVG content and attributes. */
export const escapeHtml = (s: string): string =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\"", "&quot;").replaceAll("'", "&#39;")

const PALETTE = ["#2f6fae", "#3f9b6b", "#c77c2e", "#8a5aa8", "#c0504d", "#4aa3b5", "#7f7f3f", "#b5487f"]

/** Horizontal bars, one row per item, longest = the largest value; `label` names the chart for screen readers. */
export const barChart = (label: string, bars: ReadonlyArray<Bar>, options: { readonly width?: number } = {}): string => {
  const width = options.width ?? 560
  const row = 22
  const labelWidth = Math.min(200, Math.max(60, ...bars.map((b) => b.label.length * 7 + 8)))
  const textWidth = 110
  const plot = width - labelWidth - textWidth
  const max = Math.max(0, ...bars.map((b) => b.value))
  const height = Math.max(row, bars.length * row) + 4
  const rows = bars.map((b, i) => {
    const y = i * row + 2
    const w = max > 0 ? Math.max(1, Math.round((b.value / max) * plot)) : 1
    return `<g class="bar"><text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end">${escapeHtml(b.label)}</text>` +
      `<rect x="${labelWidth}" y="${y + 3}" width="${w}" height="${row - 6}" rx="2" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeHtml(`${b.label}: ${b.text ?? b.value}`)}</title></rect>` +
      `<text x="${labelWidth + w + 6}" y="${y + 15}">${escapeHtml(b.text ?? String(b.value))}</text></g>`
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeHtml(label)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">${rows.join("")}</svg>`
}

/** Vertical columns over an ordered series (days), labels under every n-th column so that they never overlap. */
export const columnChart = (label: string, bars: ReadonlyArray<Bar>, options: { readonly width?: number; readonly height?: number } = {}): string => {
  const width = options.width ?? 560
  const height = options.height ?? 200
  const bottom = 34
  const top = 16
  const plotHeight = height - bottom - top
  const max = Math.max(0, ...bars.map((b) => b.value))
  const step = bars.length === 0 ? width : width / bars.length
  const every = Math.max(1, Math.ceil(bars.length / Math.floor(width / 80)))
  const columns = bars.map((b, i) => {
    const h = max > 0 ? Math.max(1, Math.round((b.value / max) * plotHeight)) : 1
    const x = Math.round(i * step + step * 0.1)
    const w = Math.max(1, Math.round(step * 0.8))
    const tick = i % every === 0
      ? `<text x="${x + w / 2}" y="${height - bottom + 16}" text-anchor="middle">${escapeHtml(b.label)}</text>`
      : ""
    return `<g class="column"><rect x="${x}" y="${top + plotHeight - h}" width="${w}" height="${h}" fill="${PALETTE[0]}"><title>${escapeHtml(`${b.label}: ${b.text ?? b.value}`)}</title></rect>${tick}</g>`
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeHtml(label)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">` +
    `<line x1="0" y1="${top + plotHeight + 0.5}" x2="${width}" y2="${top + plotHeight + 0.5}" stroke="#999"/>${columns.join("")}</svg>`
}
