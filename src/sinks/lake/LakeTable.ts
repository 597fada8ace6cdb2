/**
 * One feed's Delta table and its commit protocol: a window's rows become one Parquet object per
 * date partition, written whole under a name of its own, then one log commit fenced by `txn`.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { Clock, Effect, Semaphore } from "effect"
import type { SourcePartition } from "../../topology/Record.ts"
import { crashPoint } from "../CrashPoint.ts"
import type { Table } from "apache-arrow"
import { deltaSchemaString, type FileStats } from "./Columns.ts"
import type { Add } from "./DeltaAction.ts"
import { Conflict, type DeltaLogError, type DeltaSnapshot, type DeltaTable, type Fenced, openDeltaTable } from "./DeltaLog.ts"
import type { LakeFeed } from "./Feeds.ts"
import { type DatePartition, dateFolders } from "./HivePartition.ts"
import { feedMetadata } from "./Metadata.ts"
import type { ParquetEncodeError, ParquetEncoder } from "./ParquetEncoder.ts"
import type { Compression } from "./ParquetFile.ts"
import { baseName, folderPrefix, joinKey, type LakeIOError, type Store } from "./store/Store.ts"
import { decisionsAppId, offsetsAppId, stateAppId } from "./TxnAppId.ts"

export interface LakeTableOptions {
  /** Where the lake lives: a local folder or a bucket, the protocol is the same. */
  readonly store: Store
  readonly compression: Compression
  readonly checkpointInterval: number
  readonly encoder: ParquetEncoder
}

/** The rows of one date partition of a window, ready to be written as one file. */
export interface FilePart {
  readonly date: DatePartition
  readonly table: Table
  readonly stats: FileStats
}

export interface LakeTable<R> {
  readonly feed: LakeFeed<R>
  /** The table's key in the store (`streams/<feed>`). */
  readonly root: string
  /**
   * What the table committed for a source partition: the last offset (undefined when none) and
   * the decisions version of that commit. Reads only: files no commit names are left to vacuum,
   * since a writer that lost the partition but does not know it yet may still commit them.
   */
  readonly committed: (sp: SourcePartition) => Effect.Effect<TableCommitted, LakeIOError | DeltaLogError>
  /**
   * `committed`, for the partition's new owner: also notes the partition's files that no commit
   * names. They are removed after this owner's first commit, once no other writer can commit them
   * (its txn check would fail); files that appear later are left to vacuum.
   */
  readonly recover: (sp: SourcePartition) => Effect.Effect<TableCommitted, LakeIOError | DeltaLogError>
  /**
   * Writes one file per part (offsets `from..to` of a partition) and commits them with txn
   * version `to`, provided the log still holds `expected` for this partition.
   */
  readonly write: (args: {
    readonly sp: SourcePartition
    readonly from: number
    readonly to: number
    readonly expected: number | undefined
    readonly decisions: number
    /** The partition's state after `to`, recorded when the flow keeps one. */
    readonly state?: number | undefined
    readonly parts: ReadonlyArray<FilePart>
  }) => Effect.Effect<number, Fenced | LakeIOError | DeltaLogError | ParquetEncodeError>
  /**
   * Writes rows the table lacks among offsets `from..to` of a partition it already committed past
   * (a backfill): one file per part, committed with no txn moved, unless `check` finds a reason
   * against it in the log as it is at the commit (the rows committed meanwhile, say).
   */
  readonly fill: (args: {
    readonly sp: SourcePartition
    readonly from: number
    readonly to: number
    readonly parts: ReadonlyArray<FilePart>
    readonly check: (snapshot: DeltaSnapshot) => string | undefined
  }) => Effect.Effect<number, Conflict | Fenced | LakeIOError | DeltaLogError | ParquetEncodeError>
  readonly snapshot: Effect.Effect<DeltaSnapshot, LakeIOError | DeltaLogError>
}

export interface TableCommitted {
  readonly last: number | undefined
  readonly decisions: number | undefined
  /** The partition's state after `last`, when the flow keeps one. */
  readonly state: number | undefined
}

/** How many of a window's files are written to the store at once. */
const PARALLEL_PUTS = 4

/** The topic incarnation in a file name: the first 12 hex digits of the topic id. */
export const incarnationOf = (topicId: string): string => topicId.replaceAll("-", "").slice(0, 12).toLowerCase()

/**
 * `part-<partition>-<from>-<to>-<n>-<incarnation>-<writer>.parquet`: the offsets it holds, the
 * topic incarnation they come from, and a token of the writer, so that two writers of the same
 * window (a zombie and its successor) never share a file.
 */
export const dataFileName = (sp: SourcePartition, from: number, to: number, n: number, writer: string): string =>
  `part-${sp.partition}-${from}-${to}-${n}-${incarnationOf(sp.topicId)}-${writer}.parquet`

