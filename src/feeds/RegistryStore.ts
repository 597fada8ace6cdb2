/**
 * Where the feed registry's files live, and the only code that touches them: entries under
 * `<lake>/_feeds/active|archived/<name>.json`, and a feed's lake folders when it is purged. One
 * small interface, implemented over the lake's store, whether a folder or a bucket.
 */
import { Effect, Option } from "effect"
import { baseName, folderPrefix, joinKey, type LakeIOError, type Store, textOf } from "../sinks/lake/store/Store.ts"

/** The registry's two folders: feeds in service, and feeds kept with their data but stopped. */
export type RegistryFolder = "active" | "archived"

export interface RegistryStore {
  /** Where the registry is, for messages (`<lake>/_feeds`). */
  readonly location: string
  /** The names of the entries in a folder (files `<name>.json`), sorted. */
  readonly list: (folder: RegistryFolder) => Effect.Effect<ReadonlyArray<string>, LakeIOError>
  /** An entry's text, or none when it does not exist. */
  readonly read: (folder: RegistryFolder, name: string) => Effect.Effect<Option.Option<string>, LakeIOError>
  /** Creates an entry only if none of that name exists there; false when one does. */
  readonly create: (folder: RegistryFolder, name: string, text: string) => Effect.Effect<boolean, LakeIOError>
  /** Writes an entry whole, durably, replacing any. */
  readonly replace: (folder: RegistryFolder, name: string, text: string) => Effect.Effect<void, LakeIOError>
  /** Removes an entry; one already gone is no error. */
  readonly remove: (folder: RegistryFolder, name: string) => Effect.Effect<void, LakeIOError>
  /** Whether a folder of the lake (`streams/orders`) holds anything. */
  readonly lakeFolderExists: (relative: string) => Effect.Effect<boolean, LakeIOError>
  /** Deletes a folder of the lake and everything under it (a purged feed's table). */
  readonly removeLakeFolder: (relative: string) => Effect.Effect<void, LakeIOError>
}

/** The registry's prefix in a lake. */
export const REGISTRY_ROOT = "_feeds"

const ENTRY = /^([a-z][a-z0-9_]*)\.json$/

/** Checks that `relative` names a folder inside the lake: anything else is a defect, never a deletion. */
const inLake = (store: Store, relative: string): string => {
  const parts = relative.split("/").filter((p) => p.length > 0)
  if (relative.startsWith("/") || parts.length === 0 || parts.some((p) => p === "." || p === "..")) {
    throw new Error(`${relative} is not a folder of the lake ${store.url}`)
  }
  return folderPrefix(parts.join("/"))
}

/**
 * The registry of a lake, in the lake's own store (a folder or a bucket), written as the lake is:
 * whole, durably, entries created put-if-absent.
 */
export const lakeRegistryStore = (store: Store): RegistryStore => {
  const keyOf = (folder: RegistryFolder, name: string) => joinKey(REGISTRY_ROOT, folder, `${name}.json`)
  return {
    location: store.locate(REGISTRY_ROOT),
    list: (folder) =>
      Effect.map(store.list(`${REGISTRY_ROOT}/${folder}/`), (objects) =>
        objects.flatMap((o) => {
          const m = ENTRY.exec(baseName(o.key))
          return m === null ? [] : [m[1]!]
        }).sort()),
    read: (folder, name) => Effect.map(store.get(keyOf(folder, name)), Option.map(textOf)),
    create: (folder, name, text) => store.putIfAbsent(keyOf(folder, name), text),
    replace: (folder, name, text) => store.put(keyOf(folder, name), text),
    remove: (folder, name) => store.delete(keyOf(folder, name)),
    lakeFolderExists: (relative) =>
      Effect.suspend(() => Effect.map(store.list(inLake(store, relative)), (objects) => objects.length > 0)),
    removeLakeFolder: (relative) =>
      Effect.suspend(() =>
        Effect.flatMap(store.list(inLake(store, relative)), (objects) =>
          Effect.forEach(objects, (o) => store.delete(o.key), { concurrency: 16, discard: true })))
  }
}
