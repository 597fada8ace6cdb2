/**
 * A topology as a typed value: each source topic, the decoder of its values (the processor that
 * turns bytes into domain records or dead letters), and the sinks its windows are written to.
 */
import type { Sink } from "./Sink.ts"
import type { DecodePolicy, ValueDecoder } from "./Decode.ts"
import type { WindowLimits } from "./Window.ts"

/** One source topic and everything downstream of it. */
export interface TopicFlow<T> {
  readonly topic: string
  readonly decode: ValueDecoder<T>
  readonly sinks: ReadonlyArray<Sink<T>>
}

export interface Topology {
  readonly flows: ReadonlyArray<TopicFlow<any>>
  readonly window: WindowLimits
  readonly decodePolicy: DecodePolicy
}

/** The flow of a topic, or undefined when the topology does not read it. */
export const flowOf = (topology: Topology, topic: string): TopicFlow<any> | undefined =>
  topology.flows.find((f) => f.topic === topic)
