/**
 * A topology printed as Kafka Streams' `Topology.describe()` prints one: each source, the
 * processors its records go through (with what each does), and the sinks each processor feeds.
 */
import { lineage, type Processor } from "./Processor.ts"
import type { SinkTarget } from "./Sink.ts"

/** What `describe` needs of a flow: its topic, what decides its records, and its sinks' targets. */
export interface FlowDescription {
  readonly topic: string
  readonly decisions: string
  /** Why a record of this flow becomes a dead letter, when it is more than the decoder's reasons. */
  readonly deadLetterReasons?: string | undefined
  readonly targets: ReadonlyArray<SinkTarget & { readonly sink: string }>
}

/** Derived tables: computed from a feed rather than from records. */
export interface TableDescription {
  readonly name: string
  readonly location: string
  readonly from: string
  readonly schedule: string
}

export const describeTopology = (flows: ReadonlyArray<FlowDescription>, tables: ReadonlyArray<TableDescription> = []): string => {
  const lines: Array<string> = ["Topology"]
  for (const flow of flows) {
    lines.push(`  Source: ${flow.topic} (read_committed, per-partition order, offsets kept by each sink)`)
    lines.push(`    decode: JSON value → record, or dead letter with its reason; decisions ${flow.decisions}`)
    // Every processor some target reads, with its ancestors, each once, in the order first met.
    const processors: Array<Processor<any, any>> = []
    for (const t of flow.targets) {
      if (t.input === "dead letters") continue
      for (const p of lineage(t.input)) if (!processors.some((q) => q.name === p.name)) processors.push(p)
    }
    const children = (p: Processor<any, any> | undefined) => processors.filter((q) => (q.parent?.name ?? undefined) === p?.name && q !== p)
    const sinksOf = (input: Processor<any, any> | "dead letters") =>
      flow.targets.filter((t) => (t.input === "dead letters" ? input === "dead letters" : input !== "dead letters" && t.input.name === input.name))
    const target = (t: SinkTarget & { readonly sink: string }) =>
      `      --> ${t.sink} ${t.name}${t.aggregation ? ` [aggregate ${t.aggregation}]` : ""} (${t.location})`
    for (const p of processors) {
      lines.push(`    Processor: ${p.name} (${p.kind}: ${p.description})`)
      for (const c of children(p)) lines.push(`      --> processor ${c.name}`)
      for (const t of sinksOf(p)) lines.push(target(t))
    }
    const letters = sinksOf("dead letters")
    if (letters.length > 0) {
      lines.push(`    Dead letters (${flow.deadLetterReasons ?? "empty, too large, not UTF-8, not JSON, not the schema"})`)
      for (const t of letters) lines.push(target(t))
    }
  }
  if (tables.length > 0) {
    lines.push("  Tables (versioned snapshots and appended windows)")
    for (const t of tables) lines.push(`    ${t.name} <-- aggregate of ${t.from}, ${t.schedule} (${t.location})`)
  }
  return lines.join("\n")
}
