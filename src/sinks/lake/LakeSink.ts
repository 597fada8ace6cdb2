/**
 * The lake sink of one topic: a window's rows are appended to columns as they arrive (one row
 * group per input and date, shared by the feeds that read the same values), then each feed's
 * Delta table commits its files with its own `txn`, so a crash between two tables' commits
 * replays only what is missing.
 */
import { Effect, Option } from "effect"
import { formatVersion } from "../../topology/Decisions.ts"
import { isDeadLetter } from "../../topology/Decode.ts"
import { type OutagePolicy, waitOut } from "../../topology/Outage.ts"
import type { Decisions } from "../../topology/Decisions.ts"
import type { Observer } from "../../topology/Observer.ts"
import type { Processor } from "../../topology/Processor.ts"
import type { DeadLetter, Decoded, SourcePartition } from "../../topology/Record.ts"
import { type Sink, SinkError, SinkFenced, type SinkPosition, type SinkTarget, type SinkWindow } from "../../topology/Sink.ts"
import { RowGroup, type Source, sourcesOf } from "./Columns.ts"
import type { LakeFeed } from "./Feeds.ts"
import { datePartition, type DatePartition } from "./HivePartition.ts"
import { type FilePart, type LakeTable, type LakeTableOptions, openLakeTable, type TableCommitted, tableRoot } from "./LakeTable.ts"
import { isTransientIOError, type LakeIOError, textOf } from "./store/Store.ts"

export interface LakeSinkOptions extends LakeTableOptions {
  /** How long a failing store (a full disk, an unreachable or throttling endpoint) is waited for before the service stops. */
  readonly outage: OutagePolicy
  /** Told of each table's commit with its rows (per-feed metrics); nothing by default. */
  readonly observer?: Pick<Observer, "tableCommitted"> | undefined
}

/** Where the decisions snapshots that commits name are kept: `_decisions/<version>.json` in the lake. */
export const decisionsFile = (version: number): string => `_decisions/${formatVersion(version)}.json`

const SINK = "lake"
const DAY_MS = 86_400_000

/** The rows of one input (records or dead letters) for one date, with their offsets in order. */
interface DateGroup<R> {
  readonly date: DatePartition
  readonly rows: RowGroup<R>
  offsets: Float64Array
}

/** Groups rows by the UTC day of their partitioning instant, remembering the last day seen. */
class ByDate<R> {
  readonly groups = new Map<number, DateGroup<R>>()
  readonly #sources: ReadonlyArray<Source<R>>
  readonly #time: (row: R) => number
  readonly #offset: (row: R) => number
  #lastDay = Number.NaN
  #last: DateGroup<R> | undefined

  constructor(sources: ReadonlyArray<Source<R>>, time: (row: R) => number, offset: (row: R) => number) {
    this.#sources = sources
    this.#time = time
    this.#offset = offset
  }

