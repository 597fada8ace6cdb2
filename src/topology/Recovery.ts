/**
 * Recovery of a partition before it is read: every sink's committed position, the offset to seek
 * to (the smallest), and the decisions that the offsets some sinks already committed were made with.
 */
import { Data, Effect, Option } from "effect"
import type { DecisionSource, Decisions } from "./Decisions.ts"
import { formatVersion } from "./Decisions.ts"
import type { SourcePartition } from "./Record.ts"
import type { Sink, SinkError } from "./Sink.ts"

/** A commit names a decisions version that no sink kept: a replay could not decide as before. */
export class DecisionsMissing extends Data.TaggedError("DecisionsMissing")<{
  readonly topic: string
  readonly partition: number
  readonly version: number
  readonly sinks: ReadonlyArray<string>
}> {
  override get message(): string {
    return `${this.topic}/${this.partition}: the last commit was decided with decisions ${formatVersion(this.version)}, ` +
      `which none of ${this.sinks.join(", ")} holds; restore the lake's _decisions folder or the warehouse's sluice_decisions table`
  }
}

export interface Recovered<T> {
  /** The offset to read from (undefined: the log's start). */
  readonly start: number | undefined
  /** Offsets up to `end` some sinks committed, with the decisions they used. */
  readonly replay: { readonly end: number; readonly decisions: Decisions<T, any> } | undefined
  /** The partition's state before `start`, as the sinks that stopped there recorded it. */
  readonly state: number | undefined
}

/**
 * Recovers every sink of a partition and finds where to seek and how to decide what is replayed.
 * `decisions` is what is in force now; a replay needs another version only after a crash between
 * two sinks' commits of a window decided under decisions that have changed since.
 */
export const recoverPartition = <T>(
  sinks: ReadonlyArray<Sink<T>>,
  source: DecisionSource<T, any>,
  current: Decisions<T, any>,
  sp: SourcePartition
): Effect.Effect<Recovered<T>, SinkError | DecisionsMissing> =>
  Effect.gen(function*() {
    const positions = yield* Effect.forEach(sinks, (sink) => sink.recover(sp))
    const nexts = positions.map((p) => p.next)
    const start = nexts.some((n) => n === undefined) ? undefined : Math.min(...(nexts as Array<number>))
    const state = positions.find((p) => p.next !== undefined && p.next === start && p.state !== undefined)?.state
    let furthest: { next: number; decisions: number | undefined } | undefined
    for (const p of positions) if (p.furthest !== undefined && (furthest === undefined || p.furthest.next > furthest.next)) furthest = p.furthest
    if (furthest === undefined || (start !== undefined && furthest.next <= start)) return { start, replay: undefined, state }
    const end = furthest.next - 1
    if (furthest.decisions === undefined || furthest.decisions === current.version) return { start, replay: { end, decisions: current }, state }
    const version = furthest.decisions
    for (const sink of sinks) {
      const content = yield* sink.loadDecisions(version)
      if (Option.isSome(content)) {
        yield* Effect.logInfo(`${sp.topic}/${sp.partition}: offsets up to ${end} are replayed with decisions ${formatVersion(version)}, as first committed`)
        return { start, replay: { end, decisions: source.restore(content.value) }, state }
      }
    }
    return yield* new DecisionsMissing({ topic: sp.topic, partition: sp.partition, version, sinks: sinks.map((s) => s.name) })
  })
