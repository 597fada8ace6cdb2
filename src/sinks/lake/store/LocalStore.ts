/**
 * The lake's storage primitives on a local (or shared POSIX) filesystem: durable writes through
 * fsync + atomic rename, put-if-absent through `link`, and reads that tell "absent" from "failed".
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Data, Effect, Option } from "effect"

/** A filesystem call failed; `op` and `path` say which. */
export class LakeIOError extends Data.TaggedError("LakeIOError")<{
  readonly op: string
  readonly path: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `${this.op} ${this.path}: ${(this.cause as Error)?.message ?? String(this.cause)}`
  }
}

const io = <A>(op: string, p: string, f: () => Promise<A>): Effect.Effect<A, LakeIOError> =>
  Effect.tryPromise({ try: f, catch: (cause) => new LakeIOError({ op, path: p, cause }) })

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code

// A full or unreachable disk, or a process out of file handles: conditions that pass.
const TRANSIENT = new Set(["ENOSPC", "EDQUOT", "EIO", "EAGAIN", "EBUSY", "EMFILE", "ENFILE", "ETIMEDOUT", "ESTALE"])

/** Whether retrying the same operation later can succeed (the disk is full, the mount is away). */
export const isTransientIOError = (e: LakeIOError): boolean => TRANSIENT.has(code(e.cause) ?? "")

/** A hidden temporary name beside `target`: readers that glob `*.parquet` or `*.json` never see it. */
export const temporaryName = (target: string): string =>
  path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString("hex")}.tmp`)

/** Temporary files left by an interrupted writer are recognisable by this pattern. */
export const isTemporaryName = (name: string): boolean => name.startsWith(".") && name.endsWith(".tmp")

const fsyncPath = async (p: string): Promise<void> => {
  const handle = await fs.open(p, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Writes `data` to a new file and forces it to disk. */
const writeSynced = async (file: string, data: Uint8Array | string): Promise<void> => {
  const handle = await fs.open(file, "wx")
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export const mkdirs = (dir: string): Effect.Effect<void, LakeIOError> =>
  io("mkdir", dir, () => fs.mkdir(dir, { recursive: true }).then(() => undefined))

/** Forces a directory's entries (a rename, a link) to disk. */
export const syncDirectory = (dir: string): Effect.Effect<void, LakeIOError> => io("fsync", dir, () => fsyncPath(dir))

/** Writes a temporary file that is durable on disk but invisible to readers; returns its name. */
export const writeTemporary = (target: string, data: Uint8Array | string): Effect.Effect<string, LakeIOError> => {
  const tmp = temporaryName(target)
  return io("write", tmp, () => writeSynced(tmp, data)).pipe(Effect.as(tmp))
}

/** Atomically gives a temporary file its final name (replacing any file of that name). */
export const publish = (tmp: string, target: string): Effect.Effect<void, LakeIOError> =>
  io("rename", target, () => fs.rename(tmp, target))

/**
 * Creates `target` with `data` only if no file of that name exists: the temporary file is linked
 * to the final name, which fails atomically when the name is taken. Returns false on conflict.
 */
export const putIfAbsent = (target: string, data: Uint8Array | string): Effect.Effect<boolean, LakeIOError> =>
  Effect.gen(function*() {
    const tmp = temporaryName(target)
    yield* io("write", tmp, () => writeSynced(tmp, data))
    const created = yield* io("link", target, () =>
      fs.link(tmp, target).then(
        () => true,
        (e) => (code(e) === "EEXIST" ? false : Promise.reject(e))
      ))
    yield* io("unlink", tmp, () => fs.unlink(tmp))
    if (created) yield* syncDirectory(path.dirname(target))
    return created
  })

/** Durable whole-file replacement: temporary file, fsync, rename, fsync of the folder. */
export const replaceFile = (target: string, data: Uint8Array | string): Effect.Effect<void, LakeIOError> =>
  Effect.gen(function*() {
    const tmp = yield* writeTemporary(target, data)
    yield* publish(tmp, target)
    yield* syncDirectory(path.dirname(target))
  })

/** A file's bytes, or none when it does not exist. */
export const readOptional = (file: string): Effect.Effect<Option.Option<Buffer>, LakeIOError> =>
  io("read", file, () =>
    fs.readFile(file).then(
      (b) => Option.some(b),
      (e) => (code(e) === "ENOENT" ? Option.none() : Promise.reject(e))
    ))


/** Every file below `dir`, as paths relative to it. */
export const listRecursive = (dir: string): Effect.Effect<ReadonlyArray<string>, LakeIOError> =>
  io("list", dir, () =>
    fs.readdir(dir, { recursive: true, withFileTypes: true }).then(
      (entries) =>
        entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))),
      (e) => (code(e) === "ENOENT" ? [] : Promise.reject(e))
    ))

/** Removes a file; a file already gone is not an error. */
export const removeFile = (file: string): Effect.Effect<void, LakeIOError> =>
  io("unlink", file, () => fs.unlink(file).catch((e) => (code(e) === "ENOENT" ? undefined : Promise.reject(e))))


/** Removes a folder if it is empty; a folder gone or not empty is left as it is. */
export const removeEmptyFolder = (dir: string): Effect.Effect<void, LakeIOError> =>
  io("rmdir", dir, () => fs.rmdir(dir).catch((e) => (["ENOENT", "ENOTEMPTY", "EEXIST"].includes(code(e) ?? "") ? undefined : Promise.reject(e))))

/**
 * Replaces a file atomically but without fsync: for derived files (such as `_metadata.json`)
 * that are rebuilt from the log whenever they are lost.
 */
export const replaceFileQuick = (target: string, data: Uint8Array | string): Effect.Effect<void, LakeIOError> => {
  const tmp = temporaryName(target)
  return io("write", tmp, () => fs.writeFile(tmp, data)).pipe(Effect.andThen(publish(tmp, target)))
}
