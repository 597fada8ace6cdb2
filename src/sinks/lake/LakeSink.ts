/**
 * The lake sink of one topic: a window's rows are appended to columns as they arrive (one row
 * group per input and date, shared by the feeds that read the same values), then each feed's
 * Delta table commits its files with its own `txn`, so a crash between two tables' commits
 * replays only what is missing.
 */
import { Effect } from "effect"
import type { DeadLetter, Decoded } from "../../topology/Record.ts"
import { type Sink, SinkError, SinkFenced, type SinkWindow } from "../../topology/Sink.ts"
import { RowGroup, type Source, sourcesOf } from "./Columns.ts"
import type { LakeFeed } from "./Feeds.ts"
import { datePartition, type DatePartition } from "./HivePartition.ts"
import { type FilePart, type LakeTable, type LakeTableOptions, openLakeTable } from "./LakeTable.ts"

export type LakeSinkOptions = LakeTableOptions

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

export const makeLakeSink = <T>(
  topic: string,
  feeds: ReadonlyArray<LakeFeed<Decoded<T>> | LakeFeed<DeadLetter>>,
  options: LakeSinkOptions
): Effect.Effect<Sink<T> & { readonly tables: ReadonlyArray<LakeTable<any>> }, SinkError> =>
  Effect.gen(function*() {
    const tables = yield* Effect.forEach(feeds, (feed) => openLakeTable<any>(feed, options)).pipe(
      Effect.mapError((e) => new SinkError({ sink: SINK, topic, partition: -1, reason: e.message, cause: e }))
    )
    const recordFeeds = feeds.filter((f) => f.input === "records") as Array<LakeFeed<Decoded<T>>>
    const letterFeeds = feeds.filter((f) => f.input === "deadLetters") as Array<LakeFeed<DeadLetter>>
    const recordSources = sourcesOf(recordFeeds.flatMap((f) => f.columns))
    const letterSources = sourcesOf(letterFeeds.flatMap((f) => f.columns))
    const recordTime = recordFeeds[0]?.partitionTime ?? (() => 0)
    const letterTime = letterFeeds[0]?.partitionTime ?? ((d: DeadLetter) => d.timestamp)
    // Last committed offset per partition, per table (index-aligned with `tables`).
    const committed = new Map<number, Array<number | undefined>>()

    const recover: Sink<T>["recover"] = (_topic, partition) =>
      Effect.gen(function*() {
        const offsets = yield* Effect.forEach(tables, (t) => t.recover(topic, partition))
        committed.set(partition, offsets)
        if (offsets.some((o) => o === undefined)) return undefined
        return Math.min(...(offsets as Array<number>)) + 1
      }).pipe(Effect.mapError((e) => new SinkError({ sink: SINK, topic, partition, reason: e.message, cause: e })))

    const open = (partition: number, from: number) =>
      Effect.gen(function*() {
        const offsets = committed.get(partition)
        if (offsets === undefined) {
          return yield* new SinkError({ sink: SINK, topic, partition, reason: "window opened before recover" })
        }
        // Rows every table already holds are not even collected. While the previous window's commit
        // is in flight the offsets lag behind `from`, which only lowers this floor.
        const floor = Math.min(...offsets.map((o) => (o === undefined ? from : Math.max(from, o + 1))))
        const records = new ByDate<Decoded<T>>(recordSources, recordTime, (r) => r.offset)
        const letters = new ByDate<DeadLetter>(letterSources, letterTime, (d) => d.offset)

        const commit = (to: number) =>
          Effect.gen(function*() {
            for (let i = 0; i < tables.length; i++) {
              const table = tables[i]!
              // Read now: the windows before this one have committed by the time it commits.
              const last = offsets[i]
              if (last !== undefined && from > last + 1) {
                return yield* new SinkError({
                  sink: SINK,
                  topic,
                  partition,
                  reason: `${table.feed.name}: offsets ${last + 1}..${from - 1} were never written (window starts at ${from})`
                })
              }
              const start = last === undefined ? from : Math.max(from, last + 1)
              if (to < start) continue
              const parts = table.feed.input === "records" ? records.parts(table.feed, start) : letters.parts(table.feed as LakeFeed<DeadLetter>, start)
              yield* table.write({ topic, partition, from: start, to, expected: last, parts }).pipe(
                Effect.catchTag("Fenced", (e) => Effect.fail(new SinkFenced({ sink: SINK, topic, partition, detail: e.message }))),
                Effect.mapError((e) =>
                  e._tag === "SinkFenced" ? e : new SinkError({ sink: SINK, topic, partition, reason: e.message, cause: e })
                )
              )
              offsets[i] = to
            }
          })

        const window: SinkWindow<T> = {
          add: (record) => {
            if (record.offset >= floor) records.add(record)
          },
          addDeadLetter: (letter) => {
            if (letter.offset >= floor) letters.add(letter)
          },
          commit
        }
        return window
      })

    return { name: SINK, recover, open, tables }
  })