  add(row: R): void {
    const day = Math.floor(this.#time(row) / DAY_MS)
    let group = day === this.#lastDay ? this.#last : this.groups.get(day)
    if (group === undefined) {
      group = { date: datePartition(day * DAY_MS), rows: new RowGroup(this.#sources), offsets: new Float64Array(256) }
      this.groups.set(day, group)
    }
    this.#lastDay = day
    this.#last = group
    const i = group.rows.length
    if (i === group.offsets.length) {
      const grown = new Float64Array(i * 2)
      grown.set(group.offsets)
      group.offsets = grown
    }
    group.offsets[i] = this.#offset(row)
    group.rows.add(row)
  }

  /** One file part per date, in date order, of the rows at or after offset `from`. */
  parts(feed: LakeFeed<R>, from: number): Array<FilePart> {
    const parts: Array<FilePart> = []
    for (const day of [...this.groups.keys()].sort((a, b) => a - b)) {
      const group = this.groups.get(day)!
      const start = firstAtOrAfter(group.offsets, group.rows.length, from)
      if (start === group.rows.length) continue
      parts.push({ date: group.date, table: group.rows.table(feed.columns, start), stats: group.rows.stats(feed.columns, start) })
    }
    return parts
  }
}

/** The index of the first offset >= `from` in the first `n` (ascending) offsets. */
const firstAtOrAfter = (offsets: Float64Array, n: number, from: number): number => {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (offsets[mid]! < from) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The feeds that read one input, and how a record becomes their row. */
interface Input<T> {
  readonly feeds: ReadonlyArray<LakeFeed<any>>
  readonly sources: ReadonlyArray<Source<any>>
  readonly time: (row: any) => number
  readonly offset: (row: any) => number
  /** The row of a decoded record, or undefined when the record does not reach this input (undefined for dead letters). */
  readonly row: ((record: Decoded<T>, decisions: Decisions<T, any>) => unknown) | undefined
}

/** The feeds by input: each input's row is derived once per record and its columns built once. */
const inputsOf = <T>(feeds: ReadonlyArray<LakeFeed<any>>): Array<Input<T>> => {
  const byKey = new Map<string, Array<LakeFeed<any>>>()
  for (const f of feeds) {
    const key = f.input === "deadLetters" ? "\u0000dead letters" : f.input.name
    byKey.set(key, [...(byKey.get(key) ?? []), f])
  }
  return [...byKey.values()].map((group) => {
    const first = group[0]!
    const input = first.input
    let row: Input<T>["row"]
    if (input === "deadLetters") row = undefined
    else if (input.kind === "source") row = (record) => record
    else {
      const processor = input as Processor<T, unknown>
      row = (record, decisions) => {
        const value = processor.evaluate(record, decisions)
        return value === undefined ? undefined : { value, partition: record.partition, offset: record.offset, timestamp: record.timestamp }
      }
    }
    return { feeds: group, sources: sourcesOf(group.flatMap((f) => f.columns)), time: first.partitionTime, offset: first.offsetOf, row }
  })
}

/** How one feed takes its rows from a partition's records and dead letters, as a window takes them. */
export interface FeedRows<T> {
  /** The feed's row of a decoded record or a dead letter; undefined when the feed takes none from it. */
  readonly rowOf: (item: Decoded<T> | DeadLetter, decisions: Decisions<T, any>) => unknown
  /** Rows of one partition, in ascending offsets, as file parts: one per date. */
  readonly parts: (rows: Iterable<unknown>) => Array<FilePart>
}

/** The rows of one feed outside a window (a backfill of offsets it lacks), built as a window builds them. */
export const feedRows = <T>(feed: LakeFeed<any>): FeedRows<T> => {
  const input = inputsOf<T>([feed])[0]!
  return {
    rowOf: (item, decisions) =>
      isDeadLetter(item) ? (input.row === undefined ? item : undefined) : input.row === undefined ? undefined : input.row(item, decisions),
    parts: (rows) => {
      const byDate = new ByDate<any>(input.sources, input.time, input.offset)
      for (const row of rows) byDate.add(row)
      return byDate.parts(feed, Number.NEGATIVE_INFINITY)
    }
  }
}

/** What a lake sink of these feeds writes, and where (`locate` names a key of the lake's store). */
export const lakeTargets = (feeds: ReadonlyArray<LakeFeed<any>>, locate: (key: string) => string): Array<SinkTarget> =>
  feeds.map((f) => ({
    name: `${f.kind}/${f.name}`,
    location: locate(tableRoot(f)),
    input: f.input === "deadLetters" ? ("dead letters" as const) : f.input
  }))

export const makeLakeSink = <T>(
  topic: string,
  feeds: ReadonlyArray<LakeFeed<any>>,
  options: LakeSinkOptions
): Effect.Effect<Sink<T> & { readonly tables: ReadonlyArray<LakeTable<any>> }, SinkError> =>
  Effect.gen(function*() {
    const tables = yield* Effect.forEach(feeds, (feed) => openLakeTable<any>(feed, options)).pipe(
      Effect.mapError((e) => new SinkError({ sink: SINK, topic, partition: -1, reason: e.message, cause: e }))
    )
    const inputs = inputsOf<T>(feeds)
    const records = inputs.filter((i) => i.row !== undefined)
    const letters = inputs.find((i) => i.row === undefined)
    // Last committed offset per source partition (`<topic id>/<partition>`), per table (index-aligned with `tables`).
    const committed = new Map<string, Array<number | undefined>>()
    const keyOf = (sp: SourcePartition) => `${sp.topicId}/${sp.partition}`

    const sinkError = (partition: number) => (e: { readonly message: string }) =>
      new SinkError({ sink: SINK, topic, partition, reason: e.message, cause: e })

    /** A lost disk or endpoint is waited out; anything else is an error at once. */
    const patiently = <A, E extends { readonly _tag: string; readonly message: string }>(what: string, effect: Effect.Effect<A, E>) =>
      waitOut(what, effect, (e) => e._tag === "LakeIOError" && isTransientIOError(e as unknown as LakeIOError), options.outage)

    const positionOf = (states: ReadonlyArray<TableCommitted>): SinkPosition => {
      let furthest: SinkPosition["furthest"]
      for (const s of states) {
        if (s.last !== undefined && (furthest === undefined || s.last + 1 > furthest.next)) furthest = { next: s.last + 1, decisions: s.decisions }
      }
      const next = states.some((s) => s.last === undefined) ? undefined : Math.min(...states.map((s) => s.last! + 1))
      return { next, furthest, state: states.find((s) => s.last !== undefined && s.last + 1 === next)?.state }
    }

    const read = (sp: SourcePartition, how: "committed" | "recover") =>
      patiently(`lake: read ${topic}/${sp.partition}`, Effect.forEach(tables, (t) => t[how](sp))).pipe(Effect.mapError(sinkError(sp.partition)))

    const position: Sink<T>["position"] = (sp) => Effect.map(read(sp, "committed"), positionOf)

    const recover: Sink<T>["recover"] = (sp) =>
      Effect.map(read(sp, "recover"), (states) => {
        committed.set(keyOf(sp), states.map((s) => s.last))
        return positionOf(states)
      })

    const open: Sink<T>["open"] = (sp, from, decisions) =>
      Effect.gen(function*() {
        const offsets = committed.get(keyOf(sp))
        if (offsets === undefined) {
          return yield* new SinkError({ sink: SINK, topic, partition: sp.partition, reason: "window opened before recover" })
        }
        // Rows every table already holds are not even collected. While the previous window's commit
        // is in flight the offsets lag behind `from`, which only lowers this floor.
        const floor = Math.min(...offsets.map((o) => (o === undefined ? from : Math.max(from, o + 1))))
        const rowsOf = new Map<LakeFeed<any>, ByDate<any>>()
        const recordRows = records.map((input) => {
          const rows = new ByDate<any>(input.sources, input.time, input.offset)
          for (const f of input.feeds) rowsOf.set(f, rows)
          return { row: input.row!, rows }
        })
        const letterRows = letters === undefined ? undefined : new ByDate<DeadLetter>(letters.sources, letters.time, letters.offset)
        for (const f of letters?.feeds ?? []) rowsOf.set(f, letterRows!)

        const commitTable = (i: number, to: number, state: number | undefined) =>
          Effect.gen(function*() {
            const table = tables[i]!
            // Read now: the windows before this one have committed by the time it commits.
            const last = offsets[i]
            if (last !== undefined && from > last + 1) {
              return yield* new SinkError({
                sink: SINK,
                topic,
                partition: sp.partition,
                reason: `${table.feed.name}: offsets ${last + 1}..${from - 1} were never written (window starts at ${from})`
              })
            }
            const start = last === undefined ? from : Math.max(from, last + 1)
            if (to < start) return
            const parts = rowsOf.get(table.feed)!.parts(table.feed, start)
            let attempts = 0
            const attempt = Effect.suspend(() => {
              attempts++
              return table.write({ sp, from: start, to, expected: last, decisions: decisions.version, state, parts })
            })
            yield* patiently(`lake: commit ${table.feed.name} ${topic}/${sp.partition} ${start}..${to}`, attempt).pipe(
              Effect.catchTag("Fenced", (e) =>
                // After a failed attempt, a log at exactly this window's end means that attempt's
                // commit landed though it reported an error (after its write, before its answer).
                attempts > 1 && e.found === to
                  ? Effect.void
                  : Effect.fail(new SinkFenced({ sink: SINK, topic, partition: sp.partition, detail: e.message }))),
              Effect.mapError((e) => (e._tag === "SinkFenced" ? e : sinkError(sp.partition)(e))),
              Effect.annotateLogs({ feed: table.feed.name })
            )
            offsets[i] = to
            options.observer?.tableCommitted({ topic, partition: sp.partition, sink: SINK, table: table.feed.name, rows: parts.reduce((n, p) => n + p.table.numRows, 0) })
          })

        const window: SinkWindow<T> = {
          add: (record) => {
            if (record.offset < floor) return
            for (const r of recordRows) {
              const row = r.row(record, decisions)
              if (row !== undefined) r.rows.add(row)
            }
          },
          addDeadLetter: (letter) => {
            if (letter.offset >= floor) letterRows?.add(letter)
          },
          // Each table has its own log and txn, and recovery replays any subset of them that
          // committed: their commits run side by side, the window's latency that of the slowest.
          commit: (to, state) => Effect.forEach(tables, (_, i) => commitTable(i, to, state), { discard: true, concurrency: "unbounded" })
        }
        return window
      })

    const saveDecisions: Sink<T>["saveDecisions"] = (version, content) =>
      patiently(`lake: save decisions ${formatVersion(version)}`, options.store.putIfAbsent(decisionsFile(version), content)).pipe(
        Effect.asVoid,
        Effect.mapError(sinkError(-1))
      )

    const loadDecisions: Sink<T>["loadDecisions"] = (version) =>
      patiently(`lake: read decisions ${formatVersion(version)}`, options.store.get(decisionsFile(version))).pipe(
        Effect.map(Option.map(textOf)),
        Effect.mapError(sinkError(-1))
      )

    const targets = lakeTargets(feeds, options.store.locate)

    return { name: SINK, targets, position, recover, open, saveDecisions, loadDecisions, tables }
  })
