/**
 * Human-readable summaries of what the lake holds and of a run: per feed its rows, files and
 * committed offsets, read from the Delta logs.
 */
import { Effect } from "effect"
import { readSnapshot } from "../sinks/lake/DeltaLog.ts"
import type { LakeFeed } from "../sinks/lake/Feeds.ts"
import { tableRoot } from "../sinks/lake/LakeTable.ts"
import { feedMetadata } from "../sinks/lake/Metadata.ts"
import type { Store } from "../sinks/lake/store/Store.ts"
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

const pad = (s: string, n: number) => s.padEnd(n)
const num = (n: number) => n.toLocaleString("en-US")

/** A fixed-width table of feeds. */
export const formatFeeds = (summaries: ReadonlyArray<FeedSummary>): string => {
  const rows = summaries.map((s) => [
    `${s.kind}/${s.feed}`,
    num(s.rows),
    num(s.files),
    `${(s.bytes / 1024 / 1024).toFixed(1)} MiB`,
    String(s.version),
    Object.keys(s.offsets).sort((a, b) => Number(a) - Number(b)).map((p) => `${p}:${s.offsets[p]}`).join(" ") || "-"
  ])
  const header = ["feed", "rows", "files", "size", "version", "committed offsets (partition:last)"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [header, ...rows].map((r) => r.map((c, i) => pad(c, widths[i]!)).join("  ").trimEnd()).join("\n")
}

/** One line on a run's throughput. */
export const formatRun = (summary: RunSummary): string => {
  const seconds = summary.busyMs / 1000
  const total = summary.records + summary.deadLetters
  if (total === 0) return "no new messages: the lake is caught up"
  return `${num(total)} messages (${num(summary.records)} valid, ${num(summary.deadLetters)} dead letters) in ${summary.windows} windows, ${seconds.toFixed(1)} s from first fetch to last commit: ${num(Math.round(total / Math.max(seconds, 0.001)))} msg/s`
}
