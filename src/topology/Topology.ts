/**
 * A topology as a typed value: each source topic, where the decisions of its records come from
 * (the decoder that turns bytes into domain records or dead letters, and its reference data), and
 * the sinks its windows are written to.
 */
import type { DecisionSource } from "./Decisions.ts"
import type { Sink } from "./Sink.ts"
import type { WindowLimits } from "./Window.ts"

/** One source topic and everything downstream of it: its decisions (decoder and reference data), processors and sinks. */
export interface TopicFlow<T, S = unknown> {
  readonly topic: string
  readonly decisions: DecisionSource<T, S>
  /** The sinks, each writing the values of some processors of this source (see `Sink.targets`). */
  readonly sinks: ReadonlyArray<Sink<T>>
}

export interface Topology {
  readonly flows: ReadonlyArray<TopicFlow<any>>
  readonly window: WindowLimits
}

/** The flow of a topic, or undefined when the topology does not read it. */
export const flowOf = (topology: Topology, topic: string): TopicFlow<any> | undefined =>
  topology.flows.find((f) => f.topic === topic)
