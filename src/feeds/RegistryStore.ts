/**
 * Where the feed registry's files live, and the only code that touches them: entries under
 * `<lake>/_feeds/active|archived/<name>.json`, and a feed's lake folders when it is purged. One
 * small interface, so that a lake behind an object store needs one more implementation, not a rewrite.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect, Option } from "effect"
import { LakeIOError, mkdirs, putIfAbsent, readOptional, removeFile, replaceFile } from "../sinks/lake/LocalStore.ts"

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

/** The registry's folder of a lake. */
export const registryRoot = (lakeDir: string): string => path.join(lakeDir, "_feeds")

const ENTRY = /^([a-z][a-z0-9_]*)\.json$/

/** The registry of a lake in a local (or shared POSIX) folder, written as the lake is: temporary file, fsync, rename. */
export const localRegistryStore = (lakeDir: string): RegistryStore => {
  const root = registryRoot(lakeDir)
  const fileOf = (folder: RegistryFolder, name: string) => path.join(root, folder, `${name}.json`)
  const inLake = (relative: string) => {
    const target = path.resolve(lakeDir, relative)
    // A feed's folder is always below the lake: anything else is a defect, never a deletion.
    if (!target.startsWith(path.resolve(lakeDir) + path.sep)) throw new Error(`${relative} is not a folder of the lake ${lakeDir}`)
    return target
  }
  return {
    location: root,
    list: (folder) =>
      Effect.tryPromise({
        try: async () => {
          const names = await fs.readdir(path.join(root, folder)).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? [] : Promise.reject(e)))
          return names.flatMap((n) => {
            const m = ENTRY.exec(n)
            return m === null ? [] : [m[1]!]
          }).sort()
        },
        catch: (cause) => new LakeIOError({ op: "list", path: path.join(root, folder), cause })
      }),
    read: (folder, name) => readOptional(fileOf(folder, name)).pipe(Effect.map(Option.map((b) => b.toString("utf8")))),
    create: (folder, name, text) => Effect.andThen(mkdirs(path.join(root, folder)), putIfAbsent(fileOf(folder, name), text)),
    replace: (folder, name, text) => Effect.andThen(mkdirs(path.join(root, folder)), replaceFile(fileOf(folder, name), text)),
    remove: (folder, name) => removeFile(fileOf(folder, name)),
    lakeFolderExists: (relative) =>
      Effect.tryPromise({
        try: () => fs.stat(inLake(relative)).then((s) => s.isDirectory(), (e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? false : Promise.reject(e))),
        catch: (cause) => new LakeIOError({ op: "stat", path: path.join(lakeDir, relative), cause })
      }),
    removeLakeFolder: (relative) =>
      Effect.tryPromise({
        try: () => fs.rm(inLake(relative), { recursive: true, force: true }),
        catch: (cause) => new LakeIOError({ op: "remove", path: path.join(lakeDir, relative), cause })
      })
  }
}
