/**
 * `sluice metadata report`: per feed of the lake, what its Delta log says it holds at its latest
 * version (rows, files, bytes, date partitions, first and last event time from the files'
 * statistics, last commit, committed offsets), as a table, JSON or CSV. Read from the logs, never
 * from a walk of the data folders, so it is exact while the service writes.
 */
import { Effect } from "effect"
import { type FeedEntry, feedFolder } from "../feeds/FeedEntry.ts"
import type { Add } from "../sinks/lake/DeltaAction.ts"
import { type DeltaLogError, readSnapshot } from "../sinks/lake/DeltaLog.ts"
import type { FeedKind } from "../sinks/lake/Feeds.ts"
import { baseName, type LakeIOError, parentKey, type Store } from "../sinks/lake/store/Store.ts"
import { feedMetadata } from "../sinks/lake/Metadata.ts"
import { SNAPSHOTS_APP_ID } from "../sinks/lake/Snapshot.ts"
import { parseOffsetsAppId } from "../sinks/lake/TxnAppId.ts"
import { lakeTables } from "./Maintenance.ts"
import { formatCount, formatMiB, formatTable } from "./TextTable.ts"

/** The last offset a commit of some feed recorded for one partition of one topic incarnation. */
export interface CommittedOffset {
  /** The feed whose txn it is: the feed itself, or (for a table snapshot) the feed it was computed from. */
  readonly feed: string
  readonly topic: string
  readonly topicId: string
  readonly partition: number
  readonly offset: number
}

export interface FeedReport {
  readonly feed: string
  readonly kind: string
  /** Relative to the lake: `streams/transaction_stream`. */
  readonly folder: string
  readonly path: string
  readonly description: string
  /** The table version read; -1 for a declared feed with no table yet. */
  readonly version: number
  readonly rows: number
  readonly files: number
  readonly bytes: number
  /** Partition folders holding live files (`year=2026/month=11/day=22`, `version=v3`). */
  readonly partitions: number
  readonly partitionFolders: Record<string, { readonly files: number; readonly records: number; readonly bytes: number }>
  /** The column whose statistics give the event times (null when none has any). */
  readonly eventTimeColumn: string | null
  readonly firstEventTime: string | null
  readonly lastEventTime: string | null
  readonly lastCommit: string | null
  /** For a versioned table: its snapshot number. */
  readonly snapshot: number | null
  readonly committedOffsets: ReadonlyArray<CommittedOffset>
}

/** Which timestamp column dates a feed's rows, in order of preference: the event, the declared instant, the Kafka timestamp. */
const eventColumns = (declared: FeedEntry | undefined): Array<string> => [
  "event_time",
  ...(declared?.partitionBy !== undefined && declared.partitionBy !== null && !declared.partitionBy.includes(".") ? [declared.partitionBy] : []),
  "_kafka_timestamp"
]

interface Stats {
  readonly minValues?: Record<string, unknown>
  readonly maxValues?: Record<string, unknown>
}

/** The earliest minimum and latest maximum of a timestamp column over the files' statistics. */
const timeRange = (files: Iterable<Add>, column: string): { first: string; last: string } | undefined => {
  let first: number | undefined
  let last: number | undefined
  for (const add of files) {
    if (!add.stats) continue
    const stats = JSON.parse(add.stats) as Stats
    const min = stats.minValues?.[column]
    const max = stats.maxValues?.[column]
    if (typeof min === "string" && (first === undefined || Date.parse(min) < first)) first = Date.parse(min)
    if (typeof max === "string" && (last === undefined || Date.parse(max) > last)) last = Date.parse(max)
  }
  return first === undefined || last === undefined ? undefined : { first: new Date(first).toISOString(), last: new Date(last).toISOString() }
}

