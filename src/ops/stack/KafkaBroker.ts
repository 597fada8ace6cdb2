/**
 * The local single-node Apache Kafka broker (KRaft combined mode) run from Maven Central jars on the
 * machine's Java: fetching the jars, writing its configuration, formatting storage, starting, stopping.
 */
import { spawn } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Console, Effect } from "effect"
import { lastLines, runCommand } from "./Command.ts"
import { StackError } from "./StackError.ts"

/** Where the broker's files live and which ports it binds (on 127.0.0.1 only). */
export interface BrokerPaths {
  readonly cacheDir: string
  readonly kafkaPort: number
  readonly controllerPort: number
}

/** The project's Maven module and log4j2 configuration for the broker (stack/kafka/). */
export const resourceDir = fileURLToPath(new URL("../../../stack/kafka/", import.meta.url))

export const libsDir = (paths: BrokerPaths) => path.join(paths.cacheDir, "libs")
export const dataDir = (paths: BrokerPaths) => path.join(paths.cacheDir, "data")
export const logFile = (paths: BrokerPaths) => path.join(paths.cacheDir, "kafka.log")
export const pidFile = (paths: BrokerPaths) => path.join(paths.cacheDir, "kafka.pid")
const propertiesFile = (paths: BrokerPaths) => path.join(paths.cacheDir, "server.properties")

/** `file` relative to the working directory when it is inside it: shorter lines for people. */
export const shortPath = (file: string): string => {
  const relative = path.relative(process.cwd(), file)
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file
}

