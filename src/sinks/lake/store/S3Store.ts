/**
 * The lake's store on S3 or an S3-compatible server (MinIO, Ceph RGW, S3Proxy): an object appears
 * whole when its PUT returns, so there is no temporary name to rename; put-if-absent is a
 * `PutObject` with `If-None-Match: *`, which the store refuses with 412 when the key exists.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand
} from "@aws-sdk/client-s3"
import { Effect, Option, type Scope } from "effect"
import { type Bytes, LakeIOError, type Store, type StoreObject } from "./Store.ts"

/** S3 refuses parts smaller than this, but the last. */
export const MIN_PART_SIZE = 5 * 1024 * 1024

/** How the store reaches its bucket. Credentials come from the AWS chain unless given. */
export interface S3StoreOptions {
  readonly bucket: string
  /** Where the lake's keys start in the bucket: "" or a prefix ending in `/`. */
  readonly prefix: string
  /** An S3-compatible endpoint (`http://127.0.0.1:9000`); AWS's own when undefined. */
  readonly endpoint?: string | undefined
  readonly region?: string | undefined
  /** `http://endpoint/bucket/key` rather than `http://bucket.endpoint/key`: what most S3-compatible servers answer. */
  readonly forcePathStyle: boolean
  /** Objects larger than this are uploaded in parts of this size (at least 5 MiB). */
  readonly partSize: number
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined
}

interface SdkError {
  readonly name?: string
  readonly message?: string
  readonly code?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
  readonly $retryable?: unknown
}

const statusOf = (e: unknown): number | undefined => (e as SdkError | undefined)?.$metadata?.httpStatusCode

// Throttling, a busy or restarting server, a conditional write racing another: they pass.
const TRANSIENT_NAMES = new Set([
  "SlowDown",
  "RequestTimeout",
  "InternalError",
  "ServiceUnavailable",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "ConditionalRequestConflict",
  "TimeoutError",
  "RequestTimeoutException"
])
// An endpoint that does not answer, or a connection cut: the network may come back.
const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN"
])

/** Whether an S3 call may succeed later: a 5xx but 501, 429 or 408, throttling, or a network failure. */
export const isTransientS3Error = (e: unknown): boolean => {
  const error = e as SdkError | undefined
  const status = statusOf(e)
  // 501: the server does not implement what was asked (a conditional write, say), and never will.
  if (status !== undefined && ((status >= 500 && status !== 501) || status === 429 || status === 408)) return true
  if (TRANSIENT_NAMES.has(error?.name ?? "") || TRANSIENT_CODES.has(error?.code ?? "")) return true
  return status === undefined && error?.$retryable !== undefined
}

/** The SDK's error as one line that names the S3 error code and HTTP status, the original as cause. */
const describe = (e: unknown): Error => {
  const error = e as SdkError | undefined
  const status = statusOf(e)
  const name = error?.name !== undefined && error.name !== "Error" ? error.name : error?.code
  const what = [name, status === undefined ? undefined : `HTTP ${status}`].filter((s) => s !== undefined).join(", ")
  const message = error?.message && error.message !== "UnknownError" ? error.message : "no message"
  return new Error(what === "" ? message : `${message} (${what})`, { cause: e })
}

const isMissingKey = (e: unknown): boolean =>
  (e as SdkError | undefined)?.name === "NoSuchKey" || (statusOf(e) === 404 && (e as SdkError | undefined)?.name !== "NoSuchBucket")

const toBytes = (data: Bytes): Uint8Array => (typeof data === "string" ? Buffer.from(data, "utf8") : data)

/** The store of `s3://bucket/prefix`; its client is closed with the scope. */
export const makeS3Store = (options: S3StoreOptions): Effect.Effect<Store, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const config: S3ClientConfig = {
          forcePathStyle: options.forcePathStyle,
          // The SDK retries a failed call twice with back-off; longer outages are waited out above it.
          maxAttempts: 3,
          requestHandler: { connectionTimeout: 5_000, socketTimeout: 60_000 },
          ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
          ...(options.region === undefined ? {} : { region: options.region }),
          ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } })
        }
        return new S3Client(config)
      }),
      (client) => Effect.sync(() => client.destroy())
    ),
    (client) => s3Store(client, options)
  )

