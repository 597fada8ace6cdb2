/**
 * The registry of declared feeds: add, update, enable, disable, archive, restore and delete
 * entries, each checked as it is written and read, in a `RegistryStore`.
 *
 * An entry lives in `active/` or `archived/`. A move writes the entry at its destination, then
 * removes it from its source: a move interrupted between the two leaves the entry in both folders,
 * where the copy updated last is the true one (the next change of that feed removes the other).
 * Adding is put-if-absent, so two adds of one name never both succeed; other changes of one feed
 * made at the same instant by two people are last-writer-wins.
 */
import { Clock, Data, Effect, Option, Result } from "effect"
import { schemaIncompatibility } from "../domain/FeedSchema.ts"
import type { LakeIOError } from "../sinks/lake/store/Store.ts"
import { decodeFeedEntry, encodeFeedEntry, type FeedEntry, feedFolder } from "./FeedEntry.ts"
import type { RegistryFolder, RegistryStore } from "./RegistryStore.ts"

/** A change the registry refuses, or an entry it cannot read: which feed, and why. */
export class FeedRegistryError extends Data.TaggedError("FeedRegistryError")<{
  readonly feed: string
  readonly reason: string
}> {
  override get message(): string {
    return `feed ${this.feed}: ${this.reason}`
  }
}

/** A feed of the registry and where it is. */
export interface RegisteredFeed {
  readonly entry: FeedEntry
  readonly state: RegistryFolder
}

/** An entry file that cannot be read as a feed: its path and why. */
export interface RegistryProblem {
  readonly file: string
  readonly reason: string
}

export interface RegistryListing {
  readonly active: ReadonlyArray<FeedEntry>
  readonly archived: ReadonlyArray<FeedEntry>
  readonly problems: ReadonlyArray<RegistryProblem>
}

/** What `update` may change. */
export interface FeedChange {
  readonly description?: string | undefined
  readonly schema?: FeedEntry["schema"] | undefined
  readonly partitionBy?: string | null | undefined
  readonly topic?: string | undefined
}

export interface FeedRegistry {
  readonly store: RegistryStore
  /** Every entry, by state, and the files that are not entries. */
  readonly list: Effect.Effect<RegistryListing, LakeIOError>
  /** One feed; fails when its entry cannot be read, none when there is no such feed. */
  readonly find: (name: string) => Effect.Effect<Option.Option<RegisteredFeed>, FeedRegistryError | LakeIOError>
  /** Adds an active, enabled feed (the entry as given, its dates set now). */
  readonly add: (entry: Omit<FeedEntry, "enabled" | "schemaVersion" | "createdAt" | "updatedAt" | "archivedAt">) => Effect.Effect<FeedEntry, FeedRegistryError | LakeIOError>
  /** Changes an active feed. A feed whose table holds data keeps its topic and partitioning, and takes only compatible schemas. */
  readonly update: (name: string, change: FeedChange) => Effect.Effect<FeedEntry, FeedRegistryError | LakeIOError>
  readonly setEnabled: (name: string, enabled: boolean) => Effect.Effect<FeedEntry, FeedRegistryError | LakeIOError>
  /** Moves an active feed to `archived/`: not consumed any more, its data kept. */
  readonly archive: (name: string) => Effect.Effect<FeedEntry, FeedRegistryError | LakeIOError>
  /** Moves an archived feed back to `active/`, as it was when archived. */
  readonly restore: (name: string) => Effect.Effect<FeedEntry, FeedRegistryError | LakeIOError>
  /**
   * Removes a feed's entry (an active one must be disabled first: a service may be writing it);
   * with `purge`, also its table and its topic's dead letters. Returns the lake folders deleted.
   */
  readonly remove: (name: string, options: { readonly purge: boolean }) => Effect.Effect<ReadonlyArray<string>, FeedRegistryError | LakeIOError>
}

const nowIso = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

/** The lake folders a feed's data occupies: its table and its topic's dead letters. */
export const feedDataFolders = (entry: FeedEntry): ReadonlyArray<string> => [feedFolder(entry), `_deadletter/${entry.topic}`]

