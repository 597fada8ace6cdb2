/**
 * Test-side driver of the Delta interop reader (test/interop/delta-reader): builds its jar with Maven
 * when needed and reads a Delta table through Delta Kernel, returning what Kernel saw.
 */
import { execFile } from "node:child_process"
import { readdir, stat } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const moduleDir = fileURLToPath(new URL("./delta-reader/", import.meta.url))
const pomFile = join(moduleDir, "pom.xml")
const sourceDir = join(moduleDir, "src")

/** The runnable (shaded) jar Maven leaves behind; `target/` is git-ignored. */
export const deltaReaderJar = join(moduleDir, "target", "delta-reader.jar")

const javaCommand = (): string => (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java")

/** Kernel's view of one numeric column; numbers are decimal strings so longs and decimals stay exact. */
export interface DeltaColumnSummary {
  /** Kernel's type name: `integer`, `long`, `Decimal(18, 2)`, `timestamp` (microseconds), … */
  readonly type: string
  readonly values: number
  readonly nulls: number
  readonly sum: string
  readonly min: string | null
  readonly max: string | null
}

export interface DeltaTableReading {
  readonly version: number
  /** Rows decoded by Kernel's Parquet reader across every selected file (deletion vectors applied). */
  readonly rows: number
  /** Files the scan selected: all live files, or those left after pruning by `filter`. */
  readonly files: number
  /** The table schema as Kernel serializes it (Delta's JSON schema format). */
  readonly schema: string
  readonly partitionColumns: Array<string>
  readonly columns?: Readonly<Record<string, DeltaColumnSummary>>
  /** Last `txn.version` per requested appId, `null` when the table has none. */
  readonly txns?: Readonly<Record<string, number | null>>
  /**
   * The first rows, in scan order, as JSON: longs and decimals as strings, timestamps as ISO-8601
   * (microsecond precision when present), structs as objects, partition columns included.
   */
  readonly sample?: Array<Record<string, unknown>>
  /** The version Kernel wrote a classic checkpoint for, when asked to. */
  readonly checkpointWritten?: number
}

export interface ReadDeltaTableOptions {
  /** Time travel to this version instead of the latest. */
  readonly version?: number
  /** Columns (dotted through structs) to sum and take min/max of. */
  readonly sumColumns?: ReadonlyArray<string>
  readonly txns?: ReadonlyArray<string>
  /** `"<column> <op> <value>"` (op `= < <= > >=`); prunes files by partition values and `add.stats`. */
  readonly filter?: string
  readonly sample?: number
  /** After reading, have Kernel write `<version>.checkpoint.parquet` and `_last_checkpoint`. */
  readonly writeCheckpoint?: boolean
  /** Hadoop settings, e.g. the endpoint of an `s3a://` table (`fs.s3a.endpoint`). */
  readonly hadoop?: Readonly<Record<string, string>>
  /** Environment of the reader besides this process's (an S3 table's AWS credentials, say). */
  readonly env?: Readonly<Record<string, string>>
  /** Default 120 s. */
  readonly timeoutMs?: number
}

const newestSourceTime = async (): Promise<number> => {
  let newest = (await stat(pomFile)).mtimeMs
  for (const entry of await readdir(sourceDir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs)
  }
  return newest
}

const run = (command: string, args: ReadonlyArray<string>, timeoutMs: number, env?: Readonly<Record<string, string>>): Promise<{ stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      if (error) {
        const detail = stderr.trim() || stdout.trim() || error.message
        reject(new Error(`${command} ${args.join(" ")} failed (exit ${String(error.code ?? error.signal)}):\n${detail}`, { cause: error }))
      } else resolve({ stdout, stderr })
    })
  })

let building: Promise<void> | undefined

/**
 * Builds the reader's jar with `mvn package` unless it exists and is newer than the pom and every
 * source file. Memoized per process; the first build downloads Kernel and Hadoop from Maven Central.
 */
export const buildDeltaReader = (): Promise<void> => {
  building ??= (async () => {
    const jarTime = await stat(deltaReaderJar).then(
      (s) => s.mtimeMs,
      () => -1,
    )
    if (jarTime > (await newestSourceTime())) return
    await run("mvn", ["-q", "-B", "-f", pomFile, "package"], 15 * 60_000)
  })().catch((error: unknown) => {
    building = undefined
    throw error
  })
  return building
}

/**
 * Reads the Delta table at `path` (a local directory, or an `s3a://` URL with `hadoop` settings)
 * with Delta Kernel: snapshot, scan, and a full decode of every selected file. Rejects with
 * Kernel's error (and its causes) when it cannot.
 */
export const readDeltaTable = async (path: string, options: ReadDeltaTableOptions = {}): Promise<DeltaTableReading> => {
  const args = ["-jar", deltaReaderJar, path]
  if (options.version !== undefined) args.push("--version", String(options.version))
  for (const column of options.sumColumns ?? []) args.push("--sum-column", column)
  for (const appId of options.txns ?? []) args.push("--txn", appId)
  if (options.filter !== undefined) args.push("--filter", options.filter)
  if (options.sample !== undefined) args.push("--sample", String(options.sample))
  if (options.writeCheckpoint) args.push("--write-checkpoint")
  for (const [key, value] of Object.entries(options.hadoop ?? {})) args.push("--hadoop", `${key}=${value}`)
  const { stdout } = await run(javaCommand(), args, options.timeoutMs ?? 120_000, options.env)
  const line = stdout.trim().split("\n").at(-1) ?? ""
  try {
    return JSON.parse(line) as DeltaTableReading
  } catch (cause) {
    throw new Error(`delta-reader printed no JSON line for ${path}: ${stdout.slice(0, 500)}`, { cause })
  }
}