/** Reports every table of the lake, and the declared feeds that have none yet. */
export const metadataReport = (store: Store, declared: ReadonlyArray<FeedEntry>): Effect.Effect<Array<FeedReport>, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const reports: Array<FeedReport> = []
    for (const root of yield* lakeTables(store)) {
      const kind = baseName(parentKey(root))
      const name = baseName(root)
      const folder = `${kind}/${name}`
      const snapshot = yield* readSnapshot(store, root)
      const entry = declared.find((e) => feedFolder(e) === folder)
      const meta = feedMetadata({ name, kind: kind as FeedKind, description: snapshot.metaData?.description ?? entry?.description ?? "" }, store.locate(root), snapshot)
      const schemaColumns = snapshot.metaData === undefined
        ? []
        : (JSON.parse(snapshot.metaData.schemaString) as { fields: Array<{ name: string; type: unknown }> }).fields.filter((f) => f.type === "timestamp").map((f) => f.name)
      let eventTimeColumn: string | null = null
      let range: { first: string; last: string } | undefined
      for (const column of eventColumns(entry).filter((c) => schemaColumns.includes(c))) {
        range = timeRange(snapshot.files.values(), column)
        if (range !== undefined) {
          eventTimeColumn = column
          break
        }
      }
      const committedOffsets: Array<CommittedOffset> = []
      for (const [appId, offset] of snapshot.txns) {
        const parsed = parseOffsetsAppId(appId)
        if (parsed !== undefined) committedOffsets.push({ ...parsed, offset })
      }
      committedOffsets.sort((a, b) => a.topic.localeCompare(b.topic) || a.topicId.localeCompare(b.topicId) || a.partition - b.partition || a.feed.localeCompare(b.feed))
      reports.push({
        feed: name,
        kind,
        folder,
        path: store.locate(root),
        description: meta.description,
        version: meta.version,
        rows: meta.records,
        files: meta.files,
        bytes: meta.bytes,
        partitions: Object.keys(meta.partitions).length,
        partitionFolders: meta.partitions,
        eventTimeColumn,
        firstEventTime: range?.first ?? null,
        lastEventTime: range?.last ?? null,
        lastCommit: meta.lastCommit,
        snapshot: snapshot.txns.get(SNAPSHOTS_APP_ID) ?? null,
        committedOffsets
      })
    }
    for (const entry of declared) {
      if (reports.some((r) => r.folder === feedFolder(entry))) continue
      reports.push({
        feed: entry.name,
        kind: feedFolder(entry).split("/")[0]!,
        folder: feedFolder(entry),
        path: store.locate(feedFolder(entry)),
        description: entry.description,
        version: -1,
        rows: 0,
        files: 0,
        bytes: 0,
        partitions: 0,
        partitionFolders: {},
        eventTimeColumn: null,
        firstEventTime: null,
        lastEventTime: null,
        lastCommit: null,
        snapshot: null,
        committedOffsets: []
      })
    }
    return reports.sort((a, b) => a.folder.localeCompare(b.folder))
  })

/** Committed offsets as one line: `topic 0:1497 1:1501`, the topic id shown when several incarnations appear, the source feed when it is another. */
export const formatOffsets = (report: Pick<FeedReport, "feed" | "committedOffsets">): string => {
  const groups = new Map<string, Array<CommittedOffset>>()
  for (const o of report.committedOffsets) {
    const key = `${o.feed}\u0000${o.topic}\u0000${o.topicId}`
    groups.set(key, [...(groups.get(key) ?? []), o])
  }
  const incarnations = (topic: string) => new Set(report.committedOffsets.filter((o) => o.topic === topic).map((o) => o.topicId)).size
  return [...groups.values()].map((group) => {
    const first = group[0]!
    const via = first.feed === report.feed ? "" : `${first.feed}@`
    const id = incarnations(first.topic) > 1 ? `#${first.topicId.slice(0, 8)}` : ""
    return `${via}${first.topic}${id} ${group.map((o) => `${o.partition}:${o.offset}`).join(" ")}`
  }).join("; ") || "-"
}

/** The report as a fixed-width table. */
export const formatReport = (reports: ReadonlyArray<FeedReport>): string =>
  formatTable(
    ["feed", "rows", "files", "size", "partitions", "first event", "last event", "version", "last commit", "committed offsets (partition:last)"],
    reports.map((r) => [
      r.folder,
      formatCount(r.rows),
      formatCount(r.files),
      formatMiB(r.bytes),
      formatCount(r.partitions),
      r.firstEventTime ?? "-",
      r.lastEventTime ?? "-",
      r.version < 0 ? "-" : r.snapshot === null ? String(r.version) : `${r.version} (snapshot ${r.snapshot})`,
      r.lastCommit ?? "-",
      formatOffsets(r)
    ])
  )

const CSV_HEADER = ["feed", "kind", "path", "description", "version", "snapshot", "rows", "files", "bytes", "partitions", "event_time_column", "first_event_time", "last_event_time", "last_commit", "committed_offsets"]

const csvCell = (v: string | number | null): string => {
  const text = v === null ? "" : String(v)
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** The report as CSV (RFC 4180): one row per feed; offsets as `feed@topic#topicId/partition=offset` separated by spaces. */
export const reportCsv = (reports: ReadonlyArray<FeedReport>): string =>
  [
    CSV_HEADER.join(","),
    ...reports.map((r) =>
      [
        r.feed, r.kind, r.path, r.description, r.version, r.snapshot, r.rows, r.files, r.bytes, r.partitions, r.eventTimeColumn, r.firstEventTime, r.lastEventTime, r.lastCommit,
        r.committedOffsets.map((o) => `${o.feed}@${o.topic}#${o.topicId}/${o.partition}=${o.offset}`).join(" ")
      ].map(csvCell).join(",")
    )
  ].join("\r\n") + "\r\n"