export const makeFeedRegistry = (store: RegistryStore): FeedRegistry => {
  const fileOf = (folder: RegistryFolder, name: string) => `${store.location}/${folder}/${name}.json`

  /** An entry file read and checked; its name must be its file's. */
  const readEntry = (folder: RegistryFolder, name: string): Effect.Effect<Option.Option<Result.Result<FeedEntry, string>>, LakeIOError> =>
    Effect.map(store.read(folder, name), Option.map((text) => {
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch (e) {
        return Result.fail(`not JSON: ${(e as Error).message}`)
      }
      const entry = decodeFeedEntry(json)
      if (Result.isFailure(entry)) return Result.fail(entry.failure.message)
      if (entry.success.name !== name) return Result.fail(`names the feed ${entry.success.name}, but its file is ${name}.json`)
      return Result.succeed(entry.success)
    }))

  /** Of an entry found in both folders (an interrupted move), the copy updated last. */
  const latest = (active: FeedEntry, archived: FeedEntry): RegisteredFeed =>
    archived.updatedAt > active.updatedAt ? { entry: archived, state: "archived" } : { entry: active, state: "active" }

  const find: FeedRegistry["find"] = (name) =>
    Effect.gen(function*() {
      const found: Partial<Record<RegistryFolder, FeedEntry>> = {}
      for (const folder of ["active", "archived"] as const) {
        const read = yield* readEntry(folder, name)
        if (Option.isNone(read)) continue
        if (Result.isFailure(read.value)) return yield* new FeedRegistryError({ feed: name, reason: `${fileOf(folder, name)}: ${read.value.failure}` })
        found[folder] = read.value.success
      }
      if (found.active && found.archived) return Option.some(latest(found.active, found.archived))
      if (found.active) return Option.some({ entry: found.active, state: "active" as const })
      if (found.archived) return Option.some({ entry: found.archived, state: "archived" as const })
      return Option.none()
    })

  const list: FeedRegistry["list"] = Effect.gen(function*() {
    const problems: Array<RegistryProblem> = []
    const read = (folder: RegistryFolder) =>
      Effect.gen(function*() {
        const entries = new Map<string, FeedEntry>()
        for (const name of yield* store.list(folder)) {
          const r = yield* readEntry(folder, name)
          if (Option.isNone(r)) continue
          if (Result.isFailure(r.value)) problems.push({ file: fileOf(folder, name), reason: r.value.failure })
          else entries.set(name, r.value.success)
        }
        return entries
      })
    const active = yield* read("active")
    const archived = yield* read("archived")
    for (const [name, a] of active) {
      const b = archived.get(name)
      if (b === undefined) continue
      if (latest(a, b).state === "active") archived.delete(name)
      else active.delete(name)
    }
    return { active: [...active.values()], archived: [...archived.values()], problems }
  })

  const refuse = (feed: string, reason: string) => Effect.fail(new FeedRegistryError({ feed, reason }))

  /** The feed, which must be in `state`. */
  const expect = (name: string, state: RegistryFolder) =>
    Effect.gen(function*() {
      const found = yield* find(name)
      if (Option.isNone(found)) return yield* refuse(name, `no such feed in ${store.location}`)
      if (found.value.state !== state) {
        return yield* refuse(name, state === "active" ? "it is archived: restore it first (sluice feeds restore)" : "it is not archived")
      }
      return found.value.entry
    })

  /**
   * Another declared feed reading `topic`, active or archived: a topic feeds one declared feed,
   * whose dead letters (`_deadletter/<topic>`) are its own.
   */
  const topicTaken = (topic: string, except: string) =>
    Effect.map(list, (l) => [...l.active, ...l.archived].find((e) => e.topic === topic && e.name !== except))

  /** Why the lake already holds data at a new feed's folders (another feed's, or an earlier one's left by a delete without purge). */
  const occupied = (entry: FeedEntry) =>
    Effect.gen(function*() {
      for (const folder of feedDataFolders(entry)) {
        if (yield* store.lakeFolderExists(folder)) return `the lake already holds ${folder}, which another feed wrote (or an earlier feed left: delete it with --purge)`
      }
      return undefined
    })

  /** Checks an entry as it will be read back, then writes it in `folder` and removes any stale copy from the other. */
  const write = (folder: RegistryFolder, entry: FeedEntry) =>
    Effect.gen(function*() {
      const checked = decodeFeedEntry(JSON.parse(encodeFeedEntry(entry)))
      if (Result.isFailure(checked)) return yield* refuse(entry.name, checked.failure.message)
      yield* store.replace(folder, entry.name, encodeFeedEntry(entry))
      yield* store.remove(folder === "active" ? "archived" : "active", entry.name)
      return entry
    })

  const add: FeedRegistry["add"] = (declared) =>
    Effect.gen(function*() {
      const found = yield* find(declared.name)
      if (Option.isSome(found)) return yield* refuse(declared.name, `already declared (${found.value.state})`)
      const other = yield* topicTaken(declared.topic, declared.name)
      if (other !== undefined) return yield* refuse(declared.name, `topic ${declared.topic} already feeds ${other.name}`)
      const now = yield* nowIso
      const entry: FeedEntry = { ...declared, enabled: true, schemaVersion: 1, createdAt: now, updatedAt: now, archivedAt: null }
      const taken = yield* occupied(entry)
      if (taken !== undefined) return yield* refuse(declared.name, taken)
      const checked = decodeFeedEntry(JSON.parse(encodeFeedEntry(entry)))
      if (Result.isFailure(checked)) return yield* refuse(declared.name, checked.failure.message)
      const created = yield* store.create("active", entry.name, encodeFeedEntry(entry))
      if (!created) return yield* refuse(declared.name, "already declared (just now, by another command)")
      return entry
    })

  const hasData = (entry: FeedEntry) => store.lakeFolderExists(`${feedFolder(entry)}/_delta_log`)

  const update: FeedRegistry["update"] = (name, change) =>
    Effect.gen(function*() {
      const entry = yield* expect(name, "active")
      const written = yield* hasData(entry)
      const topic = change.topic ?? entry.topic
      const partitionBy = change.partitionBy === undefined ? entry.partitionBy : change.partitionBy
      const schema = change.schema ?? entry.schema
      if (written && topic !== entry.topic) return yield* refuse(name, `its table holds data read from ${entry.topic}: declare a new feed for ${topic}`)
      if (written && partitionBy !== entry.partitionBy) return yield* refuse(name, "its table holds data filed by the current partitioning: declare a new feed to file it otherwise")
      if (written && change.schema !== undefined) {
        const problem = schemaIncompatibility(entry.schema, schema)
        if (problem !== undefined) return yield* refuse(name, `its table holds data, and ${problem}`)
      }
      if (topic !== entry.topic) {
        const other = yield* topicTaken(topic, name)
        if (other !== undefined) return yield* refuse(name, `topic ${topic} already feeds ${other.name}`)
        if (yield* store.lakeFolderExists(`_deadletter/${topic}`)) return yield* refuse(name, `the lake already holds _deadletter/${topic}, which another feed wrote`)
      }
      const schemaChanged = JSON.stringify(schema) !== JSON.stringify(entry.schema)
      return yield* write("active", {
        ...entry,
        topic,
        partitionBy,
        schema,
        description: change.description ?? entry.description,
        schemaVersion: entry.schemaVersion + (schemaChanged ? 1 : 0),
        updatedAt: yield* nowIso
      })
    })

  const setEnabled: FeedRegistry["setEnabled"] = (name, enabled) =>
    Effect.gen(function*() {
      const entry = yield* expect(name, "active")
      if (entry.enabled === enabled) return entry
      return yield* write("active", { ...entry, enabled, updatedAt: yield* nowIso })
    })

  const archive: FeedRegistry["archive"] = (name) =>
    Effect.gen(function*() {
      const entry = yield* expect(name, "active")
      const now = yield* nowIso
      return yield* write("archived", { ...entry, archivedAt: now, updatedAt: now })
    })

  const restore: FeedRegistry["restore"] = (name) =>
    Effect.gen(function*() {
      const entry = yield* expect(name, "archived")
      return yield* write("active", { ...entry, archivedAt: null, updatedAt: yield* nowIso })
    })

  const remove: FeedRegistry["remove"] = (name, { purge }) =>
    Effect.gen(function*() {
      const found = yield* find(name)
      if (Option.isNone(found)) return yield* refuse(name, `no such feed in ${store.location}`)
      const { entry, state } = found.value
      if (state === "active" && entry.enabled) return yield* refuse(name, "it is enabled: disable or archive it first (a running service may be writing it)")
      const deleted: Array<string> = []
      if (purge) {
        for (const folder of feedDataFolders(entry)) {
          if (!(yield* store.lakeFolderExists(folder))) continue
          yield* store.removeLakeFolder(folder)
          deleted.push(folder)
        }
      }
      // The entry goes last: a purge that fails half-way leaves the feed declared, to be deleted again.
      yield* store.remove("active", name)
      yield* store.remove("archived", name)
      return deleted
    })

  return { store, list, find, add, update, setEnabled, archive, restore, remove }
}
