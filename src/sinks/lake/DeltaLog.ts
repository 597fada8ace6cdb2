/**
 * A Delta Lake table's transaction log: replay (from the latest checkpoint), optimistic commits
 * written put-if-absent, `txn` fencing of writers, and periodic Parquet checkpoints.
 */
import { randomUUID } from "node:crypto"
import { Clock, Data, Deferred, Effect, Option, Semaphore } from "effect"
import {
  checkpointFileName,
  decodeCheckpoint,
  decodeLastCheckpoint,
  encodeLastCheckpoint,
  LAST_CHECKPOINT_FILE,
  type LastCheckpoint,
  lastCheckpointOf
} from "./Checkpoint.ts"
import { type Action, type Add, type CommitInfo, decodeCommit, encodeCommit, type MetaData, type Protocol, type Remove } from "./DeltaAction.ts"
import { inlineEncoder, type ParquetEncoder } from "./ParquetEncoder.ts"
import { cleansAfterCheckpoint, CLEANUP_EVERY_MS, expiredLogFiles, type LogFile, logRetentionOf, tombstoneRetentionOf } from "./LogCleanup.ts"
import { baseName, folderPrefix, joinKey, type LakeIOError, type Store, textOf } from "./store/Store.ts"

/** The log cannot be understood: a commit or checkpoint is malformed, or the table is not ours to read. */
export class DeltaLogError extends Data.TaggedError("DeltaLogError")<{
  readonly table: string
  readonly reason: string
}> {
  override get message(): string {
    return `Delta table ${this.table}: ${this.reason}`
  }
}

/**
 * Another writer committed for this application id since we last looked: the writer is stale and
 * must drop its work and recover from the log.
 */
export class Fenced extends Data.TaggedError("Fenced")<{
  readonly table: string
  readonly appId: string
  readonly expected: number | undefined
  readonly found: number | undefined
}> {
  override get message(): string {
    return `${this.table}: writer for ${this.appId} expected txn version ${this.expected ?? "none"} but the log has ${this.found ?? "none"}`
  }
}

/**
 * A commit's own check found, in the log as it now is, what makes the commit wrong (a backfill's
 * rows committed meanwhile by another writer): nothing was written.
 */
