/**
 * Where a bench ran: CPU, cores, memory, OS, Node and Kafka versions, and the commit measured
 * (read from .git's files: the bench never runs git itself).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGB: number
  readonly os: string
  readonly node: string
  /** Version of the Kafka jars of `sluice stack` (tools, and the broker when the stack started it). */
  readonly kafka: string
  readonly brokers: string
}

const osName = (): string => {
  try {
    const release = readFileSync("/etc/os-release", "utf8")
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1]
    if (pretty !== undefined) return `${pretty}, ${os.type()} ${os.release()} ${os.arch()}`
  } catch {
    // Not Linux, or no os-release: the kernel's name will do.
  }
  return `${os.type()} ${os.release()} ${os.arch()}`
}

/** The Kafka version from the stack's jar names (kafka-clients-<version>.jar), or "unknown". */
export const kafkaVersion = (cacheDir: string): string => {
  try {
    for (const name of readdirSync(path.join(cacheDir, "libs"))) {
      const m = /^kafka-clients-(.+)\.jar$/.exec(name)
      if (m) return m[1]!
    }
  } catch {
    // No jars yet.
  }
  return "unknown"
}

export const describeMachine = (kafkaCacheDir: string, brokers: string): Machine => ({
  cpu: os.cpus()[0]?.model.trim() ?? "unknown",
  cores: os.cpus().length,
  memoryGB: Math.round(os.totalmem() / 1024 ** 3),
  os: osName(),
  node: process.version,
  kafka: kafkaVersion(kafkaCacheDir),
  brokers
})

/** The git directory of a work tree (`.git` may be a file pointing elsewhere, in a worktree). */
const gitDir = (root: string): string | undefined => {
  const dotGit = path.join(root, ".git")
  if (!existsSync(dotGit)) return undefined
  if (statSync(dotGit).isDirectory()) return dotGit
  const pointer = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, "utf8"))?.[1]
  return pointer === undefined ? undefined : path.resolve(root, pointer.trim())
}

/** The checked-out commit's 7-character id, read from HEAD and refs; "nogit" outside a repository. */
export const gitShortSha = (root: string): string => {
  const dir = gitDir(root)
  if (dir === undefined) return "nogit"
  try {
    const head = readFileSync(path.join(dir, "HEAD"), "utf8").trim()
    const ref = /^ref: (.+)$/.exec(head)?.[1]
    if (ref === undefined) return head.slice(0, 7)
    // A linked worktree keeps its HEAD apart but shares refs with the main repository.
    const common = existsSync(path.join(dir, "commondir"))
      ? path.resolve(dir, readFileSync(path.join(dir, "commondir"), "utf8").trim())
      : dir
    for (const base of [dir, common]) {
      const loose = path.join(base, ref)
      if (existsSync(loose)) return readFileSync(loose, "utf8").trim().slice(0, 7)
    }
    const packed = readFileSync(path.join(common, "packed-refs"), "utf8")
    const line = packed.split("\n").find((l) => l.endsWith(` ${ref}`))
    return line?.slice(0, 7) ?? "unborn"
  } catch {
    return "unknown"
  }
}
