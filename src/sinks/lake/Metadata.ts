/**
 * A feed's `_metadata.json`: records, bytes, files and partitions, last commit and committed
 * offsets, all derived from the Delta log so that it can always be rebuilt.
 */
import * as path from "node:path"
import type { Add } from "./DeltaAction.ts"
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

const recordCounts = new WeakMap<Add, number>()

/** The row count of a data file, from its `add` statistics. */
export const recordsOf = (add: Add): number => {
  let n = recordCounts.get(add)
  if (n === undefined) {
    n = add.stats ? ((JSON.parse(add.stats) as { numRecords?: number }).numRecords ?? 0) : 0
    recordCounts.set(add, n)
  }
  return n
}

export const feedMetadata = (
  feed: Pick<LakeFeed<any, any>, "name" | "kind" | "description">,
  root: string,
  snapshot: DeltaSnapshot
): FeedMetadata => {
  let records = 0
  let bytes = 0
  const partitions: Record<string, PartitionSummary> = {}
  for (const add of snapshot.files.values()) {
    const n = recordsOf(add)
    records += n
    bytes += add.size
    const p = (partitions[path.dirname(add.path)] ??= { files: 0, records: 0, bytes: 0 })
    p.files += 1
    p.records += n
    p.bytes += add.size
  }
  return {
    feed: feed.name,
    kind: feed.kind,
    path: root,
    description: feed.description,
    version: snapshot.version,
    lastCommit: snapshot.lastCommitTimestamp === undefined ? null : new Date(snapshot.lastCommitTimestamp).toISOString(),
    files: snapshot.files.size,
    records,
    bytes,
    partitions,
    committedOffsets: Object.fromEntries(snapshot.txns)
  }
}