/**
 * `fill-<partition>-<from>-<to>-<n>-<incarnation>-<writer>.parquet`: a backfill's file. Not a
 * `part-` name: a partition's new owner never takes it for a window's file that no commit names.
 */
export const fillFileName = (sp: SourcePartition, from: number, to: number, n: number, writer: string): string =>
  `fill-${sp.partition}-${from}-${to}-${n}-${incarnationOf(sp.topicId)}-${writer}.parquet`

/** What a data file's name (or its temporary name) says of its contents; undefined for other files. */
export const parseDataFileName = (name: string): { partition: number; from: number; to: number; incarnation: string } | undefined => {
  const m = /^\.?part-(\d+)-(\d+)-(\d+)-\d+-([0-9a-z]+)-[0-9a-f]+\.parquet(?:\.[0-9a-f]+\.tmp)?$/.exec(name)
  return m === null ? undefined : { partition: Number(m[1]), from: Number(m[2]), to: Number(m[3]), incarnation: m[4]! }
}

/** The add tag that names the topic incarnation a data file came from. */
export const TOPIC_ID_TAG = "sluice.topicId"

/** The key of a feed's table in the lake's store: `<kind>/<feed>`. */
export const tableRoot = (feed: Pick<LakeFeed<any>, "kind" | "name">): string => `${feed.kind}/${feed.name}`