const fsEffect = <A>(what: string, thunk: () => A): Effect.Effect<A, StackError> =>
  Effect.try({
    try: thunk,
    catch: (cause) => new StackError({ message: `${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, cause })
  })

// --- jars -------------------------------------------------------------------------------------------

/** Written into libs/ after a complete copy: which pom produced it and which jars it holds. */
interface LibsManifest {
  readonly pomSha256: string
  readonly jars: ReadonlyArray<string>
}

const manifestName = ".sluice-libs.json"

const pomSha256 = (): string => createHash("sha256").update(fs.readFileSync(path.join(resourceDir, "pom.xml"))).digest("hex")

/**
 * Whether libs/ holds every jar of a finished copy made from the current pom; a copy interrupted
 * half-way, a deleted jar or an edited pom (another Kafka version) all mean "fetch again".
 */
const libsComplete = (paths: BrokerPaths): boolean => {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(libsDir(paths), manifestName), "utf8")) as LibsManifest
    return manifest.pomSha256 === pomSha256() && manifest.jars.length > 0 &&
      manifest.jars.every((jar) => fs.existsSync(path.join(libsDir(paths), jar)))
  } catch {
    return false
  }
}

/**
 * Copies the broker's runtime jars from Maven Central into libs/ unless a complete copy is there.
 * Maven writes into a sibling folder that replaces libs/ only once complete, so an interrupted fetch
 * never leaves a half-filled classpath behind.
 */
export const ensureJars = Effect.fnUntraced(function*(paths: BrokerPaths) {
  const libs = libsDir(paths)
  if (libsComplete(paths)) {
    const count = fs.readdirSync(libs).filter((name) => name.endsWith(".jar")).length
    yield* Console.log(`Kafka: jars present (${count} in ${shortPath(libs)})`)
    return
  }
  yield* Console.log(`Kafka: fetching jars with Maven (stack/kafka/pom.xml) into ${shortPath(libs)} …`)
  const partial = `${libs}.partial`
  yield* fsEffect(`Preparing ${partial}`, () => {
    fs.rmSync(partial, { recursive: true, force: true })
    fs.mkdirSync(paths.cacheDir, { recursive: true })
  })
  const started = Date.now()
  const result = yield* runCommand(
    "mvn",
    ["-q", "-B", "-f", path.join(resourceDir, "pom.xml"), "dependency:copy-dependencies", `-Dsluice.libs=${partial}`],
    { timeoutMs: 10 * 60_000, notFoundHint: "install Maven 3.8+ (apt-get install maven); it fetches the broker's jars" }
  )
  if (result.exitCode !== 0) {
    return yield* new StackError({ message: `mvn failed (exit ${result.exitCode}): ${lastLines(result.output)}` })
  }
  yield* fsEffect(`Installing the jars into ${libs}`, () => {
    const jars = fs.readdirSync(partial).filter((name) => name.endsWith(".jar")).sort()
    if (jars.length === 0) throw new Error(`mvn copied no jar into ${partial}`)
    const manifest: LibsManifest = { pomSha256: pomSha256(), jars }
    fs.writeFileSync(path.join(partial, manifestName), JSON.stringify(manifest, null, 2) + "\n")
    fs.rmSync(libs, { recursive: true, force: true })
    fs.renameSync(partial, libs)
  })
  const count = fs.readdirSync(libs).filter((name) => name.endsWith(".jar")).length
  yield* Console.log(`Kafka: ${count} jars fetched in ${((Date.now() - started) / 1000).toFixed(1)} s`)
})

// --- configuration and storage ------------------------------------------------------------------------

/** The broker's server.properties: one node that is both broker and KRaft controller, on loopback. */
export const serverProperties = (paths: BrokerPaths): string => {
  const plaintext = `127.0.0.1:${paths.kafkaPort}`
  const controller = `127.0.0.1:${paths.controllerPort}`
  return [
    "# Generated by `sluice stack up` (src/ops/stack/KafkaBroker.ts) at every start: edit that file, not this one.",
    "process.roles=broker,controller",
    "node.id=1",
    // A static voter set rather than controller.quorum.bootstrap.servers + `format --standalone`: the
    // static set is read from this file at each start, so a changed controller port just works, while
    // a dynamic quorum records the voter's endpoint in the metadata log at format time.
    `controller.quorum.voters=1@${controller}`,
    `listeners=PLAINTEXT://${plaintext},CONTROLLER://${controller}`,
    `advertised.listeners=PLAINTEXT://${plaintext}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    `log.dirs=${dataDir(paths)}`,
    "num.partitions=4",
    "default.replication.factor=1",
    "min.insync.replicas=1",
    // One broker: every internal topic has one replica, or its creation waits forever for others.
    "offsets.topic.replication.factor=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    // Fewer internal partitions than the default 50: the first consumer group and the first
    // transactional producer of a fresh broker are ready in a fraction of the time.
    "offsets.topic.num.partitions=8",
    "transaction.state.log.num.partitions=8",
    // Tests and the service join groups constantly: no 3 s wait for more members.
    "group.initial.rebalance.delay.ms=0",
    // The app creates its topics itself through Admin, as in production; a typo in a topic name
    // should fail, not silently create a new topic.
    "auto.create.topics.enable=false",
    "delete.topic.enable=true",
    // Records carry event times that may lie far in the past (backfills, replays): time-based
    // retention would delete them as soon as they are written. A dev stack keeps everything.
    "log.retention.ms=-1",
    "log.retention.bytes=-1",
    "num.recovery.threads.per.data.dir=1",
    ""
  ].join("\n")
}

const writeProperties = (paths: BrokerPaths) =>
  fsEffect(`Writing ${propertiesFile(paths)}`, () => {
    fs.mkdirSync(paths.cacheDir, { recursive: true })
    fs.writeFileSync(propertiesFile(paths), serverProperties(paths))
  })

/**
 * A KRaft cluster id as Kafka's `Uuid.randomUuid()` makes one (what `kafka-storage random-uuid`
 * prints): a version-4 UUID in unpadded base64url, drawn again while it starts with "-", which
 * `kafka-storage format -t -Ab…` would read as an option (one id in 64 otherwise). The version bits
 * also keep it from Kafka's reserved ids, all zeros and 1. `random` is the byte source.
 */
export const newClusterId = (random: (size: number) => Uint8Array = randomBytes): string => {
  for (;;) {
    const bytes = Buffer.from(random(16))
    // RFC 4122 version 4, variant 2, as java.util.UUID.randomUUID() sets them.
    bytes[6] = (bytes[6]! & 0x0f) | 0x40
    bytes[8] = (bytes[8]! & 0x3f) | 0x80
    const id = bytes.toString("base64url")
    if (!id.startsWith("-")) return id
  }
}

/** `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from the PATH. */
export const javaCommand = (): string => (process.env["JAVA_HOME"] ? path.join(process.env["JAVA_HOME"], "bin", "java") : "java")

const javaNotFound = "install Java 17+ (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"

/** JVM flags shared by the broker and the storage tool: our log4j2 file, logging into kafka.log. */
const loggingFlags = (paths: BrokerPaths): Array<string> => [
  `-Dlog4j2.configurationFile=${path.join(resourceDir, "log4j2.yaml")}`,
  `-Dsluice.kafka.log=${logFile(paths)}`
]

/**
 * The command that runs a Kafka tool from the stack's jars (e.g. `org.apache.kafka.tools.ProducerPerformance`
 * for the bench), its log4j output going to `<cacheDir>/tools.log` so that stdout holds only its results.
 */
export const kafkaToolCommand = (
  paths: BrokerPaths,
  mainClass: string,
  args: ReadonlyArray<string>
): { readonly command: string; readonly args: ReadonlyArray<string> } => ({
  command: javaCommand(),
  args: [
    `-Dlog4j2.configurationFile=${path.join(resourceDir, "log4j2.yaml")}`,
    `-Dsluice.kafka.log=${path.join(paths.cacheDir, "tools.log")}`,
    "-cp",
    path.join(libsDir(paths), "*"),
    mainClass,
    ...args
  ]
})

/**
 * Formats data/ for a new cluster unless it is formatted already (meta.properties present): a
 * formatted directory keeps its cluster id, and formatting it again with another id would fail.
 */
const formatStorage = Effect.fnUntraced(function*(paths: BrokerPaths) {
  if (fs.existsSync(path.join(dataDir(paths), "meta.properties"))) return
  const clusterId = newClusterId()
  yield* Console.log(`Kafka: formatting storage in ${shortPath(dataDir(paths))} (cluster id ${clusterId})`)
  const result = yield* runCommand(
    javaCommand(),
    [
      ...loggingFlags(paths),
      "-cp",
      path.join(libsDir(paths), "*"),
      "kafka.tools.StorageTool",
      "format",
      "-t",
      clusterId,
      "-c",
      propertiesFile(paths),
      "--ignore-formatted"
    ],
    { timeoutMs: 120_000, notFoundHint: javaNotFound }
  )
  if (result.exitCode !== 0) {
    return yield* new StackError({ message: `Kafka storage format failed (exit ${result.exitCode}): ${lastLines(result.output)}` })
  }
})

// --- process ------------------------------------------------------------------------------------------

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Whether `pid` is our broker: alive, and (where /proc exists) running kafka.Kafka on our properties
 * file, so that a pid recycled by the system after a crash is never signalled.
 */
const isOurBroker = (paths: BrokerPaths, pid: number): boolean => {
  if (!isAlive(pid)) return false
  try {
    const commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
    return commandLine.includes("kafka.Kafka") && commandLine.includes(propertiesFile(paths))
  } catch {
    return !fs.existsSync("/proc/self")
  }
}

const readPid = (paths: BrokerPaths): number | undefined => {
  try {
    const pid = Number(fs.readFileSync(pidFile(paths), "utf8").trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** Where /proc exists: the pid of a kafka.Kafka process running on our properties file, if any. */
const findBrokerProcess = (paths: BrokerPaths): number | undefined => {
  let entries: Array<string>
  try {
    entries = fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  } catch {
    return undefined
  }
  return entries.map(Number).find((pid) => pid !== process.pid && isOurBroker(paths, pid))
}

/**
 * The pid of the broker this cache folder started, if it is still running. A stale pid file is
 * removed; a lost one (deleted, or overwritten by a racing start) is rewritten from /proc, so that
 * `down` can always stop what `up` started.
 */
export const runningPid = (paths: BrokerPaths): number | undefined => {
  const recorded = readPid(paths)
  if (recorded !== undefined && isOurBroker(paths, recorded)) return recorded
  const found = findBrokerProcess(paths)
  if (found !== undefined) {
    fs.writeFileSync(pidFile(paths), `${found}\n`)
    return found
  }
  if (recorded !== undefined) fs.rmSync(pidFile(paths), { force: true })
  return undefined
}

/** Removes the pid file of a broker that has exited, unless it names another broker by now. */
export const forgetPid = (paths: BrokerPaths, pid: number) =>
  fsEffect(`Removing ${pidFile(paths)}`, () => {
    if (readPid(paths) === pid) fs.rmSync(pidFile(paths), { force: true })
  })

/** The heap of the broker: `KAFKA_HEAP_OPTS` when set (as Kafka's own scripts read it), else small. */
const heapFlags = (): Array<string> =>
  (process.env["KAFKA_HEAP_OPTS"] ?? "-Xms256m -Xmx768m").split(/\s+/).filter((flag) => flag.length > 0)

/** A broker we just started: its pid, and whether (and how) it already exited. */
export interface StartedBroker {
  readonly pid: number
  readonly exit: () => string | undefined
}

/**
 * Fetches the jars if needed, writes server.properties, formats storage if needed and starts the
 * broker detached (its own process group, outliving this process), output appended to kafka.log.
 */
export const startBroker = Effect.fnUntraced(function*(paths: BrokerPaths) {
  yield* ensureJars(paths)
  yield* writeProperties(paths)
  yield* formatStorage(paths)
  const args = [
    ...heapFlags(),
    // Kafka's own launcher (kafka-run-class.sh) flags.
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    ...loggingFlags(paths),
    "-cp",
    path.join(libsDir(paths), "*"),
    "kafka.Kafka",
    propertiesFile(paths)
  ]
  const child = yield* Effect.callback<ReturnType<typeof spawn>, StackError>((resume) => {
    // O_APPEND: the JVM's stdout/stderr and log4j2's appender share kafka.log without clobbering.
    const out = fs.openSync(logFile(paths), "a")
    const started = spawn(javaCommand(), args, { cwd: paths.cacheDir, detached: true, stdio: ["ignore", out, out] })
    fs.closeSync(out)
    started.once("error", (cause: NodeJS.ErrnoException) =>
      resume(Effect.fail(new StackError({
        message: cause.code === "ENOENT" ? `java not found: ${javaNotFound}` : `Kafka broker could not start: ${cause.message}`,
        cause
      }))))
    started.once("spawn", () => resume(Effect.succeed(started)))
  })
  const pid = child.pid
  if (pid === undefined) return yield* new StackError({ message: "Kafka broker could not start: no pid" })
  let exit: string | undefined
  child.once("exit", (code, signal) => {
    exit = signal === null ? `exit code ${code}` : `signal ${signal}`
  })
  // Neither the child nor its exit listener may keep this process alive: the broker outlives us.
  child.unref()
  yield* fsEffect(`Writing ${pidFile(paths)}`, () => fs.writeFileSync(pidFile(paths), `${pid}\n`))
  yield* Console.log(`Kafka: started broker (pid ${pid}), log in ${shortPath(logFile(paths))}`)
  const started: StartedBroker = { pid, exit: () => exit }
  return started
})

/** The last lines of kafka.log that say why a broker failed (its ERROR lines first, if any). */
export const logTail = (paths: BrokerPaths): string => {
  try {
    const text = fs.readFileSync(logFile(paths), "utf8").slice(-200_000)
    const errors = text.split("\n").filter((line) => /\b(ERROR|FATAL)\b|Exception/.test(line))
    return lastLines(errors.length > 0 ? errors.join("\n") : text, 3)
  } catch {
    return "(no kafka.log)"
  }
}

/**
 * Stops the broker started from this cache folder: SIGTERM (a controlled shutdown that flushes the
 * logs), then SIGKILL after `graceMs`. Returns the pid stopped and how, or undefined if none ran.
 */
export const stopBroker = Effect.fnUntraced(function*(paths: BrokerPaths, graceMs = 20_000) {
  const pid = runningPid(paths)
  if (pid === undefined) return undefined
  const started = Date.now()
  yield* fsEffect(`Signalling the Kafka broker (pid ${pid})`, () => process.kill(pid, "SIGTERM"))
  while (isAlive(pid) && Date.now() - started < graceMs) yield* Effect.sleep("200 millis")
  let how = "SIGTERM"
  if (isAlive(pid)) {
    how = `SIGKILL after ${Math.round(graceMs / 1000)} s`
    yield* fsEffect(`Killing the Kafka broker (pid ${pid})`, () => process.kill(pid, "SIGKILL"))
    while (isAlive(pid) && Date.now() - started < graceMs + 5_000) yield* Effect.sleep("100 millis")
  }
  yield* fsEffect(`Removing ${pidFile(paths)}`, () => fs.rmSync(pidFile(paths), { force: true }))
  return { pid, how, seconds: (Date.now() - started) / 1000 }
})

// --- start lock ---------------------------------------------------------------------------------------

const lockFile = (paths: BrokerPaths) => path.join(paths.cacheDir, "kafka.starting.lock")

/** Takes the lock if free (or held by a process that no longer exists); false while another holds it. */
const tryLock = (paths: BrokerPaths): { readonly taken: boolean; readonly holder?: number } => {
  fs.mkdirSync(paths.cacheDir, { recursive: true })
  try {
    fs.writeFileSync(lockFile(paths), `${process.pid}\n`, { flag: "wx" })
    return { taken: true }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
  }
  const holder = Number(fs.readFileSync(lockFile(paths), "utf8").trim())
  if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) return { taken: false, holder }
  // Left behind by a crashed or killed `up`.
  fs.rmSync(lockFile(paths), { force: true })
  return tryLock(paths)
}

/**
 * Runs `effect` (a broker start) while holding kafka.starting.lock, waiting up to 5 minutes for
 * another `up` that holds it; the lock file names its holder's pid so a dead holder's lock is taken over.
 */
export const withStartLock = <A, E, R>(paths: BrokerPaths, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StackError, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + 5 * 60_000
    let told = false
    for (;;) {
      const lock = yield* fsEffect(`Locking ${lockFile(paths)}`, () => tryLock(paths))
      if (lock.taken) break
      if (Date.now() > deadline) {
        return yield* new StackError({
          message: `another sluice stack up (pid ${lock.holder}) has held ${lockFile(paths)} for 5 minutes; ` +
            "stop it or delete the file"
        })
      }
      if (!told) yield* Console.log(`Kafka: another sluice stack up (pid ${lock.holder}) is starting the broker, waiting …`)
      told = true
      yield* Effect.sleep("250 millis")
    }
    return yield* effect.pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(lockFile(paths), { force: true }))))
  })

/** Deletes data/ (every topic, the cluster id): the next `up` formats a new cluster. */
export const purgeData = (paths: BrokerPaths) =>
  fsEffect(`Deleting ${dataDir(paths)}`, () => fs.rmSync(dataDir(paths), { recursive: true, force: true }))
