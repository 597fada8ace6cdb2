/**
 * Where the lake lives, as a URL: a local folder (`file:///path`, or `SLUICE_LAKE_DIR`) or an
 * S3-compatible bucket (`s3://bucket/prefix`), and the store a command opens there.
 */
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Data, Effect, type Scope } from "effect"
import { folderMode } from "../sinks/lake/FolderModes.ts"
import { makeLocalStore } from "../sinks/lake/store/LocalStore.ts"
import { checkPutIfAbsent, isTransientIOError, type LakeIOError, type Store, type StoreUnsupported } from "../sinks/lake/store/Store.ts"
import { defaultOutagePolicy, waitOut } from "../topology/Outage.ts"

/**
 * A lake's location: a folder (absolute), or a bucket and a key prefix ("" or ending in `/`).
 *
 * @category models
 */
export type LakeLocation =
  | { readonly kind: "file"; readonly dir: string; readonly url: string }
  | { readonly kind: "s3"; readonly bucket: string; readonly prefix: string; readonly url: string }

/** How an S3 lake is reached besides its URL; credentials come from the AWS chain (environment, profile, role). */
export interface S3Settings {
  /** `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`: an S3-compatible server, addressed path-style. */
  readonly endpoint: string | undefined
  /** `AWS_REGION` or `AWS_DEFAULT_REGION`; `us-east-1` for an endpoint when neither is set. */
  readonly region: string | undefined
  /** Objects larger than this go up in parts of this size. */
  readonly partSize: number
}

/** A lake URL that is not one. @category errors */
export class LakeUrlError extends Data.TaggedError("LakeUrlError")<{ readonly source: string; readonly reason: string }> {
  override get message(): string {
    return `${this.source}: ${this.reason}`
  }
}

/** The lake in a local folder (relative to the working directory when not absolute). */
export const lakeFolder = (dir: string): LakeLocation => {
  const absolute = path.resolve(dir)
  return { kind: "file", dir: absolute, url: pathToFileURL(absolute).href }
}

// S3's rules for bucket names (lowercase letters, digits, dots and hyphens; 3 to 63).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/** Parses `file:///path` or `s3://bucket[/prefix]`; `source` names where the text came from in the error. */
export const parseLakeUrl = (text: string, source: string): Effect.Effect<LakeLocation, LakeUrlError> =>
  Effect.gen(function*() {
    const fail = (reason: string) => Effect.fail(new LakeUrlError({ source, reason }))
    const expected = "expected file:///path/to/lake or s3://bucket/prefix"
    let url: URL
    try {
      url = new URL(text.trim())
    } catch {
      return yield* fail(`${JSON.stringify(text)} is not a URL; ${expected}`)
    }
    if (url.protocol === "file:") {
      if (url.host !== "" && url.host !== "localhost") return yield* fail(`${text}: a file URL names a local absolute path (file:///path), not host ${url.host}`)
      return lakeFolder(fileURLToPath(url))
    }
    if (url.protocol === "s3:") {
      if (url.username !== "" || url.password !== "") {
        return yield* fail("credentials do not belong in the lake URL: give them through AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile")
      }
      const bucket = url.hostname
      if (!BUCKET.test(bucket)) return yield* fail(`${text}: ${JSON.stringify(bucket)} is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)`)
      if (url.search !== "" || url.hash !== "") return yield* fail(`${text}: a lake URL has no query or fragment`)
      // The URL has resolved any `.` and `..` (spelled out or encoded) already.
      const parts = decodeURIComponent(url.pathname).split("/").filter((p) => p.length > 0)
      const prefix = parts.length === 0 ? "" : `${parts.join("/")}/`
      return { kind: "s3", bucket, prefix, url: `s3://${bucket}${prefix === "" ? "" : `/${prefix.slice(0, -1)}`}` }
    }
    return yield* fail(`${text}: unsupported scheme ${url.protocol.replace(/:$/, "")}; ${expected}`)
  })

/** Where a key of the lake lives, said without opening anything (a file path, or an `s3://` URL). */
export const lakeLocator = (location: LakeLocation): ((key: string) => string) =>
  location.kind === "file"
    ? (key) => path.join(location.dir, key)
    : (key) => `s3://${location.bucket}/${location.prefix}${key}`

/** An endpoint as people may see it: any user and password in it masked. */
const shownEndpoint = (endpoint: string): string => {
  try {
    const url = new URL(endpoint)
    if (url.username === "" && url.password === "") return endpoint
    url.username = "***"
    url.password = ""
    return url.toString()
  } catch {
    return "<unparsable endpoint>"
  }
}

/** One line for people: where the lake is and, for S3, which endpoint. */
export const describeLake = (location: LakeLocation, s3: S3Settings): string =>
  location.kind === "file" ? location.dir : `${location.url} (${s3.endpoint === undefined ? "AWS S3" : `endpoint ${shownEndpoint(s3.endpoint)}, path-style`})`

/**
 * Opens the lake's store. With `writes`, first checks that the store refuses a second
 * put-if-absent of one key (what the Delta log's commits rest on) and fails clearly when it does
 * not; an unreachable store is waited for like any lost dependency.
 */
export const openLake = (
  settings: { readonly lake: LakeLocation; readonly s3: S3Settings; readonly outageTimeoutMs: number },
  options: { readonly writes: boolean }
): Effect.Effect<Store, LakeIOError | StoreUnsupported, Scope.Scope> =>
  Effect.gen(function*() {
    const location = settings.lake
    const store = location.kind === "file"
      ? makeLocalStore(location.dir, { folderMode })
      // Loaded for a lake in a bucket only: the AWS SDK's modules hold about 10 MB.
      : yield* (yield* Effect.promise(() => import("../sinks/lake/store/S3Store.ts"))).makeS3Store({
        bucket: location.bucket,
        prefix: location.prefix,
        endpoint: settings.s3.endpoint,
        region: settings.s3.region ?? (settings.s3.endpoint === undefined ? undefined : "us-east-1"),
        // Virtual-hosted names (bucket.endpoint) rarely resolve for a server of one's own.
        forcePathStyle: settings.s3.endpoint !== undefined,
        partSize: settings.s3.partSize
      })
    if (options.writes) {
      yield* waitOut(
        `lake: check conditional writes at ${store.url}`,
        checkPutIfAbsent(store),
        (e) => e._tag === "LakeIOError" && isTransientIOError(e),
        { ...defaultOutagePolicy, deadlineMs: settings.outageTimeoutMs }
      )
    }
    return store
  })
