/**
 * The lake's store on a local (or shared POSIX) filesystem: durable writes through a temporary
 * file, fsync and atomic rename, put-if-absent through `link`, reads that tell "absent" from "failed".
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { Effect, Option } from "effect"
import { crashNow } from "../../CrashPoint.ts"
import { type Bytes, LakeIOError, type Store, type StoreObject } from "./Store.ts"

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code

// A full or unreachable disk, or a process out of file handles: conditions that pass.
const TRANSIENT = new Set(["ENOSPC", "EDQUOT", "EIO", "EAGAIN", "EBUSY", "EMFILE", "ENFILE", "ETIMEDOUT", "ESTALE"])

const io = <A>(op: string, p: string, f: () => Promise<A>): Effect.Effect<A, LakeIOError> =>
  Effect.tryPromise({ try: f, catch: (cause) => new LakeIOError({ op, path: p, cause, transient: TRANSIENT.has(code(cause) ?? "") }) })

/** A hidden temporary name beside `target`: readers that glob `*.parquet` or `*.json` never see it. */
const temporaryName = (target: string): string =>
  path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString("hex")}.tmp`)

const fsyncPath = async (p: string): Promise<void> => {
  const handle = await fs.open(p, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Folder fsyncs shared by the writes that wait for them: a write whose entry must be durable asks
 * for an fsync of its folder that starts after it asked; every write that asks while one runs
 * shares the next one. Several partitions' files landing in one day folder cost one fsync, not one each.
 */
const makeFolderSyncs = () => {
  const folders = new Map<string, { running: Promise<void>; next: Promise<void> | undefined }>()
  const start = (dir: string): Promise<void> => {
    const running = fsyncPath(dir).finally(() => {
      const entry = folders.get(dir)!
      if (entry.next === undefined) folders.delete(dir)
    })
    return running
  }
  return (dir: string): Promise<void> => {
    const entry = folders.get(dir)
    if (entry === undefined) {
      const running = start(dir)
      folders.set(dir, { running, next: undefined })
      return running
    }
    // The fsync running may have begun before this write: the next one, shared, covers it.
    entry.next ??= entry.running.catch(() => undefined).then(() => {
      const next = start(dir)
      entry.running = next
      entry.next = undefined
      return next
    })
    return entry.next
  }
}

/** Creates the folder `dir` and its missing parents; each created folder below `root` gets the mode `modeOf` gives its key. */
const makeFolders = async (root: string, dir: string, modeOf: ((key: string) => number) | undefined): Promise<void> => {
  const relative = path.relative(root, dir)
  if (modeOf === undefined || relative === "" || relative.startsWith("..")) {
    await fs.mkdir(dir, { recursive: true })
    return
  }
  await fs.mkdir(root, { recursive: true })
  let current = root
  for (const part of relative.split(path.sep)) {
    current = path.join(current, part)
    const created = await fs.mkdir(current).then(() => true, (e) => (code(e) === "EEXIST" ? false : Promise.reject(e)))
    // chmod, not mkdir's mode, which the process's umask would narrow.
    if (created) await fs.chmod(current, modeOf(path.relative(root, current).split(path.sep).join("/")))
  }
}

/**
 * Creates `file` exclusively, creating its folder when missing: a folder emptied and removed by a
 * delete between the two steps is created again.
 */
const create = async (file: string, folders: (dir: string) => Promise<void>): Promise<fs.FileHandle> => {
  for (let attempt = 0;; attempt++) {
    try {
      return await fs.open(file, "wx")
    } catch (e) {
      if (code(e) !== "ENOENT" || attempt >= 3) throw e
      await folders(path.dirname(file))
    }
  }
}

/** Writes a new file from `chunks`, forced to disk when `durable`; returns its size. */
const writeNew = async (
  file: string,
  chunks: AsyncIterable<Uint8Array> | Bytes,
  durable: boolean,
  folders: (dir: string) => Promise<void>
): Promise<number> => {
  const handle = await create(file, folders)
  try {
    let size = 0
    if (typeof chunks === "string" || chunks instanceof Uint8Array) {
      const bytes = typeof chunks === "string" ? Buffer.from(chunks, "utf8") : chunks
      await handle.writeFile(bytes)
      size = bytes.length
    } else {
      for await (const chunk of chunks) {
        await handle.write(chunk)
        size += chunk.length
      }
    }
    if (durable) await handle.sync()
    return size
  } finally {
    await handle.close()
  }
}

const absent = <A>(e: unknown, value: A): Promise<A> => (code(e) === "ENOENT" ? Promise.resolve(value) : Promise.reject(e))

/**
 * The store of the folder `dir` (made absolute). Keys are paths relative to it; a delete also
 * removes the folders it leaves empty, so the folder holds what an object store would list.
 * `folderMode` gives the mode of each folder it creates, by its key.
 */
export const makeLocalStore = (dir: string, options: { readonly folderMode?: (key: string) => number } = {}): Store => {
  const root = path.resolve(dir)
  const fileOf = (key: string): string => path.join(root, key)
  const folders = (folder: string) => makeFolders(root, folder, options.folderMode)
  const syncFolder = makeFolderSyncs()

  /** Temporary file, fsync, rename, fsync of the folder: readers see the old file or the new one. */
  const replace = (key: string, data: AsyncIterable<Uint8Array> | Bytes, durable: boolean) =>
    Effect.gen(function*() {
      const target = fileOf(key)
      const tmp = temporaryName(target)
      const size = yield* io("write", tmp, () => writeNew(tmp, data, durable, folders))
      if (durable) crashNow("lake:after-temp-write")
      yield* io("rename", target, () => fs.rename(tmp, target)).pipe(
        Effect.tapError(() => io("unlink", tmp, () => fs.unlink(tmp)).pipe(Effect.ignore))
      )
      if (durable) yield* io("fsync", path.dirname(target), () => syncFolder(path.dirname(target)))
      return size
    })

  const putIfAbsent: Store["putIfAbsent"] = (key, data) =>
    Effect.gen(function*() {
      const target = fileOf(key)
      const tmp = temporaryName(target)
      yield* io("write", tmp, () => writeNew(tmp, data, true, folders))
      // `link` fails atomically when the name is taken, where a rename would replace the file.
      const created = yield* io("link", target, () =>
        fs.link(tmp, target).then(
          () => true,
          (e) => (code(e) === "EEXIST" ? false : Promise.reject(e))
        )).pipe(Effect.ensuring(io("unlink", tmp, () => fs.unlink(tmp)).pipe(Effect.ignore)))
      if (created) yield* io("fsync", path.dirname(target), () => syncFolder(path.dirname(target)))
      return created
    })

  const list: Store["list"] = (prefix) => {
    const folder = prefix.slice(0, prefix.lastIndexOf("/") + 1)
    return io("list", fileOf(prefix), async () => {
      const entries = await fs.readdir(fileOf(folder), { recursive: true, withFileTypes: true }).catch((e) => absent(e, []))
      const keys = entries
        .filter((e) => e.isFile())
        .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
        .filter((key) => key.startsWith(prefix))
        .sort()
      const objects = await Promise.all(keys.map((key) =>
        fs.stat(fileOf(key)).then(
          (s): StoreObject | undefined => ({ key, size: s.size, lastModified: s.mtimeMs }),
          (e) => absent(e, undefined)
        )))
      return objects.filter((o): o is StoreObject => o !== undefined)
    })
  }

  const listFolders: Store["listFolders"] = (prefix) =>
    io("list", fileOf(prefix), () =>
      fs.readdir(fileOf(prefix), { withFileTypes: true }).then(
        (entries) => entries.filter((e) => e.isDirectory()).map((e) => `${prefix}${e.name}/`).sort(),
        (e) => absent(e, [])
      ))

  /** Removes the folders of `key` that its deletion left empty, up to the store's root. */
  const pruneFolders = async (key: string): Promise<void> => {
    let folder = path.dirname(fileOf(key))
    while (folder.startsWith(root + path.sep)) {
      const removed = await fs.rmdir(folder).then(() => true, (e) => (["ENOENT", "ENOTEMPTY", "EEXIST"].includes(code(e) ?? "") ? false : Promise.reject(e)))
      if (!removed) return
      folder = path.dirname(folder)
    }
  }

  return {
    url: pathToFileURL(root).href,
    putIfAbsent,
    put: (key, data, options) => replace(key, data, options?.durable ?? true).pipe(Effect.asVoid),
    upload: (key, chunks) => replace(key, chunks, true),
    get: (key) =>
      io("read", fileOf(key), () =>
        fs.readFile(fileOf(key)).then(
          (b): Option.Option<Uint8Array> => Option.some(b),
          (e) => absent(e, Option.none())
        )),
    getRange: (key, offset, length) =>
      io("read", fileOf(key), async () => {
        const handle = await fs.open(fileOf(key), "r").catch((e) => absent(e, undefined))
        if (handle === undefined) return Option.none()
        try {
          const buffer = Buffer.alloc(length)
          const { bytesRead } = await handle.read(buffer, 0, length, offset)
          return Option.some(buffer.subarray(0, bytesRead))
        } finally {
          await handle.close()
        }
      }),
    list,
    listFolders,
    delete: (key) =>
      io("unlink", fileOf(key), async () => {
        const removed = await fs.unlink(fileOf(key)).then(() => true, (e) => absent(e, false))
        if (removed) await pruneFolders(key)
      }),
    locate: fileOf,
    localPath: fileOf
  }
}
