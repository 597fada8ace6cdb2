/**
 * Reads a V8 `.cpuprofile` (nodes, samples, timeDeltas) and says where the time went: self time by
 * function and by module (project file, npm package, Node internals, GC, WebAssembly), and inclusive time.
 */
import { readFileSync } from "node:fs"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface TimeShare {
  readonly name: string
  readonly module: string
  readonly ms: number
  readonly percent: number
}

export interface ProfileSummary {
  readonly totalMs: number
  /** Time not idle: what the process spent working. */
  readonly busyMs: number
  readonly byModule: ReadonlyArray<TimeShare>
  readonly selfByFunction: ReadonlyArray<TimeShare>
  readonly inclusiveByFunction: ReadonlyArray<TimeShare>
}

/**
 * The module a frame belongs to: `src/…` / `bench/…` for the project's files, the package name for
 * node_modules, `node:<area>` for Node's own JavaScript, and V8's pseudo-frames as they are.
 */
export const moduleOf = (frame: CallFrame, root: string): string => {
  const url = frame.url
  if (url === "") {
    if (frame.functionName.startsWith("(")) return frame.functionName
    return "(native)"
  }
  if (url.startsWith("wasm://")) return "(wasm: parquet-wasm)"
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/").slice(0, url.includes("internal") ? 2 : 1).join("/")}`
  const file = url.replace(/^file:\/\//, "")
  const nm = file.lastIndexOf("/node_modules/")
  if (nm >= 0) {
    const rest = file.slice(nm + "/node_modules/".length).split("/")
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  return file.startsWith(root) ? file.slice(root.length).replace(/^\//, "") : file
}

const label = (frame: CallFrame): string => `${frame.functionName || "(anonymous)"}:${frame.lineNumber + 1}`

/** Summarizes a profile file; `root` is stripped from the project's paths. */
export const summarizeProfile = (file: string, root: string, top = 25): ProfileSummary => {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: it belongs to sample i.
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }

  const totalUs = [...self.values()].reduce((a, b) => a + b, 0)
  const idleUs = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)").reduce((a, [, us]) => a + us, 0)
  const busyUs = totalUs - idleUs

  const moduleTime = new Map<string, number>()
  const functionSelf = new Map<string, { module: string; us: number }>()
  const functionInclusive = new Map<string, { module: string; us: number }>()
  for (const [id, us] of self) {
    const node = byId.get(id)!
    const module = moduleOf(node.callFrame, root)
    if (module === "(idle)") continue
    moduleTime.set(module, (moduleTime.get(module) ?? 0) + us)
    const key = `${label(node.callFrame)} ${module}`
    const entry = functionSelf.get(key) ?? { module, us: 0 }
    entry.us += us
    functionSelf.set(key, entry)
    // Inclusive: every distinct function on the stack, once (recursion counted once).
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame
      if (frame.functionName === "(root)") continue
      const m = moduleOf(frame, root)
      const k = `${label(frame)} ${m}`
      if (seen.has(k)) continue
      seen.add(k)
      const e = functionInclusive.get(k) ?? { module: m, us: 0 }
      e.us += us
      functionInclusive.set(k, e)
    }
  }
  const share = (entries: Iterable<[string, { module: string; us: number }]>): Array<TimeShare> =>
    [...entries]
      .map(([key, { module, us }]) => ({ name: key.slice(0, key.length - module.length - 1), module, ms: us / 1000, percent: (100 * us) / busyUs }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    byModule: [...moduleTime]
      .map(([module, us]) => ({ name: module, module, ms: us / 1000, percent: (100 * us) / busyUs }))
      .sort((a, b) => b.ms - a.ms),
    selfByFunction: share(functionSelf),
    inclusiveByFunction: share(functionInclusive)
  }
}

const row = (s: TimeShare, withModule: boolean): string =>
  `| ${s.name.replaceAll("|", "\\|")}${withModule ? ` | ${s.module}` : ""} | ${Math.round(s.ms).toLocaleString("en-US")} | ${s.percent.toFixed(1)}% |`

/** The summary as Markdown tables. */
export const profileMarkdown = (s: ProfileSummary): string =>
  [
    `Profile: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s not idle (percentages are of the latter).`,
    "",
    "Self time by module:",
    "",
    "| module | ms | % |",
    "| --- | --: | --: |",
    ...s.byModule.filter((m) => m.percent >= 0.3).map((m) => row(m, false)),
    "",
    "Top functions by self time:",
    "",
    "| function:line | module | ms | % |",
    "| --- | --- | --: | --: |",
    ...s.selfByFunction.map((f) => row(f, true)),
    "",
    "Top functions by inclusive time:",
    "",
    "| function:line | module | ms | % |",
    "| --- | --- | --: | --: |",
    ...s.inclusiveByFunction.map((f) => row(f, true)),
    ""
  ].join("\n")
