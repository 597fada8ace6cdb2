/**
 * A topology as a typed value: each source topic, where the decisions of its records come from
 * (the decoder that turns bytes into domain records or dead letters, and its reference data), and
 * the sinks its windows are written to.
 */
import type { DecisionSource } from "./Decisions.ts"
import type { Decoded } from "./Record.ts"
import type { Sink } from "./Sink.ts"
import type { WindowLimits } from "./Window.ts"

/**
 * A number a flow keeps per partition as its records go by, in offset order (the largest event time
 * seen, for a watermark): each record is decided with the state before it, and every commit records
 * the state after its window, so a replay starts from the state its first offset had.
 */
export interface PartitionState<T> {
  /** Before a partition's first record. */
  readonly initial: number
  /** After a valid record. */
  readonly next: (state: number, record: Decoded<T>) => number
}

/** One source topic and everything downstream of it: its decisions (decoder and reference data), processors and sinks. */
export interface TopicFlow<T, S = unknown> {
  readonly topic: string
  readonly decisions: DecisionSource<T, S>
  /** The sinks, each writing the values of some processors of this source (see `Sink.targets`). */
  readonly sinks: ReadonlyArray<Sink<T>>
  readonly partitionState?: PartitionState<T> | undefined
}

export interface Topology {
  readonly flows: ReadonlyArray<TopicFlow<any>>
  readonly window: WindowLimits
}

/** The flow of a topic, or undefined when the topology does not read it. */
export const flowOf = (topology: Topology, topic: string): TopicFlow<any> | undefined =>
  topology.flows.find((f) => f.topic === topic)
