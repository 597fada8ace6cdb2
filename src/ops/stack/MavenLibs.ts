/**
 * Jars of the local stack's Java programs (the Kafka broker, S3Proxy), copied from Maven Central by
 * a pom of the project into a folder that is complete or absent, never half-filled.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Console, Effect } from "effect"
import { lastLines, runCommand } from "./Command.ts"
import { shortPath } from "./Paths.ts"
import { StackError } from "./StackError.ts"

/** What to fetch, and where. */
export interface MavenLibs {
  /** Names the program in the lines printed ("Kafka", "S3"). */
  readonly label: string
  /** The pom whose `dependency:copy-dependencies` copies the jars into `${sluice.libs}`. */
  readonly pom: string
  readonly libs: string
}

/** Written into libs/ after a complete copy: which pom produced it and which jars it holds. */
interface LibsManifest {
  readonly pomSha256: string
  readonly jars: ReadonlyArray<string>
}

const manifestName = ".sluice-libs.json"

const pomSha256 = (pom: string): string => createHash("sha256").update(fs.readFileSync(pom)).digest("hex")

const fsEffect = <A>(what: string, thunk: () => A): Effect.Effect<A, StackError> =>
  Effect.try({
    try: thunk,
    catch: (cause) => new StackError({ message: `${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, cause })
  })

/**
 * Whether libs/ holds every jar of a finished copy made from the current pom; a copy interrupted
 * half-way, a deleted jar or an edited pom (another version) all mean "fetch again".
 */
const libsComplete = (libs: MavenLibs): boolean => {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(libs.libs, manifestName), "utf8")) as LibsManifest
    return manifest.pomSha256 === pomSha256(libs.pom) && manifest.jars.length > 0 &&
      manifest.jars.every((jar) => fs.existsSync(path.join(libs.libs, jar)))
  } catch {
    return false
  }
}

/** The jars of a complete copy, by name. */
export const jarsIn = (dir: string): Array<string> => fs.readdirSync(dir).filter((name) => name.endsWith(".jar")).sort()

/**
 * Copies the jars from Maven Central into `libs` unless a complete copy is there. Maven writes into
 * a sibling folder that replaces `libs` only once complete, so an interrupted fetch never leaves a
 * half-filled classpath behind.
 */
export const ensureMavenLibs = Effect.fnUntraced(function*(libs: MavenLibs) {
  const dir = libs.libs
  if (libsComplete(libs)) {
    yield* Console.log(`${libs.label}: jars present (${jarsIn(dir).length} in ${shortPath(dir)})`)
    return
  }
  yield* Console.log(`${libs.label}: fetching jars with Maven (${shortPath(libs.pom)}) into ${shortPath(dir)} …`)
  const partial = `${dir}.partial`
  yield* fsEffect(`Preparing ${partial}`, () => {
    fs.rmSync(partial, { recursive: true, force: true })
    fs.mkdirSync(path.dirname(dir), { recursive: true })
  })
  const started = Date.now()
  const result = yield* runCommand(
    "mvn",
    ["-q", "-B", "-f", libs.pom, "dependency:copy-dependencies", `-Dsluice.libs=${partial}`],
    { timeoutMs: 10 * 60_000, notFoundHint: `install Maven 3.8+ (apt-get install maven); it fetches the jars of ${libs.label}` }
  )
  if (result.exitCode !== 0) {
    return yield* new StackError({ message: `mvn failed (exit ${result.exitCode}): ${lastLines(result.output)}` })
  }
  yield* fsEffect(`Installing the jars into ${dir}`, () => {
    const jars = jarsIn(partial)
    if (jars.length === 0) throw new Error(`mvn copied no jar into ${partial}`)
    const manifest: LibsManifest = { pomSha256: pomSha256(libs.pom), jars }
    fs.writeFileSync(path.join(partial, manifestName), JSON.stringify(manifest, null, 2) + "\n")
    fs.rmSync(dir, { recursive: true, force: true })
    fs.renameSync(partial, dir)
  })
  yield* Console.log(`${libs.label}: ${jarsIn(dir).length} jars fetched in ${((Date.now() - started) / 1000).toFixed(1)} s`)
})
