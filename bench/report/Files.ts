/**
 * Writes a bench result to bench/results/: `<date>-<commit>[-quick|-partial].{json,md,svg}`, and the
 * `latest.*` copies that the README links (only for a complete, non-quick run).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { toSvg } from "./Chart.ts"
import { toMarkdown } from "./Markdown.ts"
import type { BenchResult } from "./Results.ts"

export interface WrittenFiles {
  readonly files: ReadonlyArray<string>
  readonly markdown: string
}

export const writeResults = (dir: string, result: BenchResult, kind: "full" | "quick" | "partial"): WrittenFiles => {
  mkdirSync(dir, { recursive: true })
  const markdown = toMarkdown(result)
  const contents = { json: JSON.stringify(result, null, 2) + "\n", md: markdown, svg: toSvg(result) }
  const stems = [`${result.date}-${result.commit}${kind === "full" ? "" : `-${kind}`}`, ...(kind === "full" ? ["latest"] : [])]
  const files: Array<string> = []
  for (const stem of stems) {
    for (const [ext, content] of Object.entries(contents)) {
      const file = path.join(dir, `${stem}.${ext}`)
      writeFileSync(file, content)
      files.push(file)
    }
  }
  return { files, markdown }
}

/** Rewrites the `.md` and `.svg` beside a results JSON from its figures; returns the files written. */
export const rerender = (jsonFile: string): ReadonlyArray<string> => {
  const result = JSON.parse(readFileSync(jsonFile, "utf8")) as BenchResult
  const stem = jsonFile.replace(/\.json$/, "")
  writeFileSync(`${stem}.md`, toMarkdown(result))
  writeFileSync(`${stem}.svg`, toSvg(result))
  return [`${stem}.md`, `${stem}.svg`]
}
