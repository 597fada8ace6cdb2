/**
 * Human-readable summaries of what the lake holds and of a run: per feed its rows, files and
 * committed offsets, per aggregate table its snapshot and the offsets it reflects, read from the
 * Delta logs.
 */
import { Effect } from "effect"
import { readSnapshot } from "../sinks/lake/DeltaLog.ts"
import type { LakeFeed } from "../sinks/lake/Feeds.ts"
import { tableRoot } from "../sinks/lake/LakeTable.ts"
import { feedMetadata } from "../sinks/lake/Metadata.ts"
import type { Store } from "../sinks/lake/store/Store.ts"
import { SNAPSHOTS_APP_ID } from "../sinks/lake/Snapshot.ts"
import { parseOffsetsAppId } from "../sinks/lake/TxnAppId.ts"
import type { RunSummary } from "../topology/Runtime.ts"

export interface FeedSummary {
  readonly feed: string
  readonly kind: string
  readonly rows: number
  readonly files: number
  readonly bytes: number
  readonly version: number
  /** Last committed offset per partition. */
  readonly offsets: Readonly<Record<string, number>>
}

/** Reads each feed's log and sums its live files; offsets are those of the topic's incarnation `topicId`. */
export const summarizeFeeds = (store: Store, topic: string, topicId: string | undefined, feeds: ReadonlyArray<LakeFeed<any>>) =>
  Effect.forEach(feeds, (feed) =>
    Effect.gen(function*() {
      const root = tableRoot(feed)
      const meta = feedMetadata(feed, store.locate(root), yield* readSnapshot(store, root))
      const offsets: Record<string, number> = {}
      for (const [appId, offset] of Object.entries(meta.committedOffsets)) {
        const parsed = parseOffsetsAppId(appId)
        if (parsed?.feed === feed.name && parsed.topic === topic && parsed.topicId === (topicId ?? "")) offsets[String(parsed.partition)] = offset
      }
      return { feed: feed.name, kind: feed.kind, rows: meta.records, files: meta.files, bytes: meta.bytes, version: meta.version, offsets } satisfies FeedSummary
    }))

export interface TableSummary extends FeedSummary {
  /** The table's latest snapshot number (its `version=vN/` folder), undefined before the first. */
  readonly snapshot: number | undefined
}

/** Reads each versioned table's log: its latest snapshot, and the offsets of `topic`'s incarnation `topicId` it reflects. */
export const summarizeTables = (store: Store, topic: string, topicId: string | undefined, tables: ReadonlyArray<{ readonly name: string; readonly description: string }>) =>
  Effect.forEach(tables, (table) =>
    Effect.gen(function*() {
      const feed = { name: table.name, kind: "tables" as const, description: table.description }
      const root = tableRoot(feed)
      const snapshot = yield* readSnapshot(store, root)
      const meta = feedMetadata(feed, store.locate(root), snapshot)
      const offsets: Record<string, number> = {}
      for (const [appId, offset] of Object.entries(meta.committedOffsets)) {
        const parsed = parseOffsetsAppId(appId)
        if (parsed !== undefined && parsed.topic === topic && parsed.topicId === (topicId ?? "")) offsets[String(parsed.partition)] = offset
      }
      const summary: TableSummary = {
        feed: table.name,
        kind: "tables",
        rows: meta.records,
        files: meta.files,
        bytes: meta.bytes,
        version: meta.version,
        offsets,
        snapshot: snapshot.txns.get(SNAPSHOTS_APP_ID)
      }
      return summary
    }))

const pad = (s: string, n: number) => s.padEnd(n)
const num = (n: number) => n.toLocaleString("en-US")

const offsetsText = (offsets: Readonly<Record<string, number>>) =>
  Object.keys(offsets).sort((a, b) => Number(a) - Number(b)).map((p) => `${p}:${offsets[p]}`).join(" ") || "-"

const fixedWidth = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [header, ...rows].map((r) => r.map((c, i) => pad(c, widths[i]!)).join("  ").trimEnd()).join("\n")
}

/** A fixed-width table of feeds. */
export const formatFeeds = (summaries: ReadonlyArray<FeedSummary>): string =>
  fixedWidth(
    ["feed", "rows", "files", "size", "version", "committed offsets (partition:last)"],
    summaries.map((s) => [`${s.kind}/${s.feed}`, num(s.rows), num(s.files), `${(s.bytes / 1024 / 1024).toFixed(1)} MiB`, String(s.version), offsetsText(s.offsets)])
  )

/** A fixed-width table of versioned tables: the snapshot each reads as, and the source offsets it reflects. */
export const formatTables = (summaries: ReadonlyArray<TableSummary>): string =>
  fixedWidth(
    ["table", "rows", "files", "size", "snapshot", "reflects offsets (partition:last)"],
    summaries.map((s) => [
      `${s.kind}/${s.feed}`,
      num(s.rows),
      num(s.files),
      `${(s.bytes / 1024 / 1024).toFixed(1)} MiB`,
      s.snapshot === undefined ? "-" : `v${s.snapshot}`,
      offsetsText(s.offsets)
    ])
  )

/** One line on a run's throughput. */
export const formatRun = (summary: RunSummary): string => {
  const seconds = summary.busyMs / 1000
  const total = summary.records + summary.deadLetters
  if (total === 0) return "no new messages: the lake is caught up"
  return `${num(total)} messages (${num(summary.records)} valid, ${num(summary.deadLetters)} dead letters) in ${summary.windows} windows, ${seconds.toFixed(1)} s from first fetch to last commit: ${num(Math.round(total / Math.max(seconds, 0.001)))} msg/s`
}
