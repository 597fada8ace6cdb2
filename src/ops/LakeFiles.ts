/**
 * The lake's objects as files DuckDB can open: a local lake's own files, in place; an object
 * store's objects copied into a temporary folder that lasts as long as the scope (DuckDB's httpfs
 * extension is not bundled with @duckdb/node-api and cannot be installed offline).
 */
import * as fs from "node:fs/promises"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Option, type Scope } from "effect"
import { LakeIOError, type Store } from "../sinks/lake/store/Store.ts"

/** Local files of the lake's objects, fetched once each. */
export interface LakeFiles {
  /** True for a local lake, whose files are read where they are (fetching costs nothing). */
  readonly inPlace: boolean
  /** The files of these keys, in order; an object that no longer exists is an error naming it. */
  readonly paths: (keys: ReadonlyArray<string>) => Effect.Effect<Array<string>, LakeIOError>
}

const DOWNLOADS = 8

/** Files of `store`'s objects for the duration of the scope. */
export const lakeFiles = (store: Store): Effect.Effect<LakeFiles, LakeIOError, Scope.Scope> =>
  Effect.gen(function*() {
    if (store.localPath("") !== undefined) {
      return { inPlace: true, paths: (keys) => Effect.succeed(keys.map((key) => store.localPath(key)!)) }
    }
    const folder = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => fs.mkdtemp(path.join(tmpdir(), "sluice-lake-")),
        catch: (cause) => new LakeIOError({ op: "mkdtemp", path: tmpdir(), cause, transient: false })
      }),
      (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
    )
    // The key's own path below the folder keeps the hive partitions in it, for engines that read them.
    const fetched = new Map<string, string>()
    const fetch = (key: string) =>
      Effect.gen(function*() {
        const known = fetched.get(key)
        if (known !== undefined) return known
        const bytes = yield* store.get(key)
        if (Option.isNone(bytes)) {
          return yield* new LakeIOError({ op: "read", path: store.locate(key), cause: new Error("the object does not exist (deleted meanwhile?)"), transient: false })
        }
        const file = path.join(folder, ...key.split("/"))
        yield* Effect.tryPromise({
          try: async () => {
            await fs.mkdir(path.dirname(file), { recursive: true })
            await fs.writeFile(file, bytes.value)
          },
          catch: (cause) => new LakeIOError({ op: "write", path: file, cause, transient: false })
        })
        fetched.set(key, file)
        return file
      })
    return { inPlace: false, paths: (keys) => Effect.forEach(keys, fetch, { concurrency: DOWNLOADS }) }
  })
