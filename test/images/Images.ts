/**
 * The container images of the integration tests: the upstream `apache/kafka` and `mariadb` where a
 * registry answers, else local ones built from Debian's packages without any registry.
 *
 * Local images (`npm run test:images`, test/images/build.ts):
 * - a base, `debootstrap --variant=minbase` of bookworm with mariadb-server and openjdk-17-jre-headless
 *   from the machine's own apt mirror, imported with `docker import` (one base for both, ~870 MB);
 * - Kafka: the base + the jars `sluice stack` fetches from Maven Central (stack/kafka/pom.xml) + a
 *   start script reading KAFKA_* variables as apache/kafka's does (test/images/kafka/);
 * - MariaDB: the base + a start script reading MARIADB_* variables as mariadb's does (test/images/mariadb/).
 * Each image carries a label with the hash of what it was built from: a changed pom, Dockerfile or
 * script rebuilds it, anything else reuses it.
 */
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))
const projectRoot = path.resolve(here, "../..")
const kafkaPom = path.join(projectRoot, "stack/kafka/pom.xml")

/** The Kafka version of the stack's pom: the local image runs it, and the upstream tag is the same. */
export const kafkaVersion = (): string => {
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(fs.readFileSync(kafkaPom, "utf8"))
  if (match === null) throw new Error(`no <kafka.version> in ${kafkaPom}`)
  return match[1]!
}

/** Bookworm's MariaDB series: what the local image holds, and the upstream tag used when it can be pulled. */
const mariadbSeries = "10.11"

/** The packages of the base, on top of Debian's minbase. */
const basePackages = ["mariadb-server", "openjdk-17-jre-headless"]

/** An image the tests may run: its name, and whether it is the upstream one or built here. */
export interface TestImage {
  readonly name: string
  readonly origin: "upstream" | "local"
}

/** The names of both images, upstream and local. */
export const names = () => ({
  base: "sluice-test/base:bookworm",
  kafka: { upstream: `apache/kafka:${kafkaVersion()}`, local: `sluice-test/kafka:${kafkaVersion()}` },
  mariadb: { upstream: `mariadb:${mariadbSeries}`, local: `sluice-test/mariadb:${mariadbSeries}` }
})

const inputsLabel = "org.sluice.test.inputs"

/** The hash of the files an image is built from. */
const inputsHash = (files: ReadonlyArray<string>, extra = ""): string => {
  const hash = createHash("sha256").update(extra)
  for (const file of files) hash.update(file).update(fs.readFileSync(file))
  return hash.digest("hex").slice(0, 16)
}

interface Docker {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

const docker = (args: ReadonlyArray<string>, input?: string): Docker => {
  const result = spawnSync("docker", args, { encoding: "utf8", input, maxBuffer: 64 * 1024 * 1024 })
  if (result.error !== undefined) throw new Error(`docker ${args[0]}: ${result.error.message}`)
  return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr }
}

/** The inputs label of a local image, or undefined when the image is absent. */
const labelOf = (image: string): string | undefined => {
  const result = docker(["image", "inspect", "--format", `{{index .Config.Labels "${inputsLabel}"}}`, image])
  return result.status === 0 ? result.stdout.trim() : undefined
}

/** Whether an image is present on the engine. */
export const present = (image: string): boolean => docker(["image", "inspect", image]).status === 0

/**
 * The image to run for one service: the upstream one when present or pullable (a registry answers),
 * else the local build, else an error naming the command that builds it.
 */
export const choose = (service: "kafka" | "mariadb"): TestImage => {
  const { upstream, local } = names()[service]
  if (present(upstream) || docker(["pull", "--quiet", upstream]).status === 0) return { name: upstream, origin: "upstream" }
  if (present(local)) return { name: local, origin: "local" }
  throw new Error(`${upstream} cannot be pulled (no registry answers) and ${local} is absent: run \`npm run test:images\``)
}

/** Runs a command with its output shown, failing with its exit status. */
const run = (command: string, args: ReadonlyArray<string>, options: { readonly stdin?: NodeJS.ReadableStream } = {}) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { stdio: [options.stdin === undefined ? "ignore" : "pipe", "inherit", "inherit"] })
    if (options.stdin !== undefined && child.stdin !== null) options.stdin.pipe(child.stdin)
    child.once("error", (cause) => reject(new Error(`${command}: ${cause.message}`, { cause })))
    child.once("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.slice(0, 2).join(" ")} failed (${signal ?? `exit ${code}`})`)))
  })

/**
 * The Debian mirror of the machine's own apt sources (deb822 `.sources` files first, then
 * sources.list), for bookworm's main suite: no mirror's name is written into the repository.
 */
