/**
 * The lake sink of one topic: each window goes to every feed's Delta table, each table with
 * its own `txn` offsets, so a crash between two tables' commits replays only what is missing.
 */
import { Effect } from "effect"
import type { Window } from "../../topology/Window.ts"
import { type Sink, SinkError, SinkFenced } from "../Sink.ts"
import type { LakeFeed } from "./Feeds.ts"
import { type LakeTable, type LakeTableOptions, openLakeTable } from "./LakeTable.ts"

export type LakeSinkOptions = LakeTableOptions

const SINK = "lake"

export const makeLakeSink = <T>(
  topic: string,
  feeds: ReadonlyArray<LakeFeed<T, any>>,
  options: LakeSinkOptions
): Effect.Effect<Sink<T> & { readonly tables: ReadonlyArray<LakeTable<any>> }, SinkError> =>
  Effect.gen(function*() {
    const tables = yield* Effect.forEach(feeds, (feed) => openLakeTable(feed, options)).pipe(
      Effect.mapError((e) => new SinkError({ sink: SINK, topic, partition: -1, reason: e.message, cause: e }))
    )
    // Last committed offset per partition, per table (index-aligned with `tables`).
    const committed = new Map<number, Array<number | undefined>>()

    const recover: Sink<T>["recover"] = (_topic, partition) =>
      Effect.gen(function*() {
        const offsets = yield* Effect.forEach(tables, (t) => t.recover(topic, partition))
        committed.set(partition, offsets)
        if (offsets.some((o) => o === undefined)) return undefined
        return Math.min(...(offsets as Array<number>)) + 1
      }).pipe(Effect.mapError((e) => new SinkError({ sink: SINK, topic, partition, reason: e.message, cause: e })))

    const write = (window: Window<T>) =>
      Effect.gen(function*() {
        const offsets = committed.get(window.partition)
        if (offsets === undefined) {
          return yield* new SinkError({ sink: SINK, topic, partition: window.partition, reason: "write before recover" })
        }
        for (let i = 0; i < tables.length; i++) {
          const table = tables[i]!
          const last = offsets[i]
          if (last !== undefined && window.from > last + 1) {
            return yield* new SinkError({
              sink: SINK,
              topic,
              partition: window.partition,
              reason: `${table.feed.name}: offsets ${last + 1}..${window.from - 1} were never written (window starts at ${window.from})`
            })
          }
          const from = last === undefined ? window.from : Math.max(window.from, last + 1)
          if (window.to < from) continue
          const all = table.feed.rows(window)
          const rows = from === window.from ? all : all.filter((r) => table.feed.offsetOf(r) >= from)
          yield* table.write({ topic, partition: window.partition, from, to: window.to, expected: last, rows }).pipe(
            Effect.catchTag("Fenced", (e) =>
              Effect.fail(new SinkFenced({ sink: SINK, topic, partition: window.partition, detail: e.message }))),
            Effect.mapError((e) =>
              e._tag === "SinkFenced"
                ? e
                : new SinkError({ sink: SINK, topic, partition: window.partition, reason: e.message, cause: e })
            )
          )
          offsets[i] = window.to
        }
      })

    return { name: SINK, recover, write, tables }
  })