export class Conflict extends Data.TaggedError("Conflict")<{
  readonly table: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.table}: ${this.reason}`
  }
}

/** The state of a table at one version. */
export interface DeltaSnapshot {
  /** -1 when the table does not exist yet. */
  readonly version: number
  readonly protocol: Protocol | undefined
  readonly metaData: MetaData | undefined
  /** Live data files by path. */
  readonly files: ReadonlyMap<string, Add>
  /** Files removed by a commit and not yet vacuumed: still named by the log, so never orphans. */
  readonly tombstones: ReadonlyMap<string, Remove>
  /** Last version committed by each application id. */
  readonly txns: ReadonlyMap<string, number>
  readonly lastCommitTimestamp: number | undefined
  /** Live files, rows and bytes, in all and per partition folder: kept as commits apply. */
  readonly totals: TableTotals
}

export interface FolderTotals {
  files: number
  records: number
  bytes: number
}

export interface TableTotals extends FolderTotals {
  readonly byFolder: Map<string, FolderTotals>
}

/** The row count of a data file, from its `add` statistics. */
export const recordsOf = (add: Add): number =>
  add.stats ? ((JSON.parse(add.stats) as { numRecords?: number }).numRecords ?? 0) : 0

const folderOf = (p: string): string => {
  const slash = p.lastIndexOf("/")
  return slash < 0 ? "" : p.slice(0, slash)
}

const count = (totals: TableTotals, add: Add, sign: 1 | -1): void => {
  const records = recordsOf(add) * sign
  const folder = folderOf(add.path)
  let f = totals.byFolder.get(folder)
  if (f === undefined) {
    f = { files: 0, records: 0, bytes: 0 }
    totals.byFolder.set(folder, f)
  }
  for (const t of [totals, f]) {
    t.files += sign
    t.records += records
    t.bytes += add.size * sign
  }
  if (f.files === 0) totals.byFolder.delete(folder)
}

interface MutableSnapshot {
  version: number
  protocol: Protocol | undefined
  metaData: MetaData | undefined
  files: Map<string, Add>
  tombstones: Map<string, Remove>
  txns: Map<string, number>
  lastCommitTimestamp: number | undefined
  totals: TableTotals
}

const emptySnapshot = (): MutableSnapshot => ({
  version: -1,
  protocol: undefined,
  metaData: undefined,
  files: new Map(),
  tombstones: new Map(),
  txns: new Map(),
  lastCommitTimestamp: undefined,
  totals: { files: 0, records: 0, bytes: 0, byFolder: new Map() }
})

const apply = (snapshot: MutableSnapshot, actions: ReadonlyArray<Action>): void => {
  for (const action of actions) {
    if ("add" in action) {
      const replaced = snapshot.files.get(action.add.path)
      if (replaced) count(snapshot.totals, replaced, -1)
      snapshot.files.set(action.add.path, action.add)
      count(snapshot.totals, action.add, 1)
      snapshot.tombstones.delete(action.add.path)
    } else if ("remove" in action) {
      const removed = snapshot.files.get(action.remove.path)
      if (removed) count(snapshot.totals, removed, -1)
      snapshot.files.delete(action.remove.path)
      snapshot.tombstones.set(action.remove.path, action.remove)
    }
    else if ("txn" in action) snapshot.txns.set(action.txn.appId, action.txn.version)
    else if ("metaData" in action) snapshot.metaData = action.metaData
    else if ("protocol" in action) snapshot.protocol = action.protocol
    else if ("commitInfo" in action) snapshot.lastCommitTimestamp = action.commitInfo.timestamp
  }
}

/** The name of a commit file: the version zero-padded to 20 digits. */
export const commitFileName = (version: number): string => `${String(version).padStart(20, "0")}.json`

/** What one commit writes besides its `commitInfo`. */
export interface CommitRequest<E = never> {
  /** Idempotency markers and the versions the writer expects the log to hold before this commit. */
  readonly txns: ReadonlyArray<{ readonly appId: string; readonly expected: number | undefined; readonly version: number }>
  /** Txns recorded without a check (what the writer wants readers of this commit to know). */
  readonly markers?: ReadonlyArray<{ readonly appId: string; readonly version: number }>
  readonly adds: ReadonlyArray<Add>
  readonly removes?: ReadonlyArray<Remove>
  readonly operation: string
  readonly operationParameters?: Readonly<Record<string, string>>
  /**
   * Checked against the latest state before each attempt, after the txns: an error says the commit
   * no longer applies (a file it removes was removed meanwhile) and is returned as the failure.
   */
  readonly precondition?: (snapshot: DeltaSnapshot) => E | undefined
  /**
   * May share its log version with other shared commits of this writer that wait for it (each
   * still checked on its own, and refused alone): under load, one log write serves several
   * partitions' windows instead of one each.
   */
  readonly shared?: boolean
}

export interface DeltaTableOptions {
  readonly store: Store
  /** Where the table lives in the store: the key prefix of its `_delta_log` (e.g. `streams/t`). */
  readonly root: string
  /** Written in version 0 when this writer creates the table. */
  readonly metaData: MetaData
  readonly protocol: Protocol
  /** A checkpoint every N versions keeps recovery reading a bounded number of files. */
  readonly checkpointInterval: number
  /** Where checkpoints are encoded to Parquet: the lake's worker pool keeps the writer's thread free; inline without it. */
  readonly encoder?: ParquetEncoder
}

export interface DeltaTable {
  readonly store: Store
  readonly root: string
  /** The latest state, after reading any commits other writers made. */
  readonly snapshot: Effect.Effect<DeltaSnapshot, LakeIOError | DeltaLogError>
  /** Commits actions at the next version; fails with `Fenced` when a txn is not what the writer expects, or with the precondition's error. */
  readonly commit: <E = never>(request: CommitRequest<E>) => Effect.Effect<number, E | Fenced | LakeIOError | DeltaLogError>
}

const ENGINE = "sluice/0.1.0"

/** Opens (without creating) the table at `options.root` and replays its log. */
export const openDeltaTable = (options: DeltaTableOptions): Effect.Effect<DeltaTable, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const { store, root } = options
    const logDir = joinKey(root, "_delta_log")
    const tableName = store.locate(root)
    const state = yield* readSnapshot(store, root)
    const lock = yield* Semaphore.make(1)

    const refresh = catchUp(store, root, state)
    // When this writer last cleaned the log: a cleanup lists all of `_delta_log/` (a month of
    // commits by default), too much to pay at every checkpoint of a long run.
    let cleanedAt = Number.NEGATIVE_INFINITY

    const writeCheckpoint = (version: number) =>
      Effect.gen(function*() {
        const actions: Array<Action> = []
        if (state.protocol) actions.push({ protocol: state.protocol })
        if (state.metaData) actions.push({ metaData: state.metaData })
        for (const [appId, v] of state.txns) actions.push({ txn: { appId, version: v } })
        for (const add of state.files.values()) actions.push({ add: { ...add, dataChange: false } })
        // Tombstones older than the table's deleted-file retention leave the state, as in Delta: a
        // long run's compactions would otherwise make every checkpoint (and the writer's memory)
        // carry every file ever removed. Vacuum then judges such a file by its own age.
        const horizon = (yield* Clock.currentTimeMillis) - tombstoneRetentionOf(state.metaData)
        for (const [path, remove] of state.tombstones) {
          if ((remove.deletionTimestamp ?? 0) < horizon) state.tombstones.delete(path)
          else actions.push({ remove: { ...remove, dataChange: false } })
        }
        const bytes = yield* (options.encoder ?? inlineEncoder).encodeCheckpoint(actions).pipe(
          Effect.mapError((e) => new DeltaLogError({ table: tableName, reason: `checkpoint ${version}: ${e.reason}` }))
        )
        yield* store.put(joinKey(logDir, checkpointFileName(version)), bytes)
        // The pointer only moves forward: a writer whose checkpoint of an older version lands late
        // leaves the newer pointer (log cleanup counts on the version it names).
        const pointer = yield* readLastCheckpoint(store, root)
        if (pointer === undefined || pointer.version < version) {
          yield* store.put(joinKey(logDir, LAST_CHECKPOINT_FILE), encodeLastCheckpoint(lastCheckpointOf(version, actions, bytes.length)))
        }
        const retentionMs = logRetentionOf(state.metaData)
        const now = yield* Clock.currentTimeMillis
        const due = retentionMs instanceof Error || now - cleanedAt >= Math.min(retentionMs, CLEANUP_EVERY_MS)
        if (cleansAfterCheckpoint(state.metaData) && due) {
          cleanedAt = now
          // The commit is written: a cleanup that fails is reported and tried again after the next checkpoint.
          yield* (retentionMs instanceof Error
            ? Effect.fail(new DeltaLogError({ table: tableName, reason: retentionMs.message }))
            : cleanupLog(store, root, { retentionMs, dryRun: false })).pipe(
            Effect.catch((e) => Effect.logWarning(`${tableName}: log cleanup after checkpoint ${version} skipped: ${e.message}`))
          )
        }
      })

    /** A commit waiting for the lock, and where its outcome goes. */
    interface Waiting {
      readonly request: CommitRequest<any>
      readonly outcome: Deferred.Deferred<number, any>
    }
    // Shared commits waiting for the lock: whoever takes it next writes all of them as one version.
    const waiting: Array<Waiting> = []

    /** Why `request` cannot commit on the state as it is now, or undefined. */
    const refusalOf = (request: CommitRequest<any>): unknown => {
      for (const t of request.txns) {
        const found = state.txns.get(t.appId)
        if (found !== t.expected) return new Fenced({ table: tableName, appId: t.appId, expected: t.expected, found })
      }
      return request.precondition?.(state)
    }

    /**
     * Writes the requests of `group` as one commit at the next version. Each request is checked on
     * its own against the latest state: a refused one fails alone, the others commit together.
     */
    const commitGroup = (group: ReadonlyArray<Waiting>) =>
      Effect.gen(function*() {
        // Names this commit, so that a write whose answer was lost is recognised as ours.
        const txnId = randomUUID()
        let live = group
        for (;;) {
          yield* refresh
          const accepted: Array<Waiting> = []
          for (const w of live) {
            const refused = refusalOf(w.request)
            if (refused === undefined) accepted.push(w)
            else Deferred.doneUnsafe(w.outcome, Effect.fail(refused))
          }
          live = accepted
          if (live.length === 0) return
          const requests = live.map((w) => w.request)
          const version = state.version + 1
          const now = yield* Clock.currentTimeMillis
          const removes = requests.flatMap((r) => r.removes ?? [])
          const commitInfo: CommitInfo = {
            timestamp: now,
            operation: requests[0]!.operation,
            operationParameters: operationParametersOf(requests),
            isBlindAppend: removes.length === 0,
            engineInfo: ENGINE,
            txnId
          }
          const actions: Array<Action> = [{ commitInfo }]
          if (version === 0) actions.push({ protocol: options.protocol }, { metaData: options.metaData })
          for (const r of requests) {
            for (const t of [...r.txns, ...(r.markers ?? [])]) actions.push({ txn: { appId: t.appId, version: t.version, lastUpdated: now } })
          }
          for (const remove of removes) actions.push({ remove })
          for (const r of requests) for (const add of r.adds) actions.push({ add })
          const file = joinKey(logDir, commitFileName(version))
          const created = yield* store.putIfAbsent(file, encodeCommit(actions))
          // Another writer took this version (read what it wrote, re-check the txns, try the next
          // one), unless the version holds this very commit: a retried write whose first answer was
          // lost finds its own object there.
          if (!created && !(yield* holdsCommit(store, file, txnId))) continue
          apply(state, actions)
          state.version = version
          if (version > 0 && version % options.checkpointInterval === 0) yield* writeCheckpoint(version)
          for (const w of live) Deferred.doneUnsafe(w.outcome, Effect.succeed(version))
          return
        }
      }).pipe(
        // A failed write fails every request it carried: each caller retries or recovers on its own.
        Effect.onExit((exit) =>
          Effect.sync(() => {
            for (const w of group) if (!Deferred.isDoneUnsafe(w.outcome)) Deferred.doneUnsafe(w.outcome, exit._tag === "Failure" ? Effect.failCause(exit.cause) : Effect.die("commit ended without an outcome"))
          })
        )
      )

    /**
     * `mine`, and the shared commits waiting with it that can go into the same version: the same
     * operation, and no application id twice (a second commit of one writer checks against the first).
     */
    const groupOf = (mine: Waiting): Array<Waiting> => {
      if (mine.request.shared !== true) return [mine]
      const group = [mine]
      const appIds = new Set(mine.request.txns.map((t) => t.appId))
      for (let i = 0; i < waiting.length; i++) {
        const w = waiting[i]!
        if (w === mine) {
          waiting.splice(i--, 1)
          continue
        }
        if (w.request.operation !== mine.request.operation || w.request.txns.some((t) => appIds.has(t.appId))) continue
        for (const t of w.request.txns) appIds.add(t.appId)
        group.push(w)
        waiting.splice(i--, 1)
      }
      return group
    }

    const commit = <E = never>(request: CommitRequest<E>) =>
      Effect.gen(function*() {
        const mine: Waiting = { request, outcome: yield* Deferred.make<number, any>() }
        if (request.shared === true) waiting.push(mine)
        yield* lock.withPermits(1)(Effect.suspend(() =>
          // Another commit took this one along while it waited for the lock.
          Deferred.isDoneUnsafe(mine.outcome) ? Effect.void : commitGroup(groupOf(mine))
        )).pipe(Effect.onInterrupt(() =>
          Effect.sync(() => {
            const at = waiting.indexOf(mine)
            if (at >= 0) waiting.splice(at, 1)
          })
        ))
        return yield* (Deferred.await(mine.outcome) as Effect.Effect<number, E | Fenced | LakeIOError | DeltaLogError>)
      })

    return {
      store,
      root,
      snapshot: lock.withPermits(1)(refresh),
      commit
    } satisfies DeltaTable
  })

/**
 * The operation parameters of a commit of `requests`: those of the one request, or, for several,
 * each parameter's distinct values joined by commas (say the queries and epochs it covers).
 */
const operationParametersOf = (requests: ReadonlyArray<CommitRequest<any>>): Record<string, string> => {
  if (requests.length === 1) return { ...requests[0]!.operationParameters }
  const values = new Map<string, Array<string>>()
  for (const r of requests) {
    for (const [k, v] of Object.entries(r.operationParameters ?? {})) {
      const list = values.get(k) ?? []
      if (!list.includes(v)) list.push(v)
      values.set(k, list)
    }
  }
  return Object.fromEntries([...values].map(([k, list]) => [k, list.join(",")]))
}

const parseCommit = (table: string, file: string, text: string): Effect.Effect<Array<Action>, DeltaLogError> =>
  Effect.try({
    try: () => decodeCommit(text, file),
    catch: (e) => new DeltaLogError({ table, reason: (e as Error).message })
  })

/** Whether the commit file `file` is the one whose `commitInfo.txnId` is `txnId`. */
const holdsCommit = (store: Store, file: string, txnId: string): Effect.Effect<boolean, LakeIOError> =>
  Effect.map(store.get(file), (bytes) => {
    if (Option.isNone(bytes)) return false
    try {
      return decodeCommit(textOf(bytes.value), file).some((a) => "commitInfo" in a && a.commitInfo["txnId"] === txnId)
    } catch {
      // Not ours to judge here: the catch-up that follows reports a malformed commit.
      return false
    }
  })


/** The `_last_checkpoint` pointer of the table at `root`, or undefined when there is none. */
export const readLastCheckpoint = (store: Store, root: string): Effect.Effect<LastCheckpoint | undefined, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const pointerFile = joinKey(root, "_delta_log", LAST_CHECKPOINT_FILE)
    const pointer = yield* store.get(pointerFile)
    if (Option.isNone(pointer)) return undefined
    return yield* Effect.try({
      try: () => decodeLastCheckpoint(textOf(pointer.value), store.locate(pointerFile)),
      catch: (e) => new DeltaLogError({ table: store.locate(root), reason: (e as Error).message })
    })
  })

const LOG_FILE = /^(\d{20})\.(json|checkpoint\.parquet|checkpoint\.\d+\.\d+\.parquet|crc)$/

/** The versioned files of a table's `_delta_log/`, by version (a checkpoint after the commit of its version). */
export const listLogFiles = (store: Store, root: string): Effect.Effect<Array<LogFile>, LakeIOError> =>
  Effect.map(store.list(folderPrefix(joinKey(root, "_delta_log"))), (objects) =>
    objects.flatMap((object) => {
      const match = LOG_FILE.exec(baseName(object.key))
      if (match === null) return []
      const kind = match[2] === "json" ? "commit" : match[2] === "checkpoint.parquet" ? "checkpoint" : "other"
      return [{ key: object.key, version: Number(match[1]), kind, lastModified: object.lastModified, size: object.size } as const]
    }).sort((a, b) => a.version - b.version || (a.kind === "commit" ? -1 : b.kind === "commit" ? 1 : 0))
  )

const loadCheckpoint = (store: Store, root: string, version: number, state: MutableSnapshot): Effect.Effect<boolean, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const checkpointFile = joinKey(root, "_delta_log", checkpointFileName(version))
    const bytes = yield* store.get(checkpointFile)
    if (Option.isNone(bytes)) return false
    const actions = yield* Effect.try({
      try: () => decodeCheckpoint(bytes.value),
      catch: (e) => new DeltaLogError({ table: store.locate(root), reason: `${store.locate(checkpointFile)}: ${(e as Error).message}` })
    })
    apply(state, actions)
    state.version = version
    return true
  })

/**
 * One replay: the checkpoint `_last_checkpoint` names or, when there is no pointer or its file is
 * gone, the newest checkpoint a listing of `_delta_log/` finds; then the commits after it by name.
 * Without any checkpoint the log must start at version 0: a log whose first commits were deleted
 * is refused rather than read as a smaller (or new) table.
 */
const replay = (store: Store, root: string, pointer: LastCheckpoint | undefined): Effect.Effect<MutableSnapshot, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const state = emptySnapshot()
    if (pointer === undefined || !(yield* loadCheckpoint(store, root, pointer.version, state))) {
      const files = yield* listLogFiles(store, root)
      const checkpoints = files.filter((f) => f.kind === "checkpoint").map((f) => f.version)
      let loaded = false
      for (const version of checkpoints.reverse()) {
        if (yield* loadCheckpoint(store, root, version, state)) {
          loaded = true
          break
        }
      }
      const first = files.find((f) => f.kind === "commit")
      if (!loaded && first !== undefined && first.version > 0) {
        return yield* new DeltaLogError({
          table: store.locate(root),
          reason: `the log starts at version ${first.version} and holds no checkpoint to start from (commits before it were deleted)`
        })
      }
    }
    return yield* applyCommits(store, root, state)
  })

/**
 * Replays a table's log from its newest checkpoint (see `replay`). Log cleanup may delete commits
 * while they are read; the pointer then names a checkpoint past where the commits stopped, and the
 * replay starts again from it.
 */
export const readSnapshot = (store: Store, root: string): Effect.Effect<MutableSnapshot, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    let pointer = yield* readLastCheckpoint(store, root)
    for (let attempt = 0;; attempt++) {
      const state = yield* replay(store, root, pointer)
      const now = yield* readLastCheckpoint(store, root)
      if (now === undefined || now.version <= state.version) return state
      if (attempt === 2) {
        return yield* new DeltaLogError({
          table: store.locate(root),
          reason: `_last_checkpoint names version ${now.version} but the log read stops at version ${state.version}`
        })
      }
      pointer = now
    }
  })

/** Applies the commits written after `state.version`, in order, until the next one is absent. */
const applyCommits = (store: Store, root: string, state: MutableSnapshot): Effect.Effect<MutableSnapshot, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    for (;;) {
      const file = joinKey(root, "_delta_log", commitFileName(state.version + 1))
      const text = yield* store.get(file)
      if (Option.isNone(text)) return state
      apply(state, yield* parseCommit(store.locate(root), store.locate(file), textOf(text.value)))
      state.version += 1
    }
  })

/**
 * A writer's catch-up: the commits after its state, by name. An absent next commit is the end of
 * the log, unless log cleanup deleted it because the writer lagged behind a later checkpoint: then
 * `_last_checkpoint` names a version past the state, and the writer reloads from the newest
 * checkpoint rather than write a version the table already has.
 */
const catchUp = (store: Store, root: string, state: MutableSnapshot): Effect.Effect<MutableSnapshot, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    yield* applyCommits(store, root, state)
    const pointer = yield* readLastCheckpoint(store, root)
    if (pointer !== undefined && pointer.version > state.version) Object.assign(state, yield* readSnapshot(store, root))
    return state
  })

/** What a log cleanup deleted (or, dry, would delete) from one table's `_delta_log/`. */
export interface LogCleanupReport {
  /** Where the table lives. */
  readonly table: string
  /** The retention applied, in millis. */
  readonly retentionMs: number
  /** The latest checkpoint (which always stays); undefined when the table has none, and nothing went. */
  readonly checkpoint: number | undefined
  readonly deleted: ReadonlyArray<LogFile>
  readonly bytes: number
}

/**
 * Deletes the commits and checkpoints of the table at `root` that its log retention (the table's
 * `delta.logRetentionDuration`, or `retentionMs`) has expired and that a later checkpoint makes
 * unneeded (see `expiredLogFiles`). Without a `_last_checkpoint` nothing goes.
 */
export const cleanupLog = (
  store: Store,
  root: string,
  options: { readonly retentionMs?: number; readonly dryRun: boolean }
): Effect.Effect<LogCleanupReport, LakeIOError | DeltaLogError> =>
  Effect.gen(function*() {
    const table = store.locate(root)
    const pointer = yield* readLastCheckpoint(store, root)
    let retentionMs = options.retentionMs
    if (retentionMs === undefined) {
      const metaData = pointer === undefined ? undefined : (yield* readSnapshot(store, root)).metaData
      const retention = logRetentionOf(metaData)
      if (retention instanceof Error) return yield* new DeltaLogError({ table, reason: retention.message })
      retentionMs = retention
    }
    if (pointer === undefined) return { table, retentionMs, checkpoint: undefined, deleted: [], bytes: 0 }
    const cutoff = (yield* Clock.currentTimeMillis) - retentionMs
    const files = yield* listLogFiles(store, root)
    const deleted = expiredLogFiles(files, pointer.version, cutoff)
    if (!options.dryRun) for (const f of deleted) yield* store.delete(f.key)
    return { table, retentionMs, checkpoint: pointer.version, deleted, bytes: deleted.reduce((n, f) => n + f.size, 0) }
  })

/**
 * A commit that rewrites or drops files no longer applies: one of them left the table since it was
 * planned (another compaction or a retention removed it), so committing would name it twice.
 */
export class FileGone extends Data.TaggedError("FileGone")<{
  readonly table: string
  readonly path: string
}> {
  override get message(): string {
    return `${this.table}: ${this.path} is no longer in the table (another writer removed it)`
  }
}

/** A commit precondition: every one of `paths` is still a live file of the table. */
export const stillLive = (table: string, paths: ReadonlyArray<string>) => (snapshot: DeltaSnapshot): FileGone | undefined => {
  const gone = paths.find((p) => !snapshot.files.has(p))
  return gone === undefined ? undefined : new FileGone({ table, path: gone })
}
