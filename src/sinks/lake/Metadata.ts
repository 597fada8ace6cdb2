/**
 * A feed's `_metadata.json`: records, bytes, files and partitions, last commit and committed
 * offsets, all derived from the Delta log so that it can always be rebuilt.
 */
import type { DeltaSnapshot } from "./DeltaLog.ts"
import type { LakeFeed } from "./Feeds.ts"

export interface PartitionSummary {
  files: number
  records: number
  bytes: number
}

export interface FeedMetadata {
  readonly feed: string
  readonly kind: string
  readonly path: string
  readonly description: string
  readonly version: number
  readonly lastCommit: string | null
  readonly files: number
  readonly records: number
  readonly bytes: number
  readonly partitions: Record<string, PartitionSummary>
  readonly committedOffsets: Record<string, number>
}

export const feedMetadata = (
  feed: Pick<LakeFeed<any>, "name" | "kind" | "description">,
  root: string,
  snapshot: DeltaSnapshot
): FeedMetadata => ({
  feed: feed.name,
  kind: feed.kind,
  path: root,
  description: feed.description,
  version: snapshot.version,
  lastCommit: snapshot.lastCommitTimestamp === undefined ? null : new Date(snapshot.lastCommitTimestamp).toISOString(),
  files: snapshot.totals.files,
  records: snapshot.totals.records,
  bytes: snapshot.totals.bytes,
  partitions: Object.fromEntries([...snapshot.totals.byFolder].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, { ...v }])),
  committedOffsets: Object.fromEntries(snapshot.txns)
})
