/**
 * Whether a catch-up run (`--until-idle`) is done: every partition of every source topic, ours or
 * another member's, committed by every sink up to its end for a read_committed reader. Partitions
 * that sit with members making no progress are waited for, said so, and fail the run past a deadline.
 */
import { Clock, Data, Effect } from "effect"
import type { SinkError } from "./Sink.ts"
import { type KafkaError, type Source, tpKey } from "./Source.ts"
import type { Topology } from "./Topology.ts"

/** Partitions stayed behind, owned by nobody who makes progress, past the deadline. */
export class PartitionsStalled extends Data.TaggedError("PartitionsStalled")<{
  readonly partitions: ReadonlyArray<string>
  readonly seconds: number
}> {
  override get message(): string {
    return `${this.partitions.join(", ")} made no progress for ${this.seconds} s while assigned to other members (or to nobody); ` +
      `they are not committed up to Kafka's end`
  }
}

interface Behind {
  /** The smallest next offset over the sinks, when it last changed. */
  next: number
  since: number
}

export interface CatchUpCheck {
  /** True when every partition of the source topics is committed up to its end by every sink. */
  readonly done: (assigned: ReadonlySet<string>) => Effect.Effect<boolean, KafkaError | SinkError | PartitionsStalled>
}

/** A checker that remembers, per unassigned partition, how long it has made no progress. */
export const makeCatchUpCheck = (topology: Topology, source: Source, stalledAfterMs: number): CatchUpCheck => {
  const behind = new Map<string, Behind>()
  let lastReport = 0
  const done = (assigned: ReadonlySet<string>) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const lagging: Array<string> = []
      const stalled: Array<string> = []
      let longest = 0
      for (const flow of topology.flows) {
        const topicId = yield* source.topicId(flow.topic)
        if (topicId === undefined) continue
        for (const { partition, start, end } of yield* source.endOffsets(flow.topic)) {
          const key = tpKey({ topic: flow.topic, partition })
          const positions = yield* Effect.forEach(flow.sinks, (sink) => sink.position({ topic: flow.topic, topicId, partition }))
          // A sink that committed nothing has read nothing of a partition that holds data.
          const next = Math.min(...positions.map((p) => p.next ?? (end > start ? -1 : end)))
          if (next >= end) {
            behind.delete(key)
            continue
          }
          if (assigned.has(key)) {
            // Ours: the partition loop is on it.
            behind.delete(key)
            lagging.push(key)
            continue
          }
          const b = behind.get(key)
          if (b === undefined || b.next !== next) behind.set(key, { next, since: now })
          const idleFor = now - (behind.get(key)?.since ?? now)
          lagging.push(key)
          if (idleFor > 0) {
            stalled.push(`${key} (at ${next < 0 ? "nothing" : next} of ${end})`)
            longest = Math.max(longest, idleFor)
          }
        }
      }
      if (stalled.length > 0 && longest >= stalledAfterMs) {
        return yield* new PartitionsStalled({ partitions: stalled, seconds: Math.round(longest / 1000) })
      }
      if (stalled.length > 0 && now - lastReport >= 5_000) {
        lastReport = now
        yield* Effect.logInfo(
          `waiting for ${stalled.join(", ")}: assigned to other members that have made no progress for ${Math.round(longest / 1000)} s ` +
            `(the group reassigns them after its session timeout; giving up after ${Math.round(stalledAfterMs / 1000)} s)`
        )
      }
      return lagging.length === 0
    })
  return { done }
}