export const aptMirror = (): string => {
  const dir = "/etc/apt/sources.list.d"
  const deb822 = fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => name.endsWith(".sources")).map((name) => path.join(dir, name)) : []
  for (const file of deb822) {
    for (const stanza of fs.readFileSync(file, "utf8").split(/\n\s*\n/)) {
      const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, "mi").exec(stanza)?.[1]?.trim().split(/\s+/) ?? []
      if (field("Enabled")[0] === "no" || !field("Types").includes("deb")) continue
      if (field("Suites").includes("bookworm") && field("Components").includes("main")) return field("URIs")[0]!
    }
  }
  const list = "/etc/apt/sources.list"
  if (fs.existsSync(list)) {
    for (const line of fs.readFileSync(list, "utf8").split("\n")) {
      const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s+.*\bmain\b/.exec(line.trim())
      if (match !== null) return match[1]!
    }
  }
  throw new Error("no apt source for Debian bookworm main in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list")
}

/** The base image: debootstrap into a temporary folder, imported, the folder removed. */
const buildBase = async (name: string, label: string) => {
  if (process.getuid?.() !== 0) throw new Error("building the base image runs debootstrap, which needs root")
  const mirror = aptMirror()
  const root = fs.mkdtempSync(path.join(process.env["TMPDIR"] ?? "/tmp", "sluice-test-base-"))
  try {
    console.log(`[images] ${name}: debootstrap bookworm from ${mirror} with ${basePackages.join(", ")} (a few minutes)`)
    await run("debootstrap", ["--variant=minbase", `--include=${basePackages.join(",")}`, "bookworm", root, mirror])
    // The downloaded packages and indexes: nothing in the image reads them.
    for (const cache of ["var/cache/apt/archives", "var/lib/apt/lists"].filter((dir) => fs.existsSync(path.join(root, dir)))) {
      for (const entry of fs.readdirSync(path.join(root, cache))) {
        if (entry.endsWith(".deb") || entry.endsWith("_Packages") || entry.endsWith("Release") || entry.endsWith(".gpg")) {
          fs.rmSync(path.join(root, cache, entry), { force: true })
        }
      }
    }
    const tar = spawn("tar", ["-C", root, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] })
    await run("docker", ["import", "--change", `LABEL ${inputsLabel}=${label}`, "-", name], { stdin: tar.stdout })
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

/** Builds an image from a folder of test/images/ (extra files copied into the context first). */
const buildFrom = async (name: string, dir: string, label: string, base: string, extra: (context: string) => void = () => {}) => {
  const context = fs.mkdtempSync(path.join(process.env["TMPDIR"] ?? "/tmp", "sluice-test-image-"))
  try {
    fs.cpSync(dir, context, { recursive: true })
    extra(context)
    // The classic builder: BuildKit would look the local base up in a registry.
    const env = { ...process.env, DOCKER_BUILDKIT: "0" }
    await new Promise<void>((resolve, reject) => {
      const child = spawn("docker", ["build", "--quiet", "--build-arg", `BASE=${base}`, "--label", `${inputsLabel}=${label}`, "-t", name, context], {
        stdio: ["ignore", "inherit", "inherit"],
        env
      })
      child.once("error", reject)
      child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`docker build of ${name} failed (exit ${code})`))))
    })
  } finally {
    fs.rmSync(context, { recursive: true, force: true })
  }
}

/** What a local image is built from, and how. */
interface Recipe {
  readonly name: string
  readonly label: string
  readonly build: () => Promise<void>
}

/**
 * Builds the local images that are absent or stale, reusing the others; `kafkaLibs` is the folder
 * of the stack's Kafka jars (fetched by the caller). Returns one line per image.
 */
export const buildAll = async (kafkaLibs: string): Promise<Array<string>> => {
  const { base, kafka, mariadb } = names()
  const baseLabel = inputsHash([], `bookworm minbase ${basePackages.join(",")}`)
  const file = (...parts: Array<string>) => path.join(here, ...parts)
  const recipes: Array<Recipe> = [
    { name: base, label: baseLabel, build: () => buildBase(base, baseLabel) },
    {
      name: kafka.local,
      label: inputsHash([kafkaPom, file("kafka/Dockerfile"), file("kafka/run"), file("kafka/log4j2.yaml")], baseLabel),
      build: () =>
        buildFrom(kafka.local, file("kafka"), labelFor(kafka.local), base, (context) =>
          fs.cpSync(kafkaLibs, path.join(context, "libs"), { recursive: true, filter: (source) => !path.basename(source).startsWith(".") || source === kafkaLibs }))
    },
    {
      name: mariadb.local,
      label: inputsHash([file("mariadb/Dockerfile"), file("mariadb/run")], baseLabel),
      build: () => buildFrom(mariadb.local, file("mariadb"), labelFor(mariadb.local), base)
    }
  ]
  const labelFor = (name: string) => recipes.find((recipe) => recipe.name === name)!.label
  const lines: Array<string> = []
  for (const recipe of recipes) {
    const started = Date.now()
    const found = labelOf(recipe.name)
    if (found === recipe.label) {
      lines.push(`${recipe.name}: present, reused`)
      continue
    }
    console.log(`[images] ${recipe.name}: ${found === undefined ? "absent" : "stale"}, building`)
    await recipe.build()
    lines.push(`${recipe.name}: built in ${Math.round((Date.now() - started) / 1000)} s`)
  }
  return lines
}
