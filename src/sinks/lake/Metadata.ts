/**
 * A feed's `_metadata.json`: records, bytes, files and partitions, last commit and committed
 * offsets, all derived from the Delta log so that it can always be rebuilt.
 */
import type { Effect } from "effect"
import type { DeltaSnapshot } from "./DeltaLog.ts"
import type { FeedKind, LakeFeed } from "./Feeds.ts"
import { baseName, joinKey, type LakeIOError, type Store } from "./store/Store.ts"

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

/**
 * The `_metadata.json` of the table at `root` of `store` rebuilt from its log alone, for commands
 * that change a table they did not create (compaction, retention); `extra` adds fields of its kind.
 */
export const writeTableMetadata = (
  store: Store,
  root: string,
  snapshot: DeltaSnapshot,
  extra: Readonly<Record<string, unknown>> = {}
): Effect.Effect<void, LakeIOError> => {
  const feed = {
    name: snapshot.metaData?.name ?? baseName(root),
    // Tables live at `<kind>/<name>`.
    kind: root.slice(0, root.indexOf("/")) as FeedKind,
    description: snapshot.metaData?.description ?? ""
  }
  return store.put(joinKey(root, "_metadata.json"), JSON.stringify({ ...feedMetadata(feed, store.locate(root), snapshot), ...extra }, null, 2), {
    durable: false
  })
}
