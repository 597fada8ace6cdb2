/**
 * Processors: the nodes of a topology between a source and its sinks, Kafka Streams style. A node
 * turns each decoded record of its source into a value, or into nothing (filtered out); nodes
 * chain (map, filter, a join against the decisions' state) and are evaluated per record, in the
 * window's decisions, so a replay derives the same values.
 */
import type { Decisions } from "./Decisions.ts"
import type { Decoded } from "./Record.ts"

export type ProcessorKind = "source" | "map" | "filter" | "join"

/** A node: the values a source's records become. */
export interface Processor<T, A> {
  readonly name: string
  readonly kind: ProcessorKind
  /** One line for `sluice topology`. */
  readonly description: string
  readonly parent: Processor<T, unknown> | undefined
  /** This node's value for a decoded record, or undefined when the record does not reach it. */
  readonly evaluate: (record: Decoded<T>, decisions: Decisions<T, any>) => A | undefined
}

/** The decoded records of a source, as they are. */
export const records = <T>(topic: string): Processor<T, T> => ({
  name: topic,
  kind: "source",
  description: `the decoded records of ${topic}`,
  parent: undefined,
  evaluate: (record) => record.value
})

/** Each value of `parent` turned into another. */
export const map = <T, A, B>(
  parent: Processor<T, A>,
  name: string,
  description: string,
  f: (a: A, record: Decoded<T>, decisions: Decisions<T, any>) => B
): Processor<T, B> => ({
  name,
  kind: "map",
  description,
  parent: parent as Processor<T, unknown>,
  evaluate: (record, decisions) => {
    const a = parent.evaluate(record, decisions)
    return a === undefined ? undefined : f(a, record, decisions)
  }
})

/** The values of `parent` that `f` keeps, as `f` makes them (undefined: dropped). */
export const filterMap = <T, A, B>(
  parent: Processor<T, A>,
  name: string,
  description: string,
  f: (a: A, record: Decoded<T>, decisions: Decisions<T, any>) => B | undefined,
  kind: "filter" | "join" = "filter"
): Processor<T, B> => ({
  name,
  kind,
  description,
  parent: parent as Processor<T, unknown>,
  evaluate: (record, decisions) => {
    const a = parent.evaluate(record, decisions)
    return a === undefined ? undefined : f(a, record, decisions)
  }
})

/** The chain from the source to `node`, source first. */
export const lineage = (node: Processor<any, any>): Array<Processor<any, any>> => {
  const chain: Array<Processor<any, any>> = []
  for (let n: Processor<any, any> | undefined = node; n !== undefined; n = n.parent) chain.unshift(n)
  return chain
}