export const openLakeTable = <R>(
  feed: LakeFeed<R>,
  options: LakeTableOptions
): Effect.Effect<LakeTable<R>, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const store = options.store
    const root = tableRoot(feed)
    const layout = dateFolders[feed.folders ?? "ymd"]
    const table: DeltaTable = yield* openDeltaTable({
      store,
      root,
      checkpointInterval: options.checkpointInterval,
      encoder: options.encoder,
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      metaData: {
        id: randomUUID(),
        name: feed.name,
        description: feed.description,
        format: { provider: "parquet", options: {} },
        schemaString: deltaSchemaString(feed.columns, layout.columns),
        partitionColumns: layout.columns.map((c) => c.name),
        configuration: { "delta.appendOnly": "false" },
        createdTime: yield* Clock.currentTimeMillis
      }
    })

    const committedIn = (snapshot: DeltaSnapshot, sp: SourcePartition): TableCommitted => ({
      last: snapshot.txns.get(offsetsAppId(feed.name, sp)),
      decisions: snapshot.txns.get(decisionsAppId(feed.name, sp)),
      state: snapshot.txns.get(stateAppId(feed.name, sp))
    })
    const committed = (sp: SourcePartition) => Effect.map(table.snapshot, (snapshot) => committedIn(snapshot, sp))

    // Per source partition (`<topic id>/<partition>`): files no commit named when its owner recovered.
    const unnamed = new Map<string, Array<{ readonly file: string; readonly from: number }>>()
    const keyOf = (sp: SourcePartition) => `${sp.topicId}/${sp.partition}`

    const recover = (sp: SourcePartition) =>
      Effect.gen(function*() {
        const snapshot = yield* table.snapshot
        const incarnation = incarnationOf(sp.topicId)
        const found: Array<{ file: string; from: number }> = []
        const prefix = folderPrefix(root)
        for (const object of yield* store.list(prefix)) {
          const file = object.key.slice(prefix.length)
          if (file.startsWith("_delta_log/")) continue
          // Only names this protocol writes: a store's own entries (an upload in flight) never match.
          const parsed = parseDataFileName(baseName(file))
          if (parsed === undefined || parsed.partition !== sp.partition || parsed.incarnation !== incarnation) continue
          if (snapshot.files.has(file) || snapshot.tombstones.has(file)) continue
          found.push({ file: object.key, from: parsed.from })
        }
        unnamed.set(keyOf(sp), found)
        return committedIn(snapshot, sp)
      })

    /** After a commit up to `last`: files of writers that can no longer commit (they expected less) go. */
    const removeUnnamed = (sp: SourcePartition, last: number) =>
      Effect.suspend(() => {
        const found = unnamed.get(keyOf(sp))
        if (found === undefined || found.length === 0) return Effect.void
        unnamed.delete(keyOf(sp))
        const stale = found.filter((f) => f.from <= last)
        return Effect.forEach(stale, (f) =>
          Effect.logInfo(`removing ${store.locate(f.file)}: written by a writer of ${sp.topic}/${sp.partition} that never committed it`).pipe(
            Effect.andThen(store.delete(f.file))
          ), { discard: true })
      })

    /**
     * Writes one file per part, named by `name`, and turns them into `add`s; on failure the files
     * written so far are removed. `written` (relative to the root) is what a failed commit removes.
     */
    const writeParts = (sp: SourcePartition, parts: ReadonlyArray<FilePart>, name: (n: number, writer: string) => string) =>
      Effect.gen(function*() {
        // Relative to the table's root, as the log names them.
        const written: Array<string> = []
        const writer = randomBytes(4).toString("hex")
        // Files of an attempt that never reached the log are this writer's alone: removed on failure.
        const removeWritten = Effect.forEach(written, (f) => store.delete(joinKey(root, f)).pipe(Effect.ignore), { discard: true })
        const adds = yield* Effect.gen(function*() {
          // Encoding runs in a worker: every part is sent off before the first is awaited.
          const encoded = yield* Effect.forEach(parts, (part) => options.encoder.encode(part.table, options.compression), {
            concurrency: "unbounded"
          })
          // The parts go to the store side by side: an object store answers each PUT after a round trip.
          return yield* Effect.forEach(parts, (part, n) =>
            Effect.gen(function*() {
              const bytes = encoded[n]!
              const relative = `${layout.path(part.date)}/${name(n, writer)}`
              // Durable and whole once written (a local store renames a synced temporary file; an
              // object store shows an object only once its PUT completes); no other writer uses this name.
              written.push(relative)
              yield* store.put(joinKey(root, relative), bytes)
              yield* crashPoint("lake:after-data-write")
              const add: Add = {
                path: relative,
                partitionValues: layout.values(part.date),
                size: bytes.length,
                modificationTime: yield* Clock.currentTimeMillis,
                dataChange: true,
                stats: JSON.stringify(part.stats),
                tags: { [TOPIC_ID_TAG]: sp.topicId }
              }
              return add
            }), { concurrency: PARALLEL_PUTS })
        }).pipe(Effect.tapError(() => removeWritten))
        return { adds, written }
      })

    /** After a refused commit: our files are not in the log, nobody else names them. */
    const removeUncommitted = (written: ReadonlyArray<string>) =>
      Effect.flatMap(table.snapshot, (s) =>
        Effect.forEach(written, (f) => (s.files.has(f) ? Effect.void : store.delete(joinKey(root, f))), { discard: true }))

    // One metadata write at a time, skipped when one already wrote the version the log is at: the
    // partitions whose windows one log version carried write it once.
    const metadataLock = yield* Semaphore.make(1)
    let metadataVersion = -1
    const updateMetadata = metadataLock.withPermits(1)(Effect.gen(function*() {
      const snapshot = yield* table.snapshot
      if (snapshot.version <= metadataVersion) return
      yield* store.put(joinKey(root, "_metadata.json"), JSON.stringify(feedMetadata(feed, store.locate(root), snapshot), null, 2), { durable: false })
      metadataVersion = snapshot.version
    }))

    const write: LakeTable<R>["write"] = ({ sp, from, to, expected, decisions, state, parts }) =>
      Effect.gen(function*() {
        const { adds, written } = yield* writeParts(sp, parts, (n, writer) => dataFileName(sp, from, to, n, writer))
        const appId = offsetsAppId(feed.name, sp)
        // From the txn check to the log write, a commit is not interrupted: a revoked partition's
        // commit either lands before the revoke returns or never starts.
        const version = yield* Effect.uninterruptible(
          table.commit({
            txns: [{ appId, expected, version: to }],
            markers: [
              { appId: decisionsAppId(feed.name, sp), version: decisions },
              ...(state === undefined ? [] : [{ appId: stateAppId(feed.name, sp), version: state }])
            ],
            adds,
            operation: "STREAMING UPDATE",
            operationParameters: { outputMode: "Append", queryId: appId, epochId: String(to) },
            // The windows of other partitions that wait for the log go into the same version.
            shared: true
          })
        ).pipe(Effect.tapError((e) => (e._tag === "Fenced" ? removeUncommitted(written) : Effect.void)))
        yield* crashPoint("lake:after-log-commit")
        yield* removeUnnamed(sp, to)
        yield* updateMetadata
        return version
      })

    const fill: LakeTable<R>["fill"] = ({ sp, from, to, parts, check }) =>
      Effect.gen(function*() {
        const { adds, written } = yield* writeParts(sp, parts, (n, writer) => fillFileName(sp, from, to, n, writer))
        // No txn moves: the partition's writer goes on from where it is.
        const version = yield* Effect.uninterruptible(
          table.commit({
            txns: [],
            adds,
            precondition: (snapshot) => {
              const reason = check(snapshot)
              return reason === undefined ? undefined : new Conflict({ table: table.store.locate(table.root), reason })
            },
            operation: "WRITE",
            operationParameters: { mode: "Append", backfill: `${sp.partition}:${from}..${to}` }
          })
        ).pipe(Effect.tapError((e) => (e._tag === "Conflict" ? removeUncommitted(written) : Effect.void)))
        yield* updateMetadata
        return version
      })

    return { feed, root, committed, recover, write, fill, snapshot: table.snapshot }
  })