const s3Store = (client: S3Client, options: S3StoreOptions): Store => {
  const { bucket } = options
  const prefix = options.prefix
  if (prefix !== "" && !prefix.endsWith("/")) throw new Error(`S3 store prefix ${prefix} must end with /`)
  if (options.partSize < MIN_PART_SIZE) throw new Error(`S3 part size ${options.partSize} is below S3's minimum of ${MIN_PART_SIZE}`)
  const objectKey = (key: string): string => `${prefix}${key}`
  const locate = (key: string): string => `s3://${bucket}/${objectKey(key)}`

  const call = <A>(op: string, key: string, f: () => Promise<A>): Effect.Effect<A, LakeIOError> =>
    Effect.tryPromise({
      try: f,
      catch: (e) => new LakeIOError({ op, path: locate(key), cause: describe(e), transient: isTransientS3Error(e) })
    })

  const putIfAbsent: Store["putIfAbsent"] = (key, data) =>
    Effect.gen(function*() {
      const body = toBytes(data)
      // 409: another conditional write of this key is in flight; S3 asks to try again.
      for (let attempt = 0;; attempt++) {
        const outcome = yield* Effect.tryPromise({
          try: () => client.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey(key), Body: body, IfNoneMatch: "*" })),
          catch: (e) => e
        }).pipe(
          Effect.map(() => "created" as const),
          Effect.catch((e) =>
            statusOf(e) === 412
              ? Effect.succeed("exists" as const)
              : statusOf(e) === 409 && attempt < 5
              ? Effect.succeed("retry" as const)
              : Effect.fail(new LakeIOError({ op: "put-if-absent", path: locate(key), cause: describe(e), transient: isTransientS3Error(e) }))
          )
        )
        if (outcome !== "retry") return outcome === "created"
        yield* Effect.sleep(50 * 2 ** attempt)
      }
    })

  /** Sends `chunks` as one PUT when they fit in a part, else as a multipart upload of `partSize` parts. */
  const upload = (key: string, chunks: AsyncIterable<Uint8Array>): Effect.Effect<number, LakeIOError> =>
    call("upload", key, async () => {
      const partSize = options.partSize
      let pending: Array<Uint8Array> = []
      let pendingSize = 0
      let total = 0
      let uploadId: string | undefined
      const parts: Array<{ PartNumber: number; ETag: string | undefined }> = []
      const sendPart = async (body: Uint8Array) => {
        uploadId ??= (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: objectKey(key) }))).UploadId
        const PartNumber = parts.length + 1
        const { ETag } = await client.send(new UploadPartCommand({ Bucket: bucket, Key: objectKey(key), UploadId: uploadId, PartNumber, Body: body }))
        parts.push({ PartNumber, ETag })
      }
      try {
        for await (const chunk of chunks) {
          pending.push(chunk)
          pendingSize += chunk.length
          total += chunk.length
          while (pendingSize >= partSize) {
            const joined = Buffer.concat(pending)
            await sendPart(joined.subarray(0, partSize))
            pending = [joined.subarray(partSize)]
            pendingSize = joined.length - partSize
          }
        }
        if (uploadId === undefined) {
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey(key), Body: Buffer.concat(pending) }))
        } else {
          if (pendingSize > 0) await sendPart(Buffer.concat(pending))
          await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: objectKey(key), UploadId: uploadId, MultipartUpload: { Parts: parts } }))
        }
        return total
      } catch (e) {
        // The parts of an upload that never completes are stored (and billed) until aborted.
        if (uploadId !== undefined) {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: objectKey(key), UploadId: uploadId })).catch(() => undefined)
        }
        throw e
      }
    })

  const put: Store["put"] = (key, data) => {
    const body = toBytes(data)
    if (body.length > options.partSize) {
      return upload(key, (async function*() {
        yield body
      })()).pipe(Effect.asVoid)
    }
    return call("put", key, () => client.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey(key), Body: body }))).pipe(Effect.asVoid)
  }

  const read = (op: string, key: string, range: string | undefined): Effect.Effect<Option.Option<Uint8Array>, LakeIOError> =>
    call(op, key, async () => {
      try {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key), ...(range === undefined ? {} : { Range: range }) }))
        const bytes = await response.Body!.transformToByteArray()
        return Option.some<Uint8Array>(bytes)
      } catch (e) {
        if (isMissingKey(e)) return Option.none<Uint8Array>()
        // A range that starts past the end of the object: no bytes there.
        if (statusOf(e) === 416) return Option.some<Uint8Array>(new Uint8Array(0))
        throw e
      }
    })

  const listing = async (listPrefix: string, delimiter: boolean) => {
    const objects: Array<StoreObject> = []
    const folders: Array<string> = []
    let token: string | undefined
    do {
      const page = await client.send(new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: objectKey(listPrefix),
        ContinuationToken: token,
        ...(delimiter ? { Delimiter: "/" } : {})
      }))
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue
        objects.push({ key: o.Key.slice(prefix.length), size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 })
      }
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix !== undefined) folders.push(p.Prefix.slice(prefix.length))
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token !== undefined)
    return { objects, folders }
  }

  return {
    url: `s3://${bucket}/${prefix.replace(/\/$/, "")}`,
    putIfAbsent,
    put,
    upload,
    get: (key) => read("read", key, undefined),
    getRange: (key, offset, length) =>
      length <= 0 ? Effect.succeed(Option.some(new Uint8Array(0))) : read("read range", key, `bytes=${offset}-${offset + length - 1}`),
    list: (listPrefix) => call("list", listPrefix, () => listing(listPrefix, false)).pipe(Effect.map((l) => l.objects)),
    listFolders: (listPrefix) => call("list", listPrefix, () => listing(listPrefix, true)).pipe(Effect.map((l) => l.folders.sort())),
    delete: (key) => call("delete", key, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }))).pipe(Effect.asVoid),
    locate,
    localPath: () => undefined
  }
}
