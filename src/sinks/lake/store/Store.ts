/**
 * The lake's storage, as the few primitives its commit protocol needs: put-if-absent, whole-object
 * put, uploads in parts, get and ranged get, listing by prefix, delete. A local folder and an
 * S3-compatible bucket implement it; nothing above this interface asks which one it talks to.
 */
import { randomUUID } from "node:crypto"
import { Data, Effect, type Option } from "effect"

/**
 * A storage call failed; `op` and `path` (the object's URL or file) say which. `transient` says
 * whether the same call may succeed later (a full disk, an unreachable or throttling endpoint, a
 * 5xx) or never will (access denied, a missing bucket, a malformed request).
 *
 * @category errors
 */
export class LakeIOError extends Data.TaggedError("LakeIOError")<{
  readonly op: string
  readonly path: string
  readonly cause: unknown
  readonly transient: boolean
}> {
  override get message(): string {
    return `${this.op} ${this.path}: ${(this.cause as Error)?.message ?? String(this.cause)}`
  }
}

/** Whether retrying the same operation later can succeed (a full disk, an endpoint away). */
export const isTransientIOError = (e: LakeIOError): boolean => e.transient

/**
 * The store cannot give the lake's guarantees: it accepted a second put-if-absent of one key.
 *
 * @category errors
 */
export class StoreUnsupported extends Data.TaggedError("StoreUnsupported")<{
  readonly store: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.store}: ${this.reason}`
  }
}

/** What a store holds: bytes, or UTF-8 text. */
export type Bytes = Uint8Array | string

/** One object of a listing. */
export interface StoreObject {
  /** Relative to the store's root, `/`-separated. */
  readonly key: string
  readonly size: number
  /** Epoch millis of its last write (the file's mtime; S3's LastModified, to the second). */
  readonly lastModified: number
}

/**
 * An object store rooted at one location (a folder, or a bucket and prefix). Keys are relative to
 * that root and `/`-separated; a key's "folders" are only prefixes of it.
 *
 * @category models
 */
export interface Store {
  /** Where the store lives (`file:///…`, `s3://bucket/prefix`), for messages and reports. */
  readonly url: string
  /**
   * Creates `key` with `data` only when no object of that name exists, atomically: of any number
   * of writers racing for a key, exactly one gets true, the others false. The Delta log's commits.
   */
  readonly putIfAbsent: (key: string, data: Bytes) => Effect.Effect<boolean, LakeIOError>
  /**
   * Writes a whole object, replacing any of that name: a reader sees the previous object or this
   * one, never a part. Durable once it returns, unless `durable: false` (files derived again from
   * the log whenever they are lost, such as `_metadata.json`).
   */
  readonly put: (key: string, data: Bytes, options?: { readonly durable?: boolean }) => Effect.Effect<void, LakeIOError>
  /** `put` of an object read from `chunks` as they come, sent in parts when it is large; returns its size. */
  readonly upload: (key: string, chunks: AsyncIterable<Uint8Array>) => Effect.Effect<number, LakeIOError>
  /** An object's bytes, or none when it does not exist (any other failure is an error). */
  readonly get: (key: string) => Effect.Effect<Option.Option<Uint8Array>, LakeIOError>
  /** `length` bytes from `offset` (fewer at the end of the object), or none when it does not exist. */
  readonly getRange: (key: string, offset: number, length: number) => Effect.Effect<Option.Option<Uint8Array>, LakeIOError>
  /** Every object whose key starts with `prefix`, in key order. */
  readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<StoreObject>, LakeIOError>
  /** The "folders" right below `prefix` (a prefix ending in `/`), each ending in `/`, in key order. */
  readonly listFolders: (prefix: string) => Effect.Effect<ReadonlyArray<string>, LakeIOError>
  /** Deletes an object; one already gone is not an error. */
  readonly delete: (key: string) => Effect.Effect<void, LakeIOError>
  /** Where `key` lives, as a person or another engine names it: a file path, or an `s3://` URL. */
  readonly locate: (key: string) => string
  /** The file of `key` when the store is a local folder (engines read it in place); undefined otherwise. */
  readonly localPath: (key: string) => string | undefined
}

/** An object's bytes read as UTF-8 text (a commit, `_last_checkpoint`, decisions). */
export const textOf = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")

/** Joins key parts with `/`, ignoring empty ones: `joinKey("", "streams/t", "_delta_log/0.json")`. */
export const joinKey = (...parts: ReadonlyArray<string>): string =>
  parts.filter((p) => p.length > 0).map((p, i, all) => (i < all.length - 1 ? p.replace(/\/+$/, "") : p)).join("/")

/** The prefix of everything below a folder key: `streams/t` → `streams/t/`, `""` → `""`. */
export const folderPrefix = (key: string): string => (key === "" || key.endsWith("/") ? key : `${key}/`)

/** The last part of a key. */
export const baseName = (key: string): string => key.slice(key.lastIndexOf("/") + 1)

/** The key without its last part (`""` at the root). */
export const parentKey = (key: string): string => {
  const slash = key.lastIndexOf("/")
  return slash < 0 ? "" : key.slice(0, slash)
}

/**
 * The temporary name of an interrupted write: a store that writes through temporary files names
 * them `.<name>.<random>.tmp` beside their target (hidden from readers' globs), and vacuum deletes
 * those left behind. An object store that shows objects only once whole leaves none.
 */
export const isTemporaryName = (name: string): boolean => name.startsWith(".") && name.endsWith(".tmp")

/** Where the start-up probe of conditional writes writes (and deletes again). */
export const PROBE_PREFIX = "_sluice/probe-"

/**
 * Checks that the store refuses a second put-if-absent of one key, as the Delta log's commits
 * need: a probe key is created twice, the second must be refused; the probe is deleted again.
 * A store that accepts both (an S3-compatible server that ignores `If-None-Match: *`) would let
 * two writers commit the same version, so it is refused before anything is written.
 */
export const checkPutIfAbsent = (store: Store): Effect.Effect<void, LakeIOError | StoreUnsupported> =>
  Effect.gen(function*() {
    const key = `${PROBE_PREFIX}${randomUUID()}`
    // The first answer may be false if a retry of the same request found its own object: either way it exists now.
    yield* store.putIfAbsent(key, "first")
    const second = yield* store.putIfAbsent(key, "second").pipe(
      Effect.catchIf(
        (e) => !e.transient,
        (e) =>
          Effect.fail(
            new StoreUnsupported({
              store: store.url,
              reason: `a conditional write (put-if-absent) of ${key} failed where it should have been refused as a conflict: ${e.message}`
            })
          )
      ),
      Effect.ensuring(store.delete(key).pipe(Effect.ignore))
    )
    if (second) {
      return yield* new StoreUnsupported({
        store: store.url,
        reason: `the store accepted a second write of ${key} that asked to be refused if the key exists (If-None-Match: *). ` +
          "Sluice's Delta log needs that refusal (put-if-absent) so that two writers never both commit one version; " +
          "use a store with conditional writes (AWS S3, MinIO, Ceph RGW of 2024 or later) or a local folder"
      })
    }
  })
