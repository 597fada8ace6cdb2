/**
 * Fixed-width text tables for the commands' reports: a header, rows of cells, columns padded to
 * their widest cell, no trailing spaces.
 */

/** The lines of a table; cells are printed as given (a newline in a cell is shown as `\n`). */
export const formatTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const clean = (cell: string) => cell.replaceAll("\r", "\\r").replaceAll("\n", "\\n")
  const all = [header, ...rows].map((r) => r.map(clean))
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? "")].length)))
  return all.map((r) => r.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join("  ").trimEnd()).join("\n")
}

/** A count as people read it: `1,234,567`. */
export const formatCount = (n: number): string => n.toLocaleString("en-US")

/** A size in MiB with one decimal. */
export const formatMiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
