/**
 * Vitest globalSetup of the integration tests: a real Kafka broker and, when one is at hand, a real
 * MySQL/MariaDB — from `KAFKA_BROKERS`, from containers, or from `sluice stack up` — and an
 * S3-compatible server for the lake in a bucket (`sluice stack up --s3`'s S3Proxy).
 *
 * `SLUICE_TEST_SERVICES` chooses; a choice that cannot be had is an error, never a silent fallback:
 * - `env`: the broker at `KAFKA_BROKERS` (it must answer) and `MYSQL_URL` (default the local one).
 * - `containers`: a broker and a MariaDB in containers (test/support/Containers.ts) from the images
 *   test/images/Images.ts chooses: `apache/kafka` and `mariadb` where a registry answers, else the
 *   local ones `npm run test:images` builds (the output says which). A missing engine or image is an
 *   error. Removed again at teardown; Ryuk (Testcontainers' reaper, an image of its own) is off unless
 *   `TESTCONTAINERS_RYUK_DISABLED` says otherwise, so what starts here stops here.
 * - `stack`: `Stack.up()` (src/ops/Stack.ts), the local broker from Maven Central jars and the MySQL at
 *   `MYSQL_URL`. A broker this setup did not start is never stopped. One it started is left running
 *   too: the next run (and a developer's `sluice` commands) reuse it in 0.03 s instead of paying a
 *   start, a concurrent vitest run may be using it, and CI jobs run on fresh machines.
 *   `SLUICE_TEST_STACK_DOWN=1` stops it at teardown when this setup is the one that started it.
 * Unset: `env` if `KAFKA_BROKERS` is set and answers, else `containers` if an engine answers, else `stack`.
 *
 * How tests get the addresses: both ways, because each has a gap. `project.provide()` values reach
 * tests through `inject("kafkaBrokers")` / `inject("mysqlUrl")` (typed below) whatever the pool.
 * `process.env.KAFKA_BROKERS` / `MYSQL_URL` are set too, for code under test that reads its config
 * from the environment: Vitest 5 builds each worker's env from `process.env` when it starts the test
 * files (after globalSetup has run; node_modules/vitest/dist/chunks/index.*.js, `...process$1.env`),
 * so workers inherit them with the forks and the threads pools alike. `MYSQL_URL` is set only when a
 * MySQL answered; `inject("mysqlUrl")` is then `null` and MySQL tests should skip.
 * `inject("containerImages")` names the images when the services are containers (null otherwise):
 * the failure tests start clusters and servers of their own from them.
 *
 * S3: `Stack.upS3()` starts S3Proxy from its Maven Central jar (fetched once into `.cache/s3proxy`)
 * unless it answers already, and is left running like the broker; its endpoint, bucket and dev
 * credentials reach tests through `inject("s3")` only (not the environment: the tests that write a
 * lake in a bucket say so in the environment of the `sluice` they run). `SLUICE_TEST_S3=off` skips it,
 * and `inject("s3")` is then `null`.
 */
import type { TestProject } from "vitest/node"
import { Effect, Option } from "effect"
import * as Stack from "../../src/ops/Stack.ts"
import type { S3ProxyEndpoint } from "../../src/ops/Stack.ts"
import type { TestImage } from "../images/Images.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** Bootstrap list of the broker every integration test uses, e.g. "127.0.0.1:9092". */
    kafkaBrokers: string
    /** A usable MySQL/MariaDB URL (may carry a password: print it through `redactUrl`), or null. */
    mysqlUrl: string | null
    /** Where the services came from. */
    servicesSource: "env" | "containers" | "stack"
    /** The S3 server of the stack, or null with SLUICE_TEST_S3=off. */
    s3: S3ProxyEndpoint | null
    /** The images the services run from, when they are containers; null otherwise. */
    containerImages: ContainerImages | null
  }
}

/** The images of the containers: upstream or built here. */
export interface ContainerImages {
  readonly kafka: TestImage
  readonly mariadb: TestImage
}

type Source = "env" | "containers" | "stack"

interface Services {
  readonly kafkaBrokers: string
  readonly mysqlUrl: string | null
  readonly source: Source
  readonly images?: ContainerImages
  readonly teardown: () => Promise<void>
}

const say = (line: string) => console.log(`[services] ${line}`)

const checkMysql = async (url: string): Promise<string | null> => {
  const status = await Effect.runPromise(Stack.checkMysql(url, { createDatabase: true }))
  say(status.ok ? status.message : `Warning: ${status.message}`)
  return status.ok ? url : null
}

const fromEnv = async (): Promise<Services | undefined> => {
  const brokers = process.env["KAFKA_BROKERS"]
  if (brokers === undefined || brokers.trim() === "") return undefined
  const cluster = await Effect.runPromise(Stack.probeKafka(brokers, "10 seconds"))
  if (Option.isNone(cluster)) {
    say(`Warning: KAFKA_BROKERS=${brokers} is set but no broker answers there; looking elsewhere`)
    return undefined
  }
  say(`Kafka from KAFKA_BROKERS: ${brokers} (cluster ${cluster.value.clusterId})`)
  const mysqlUrl = await checkMysql(process.env["MYSQL_URL"] || Stack.defaultMysqlUrl)
  return { kafkaBrokers: brokers, mysqlUrl, source: "env", teardown: async () => {} }
}

/** Whether a container engine answers (`getContainerRuntimeClient()` throws when there is none). */
const engineAnswers = async (): Promise<boolean> => {
  const { getContainerRuntimeClient } = await import("testcontainers")
  try {
    await getContainerRuntimeClient()
    return true
  } catch {
    return false
  }
}

const fromContainers = async (): Promise<Services> => {
  // Imported lazily: the Docker client stack is heavy and needed only here.
  const Images = await import("../images/Images.ts")
  const Containers = await import("../support/Containers.ts")
  const images = { kafka: Images.choose("kafka"), mariadb: Images.choose("mariadb") }
  for (const [service, image] of Object.entries(images)) {
    say(`${service} image: ${image.name} (${image.origin === "upstream" ? "upstream, from a registry" : "local, built by `npm run test:images`: no registry serves the upstream one"})`)
  }
  const started = Date.now()
  const [kafkaStart, mariadbStart] = await Promise.allSettled([Containers.startKafka(images.kafka.name, 1), Containers.startMariaDb(images.mariadb.name)])
  if (kafkaStart.status === "rejected" || mariadbStart.status === "rejected") {
    // One may have started: it is removed before the failure is told.
    if (kafkaStart.status === "fulfilled") await kafkaStart.value.remove()
    if (mariadbStart.status === "fulfilled") await mariadbStart.value.remove()
    throw kafkaStart.status === "rejected" ? kafkaStart.reason : (mariadbStart as PromiseRejectedResult).reason
  }
  const kafka = kafkaStart.value
  const mariadb = mariadbStart.value
  const cluster = await Effect.runPromise(Stack.waitForKafka(kafka.brokers, "60 seconds"))
  if (Option.isNone(cluster)) {
    await Promise.all([kafka.remove(), mariadb.remove()])
    throw new Error(`Kafka container started but did not answer on ${kafka.brokers} within 60 s`)
  }
  say(`Kafka container answering on ${kafka.brokers}, MariaDB container on port ${mariadb.container.getPort()} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
  const mysqlUrl = await checkMysql(mariadb.url)
  return {
    kafkaBrokers: kafka.brokers,
    mysqlUrl,
    source: "containers",
    images,
    // Ryuk (the reaper container) is off (see setup): what starts here stops here.
    teardown: async () => {
      await Promise.all([kafka.remove(), mariadb.remove()])
    }
  }
}

const fromStack = async (): Promise<Services> => {
  const options = await Effect.runPromise(Stack.stackOptions)
  const before = await Effect.runPromise(Stack.status(options))
  say(`sluice stack up (${options.cacheDir})`)
  const status = await Effect.runPromise(Stack.up(options))
  const startedHere = !before.kafka.running
  return {
    kafkaBrokers: status.kafka.brokers,
    mysqlUrl: status.mysql.ok ? options.mysqlUrl : null,
    source: "stack",
    teardown: async () => {
      if (startedHere && process.env["SLUICE_TEST_STACK_DOWN"] === "1") {
        await Effect.runPromise(Stack.down(options))
      } else if (startedHere) {
        say(`Kafka left running on ${status.kafka.brokers} for the next run; \`sluice stack down\` stops it`)
      }
    }
  }
}

/** The stack's S3Proxy, started unless it answers already (and left running, as the broker is). */
const s3 = async (): Promise<S3ProxyEndpoint | null> => {
  if (process.env["SLUICE_TEST_S3"] === "off") {
    say("SLUICE_TEST_S3=off: no S3 server, the tests of a lake in a bucket skip")
    return null
  }
  const options = await Effect.runPromise(Stack.stackOptions)
  return Effect.runPromise(Stack.upS3(options))
}

/** `SLUICE_TEST_SERVICES`, checked: undefined when unset. */
const requested = (): Source | undefined => {
  const value = process.env["SLUICE_TEST_SERVICES"]?.trim() ?? ""
  if (value === "") return undefined
  if (value === "env" || value === "containers" || value === "stack") return value
  throw new Error(`SLUICE_TEST_SERVICES=${value}: expected containers, stack or env`)
}

const choose = async (): Promise<Services> => {
  const choice = requested()
  switch (choice) {
    case "env": {
      const services = await fromEnv()
      if (services === undefined) throw new Error("SLUICE_TEST_SERVICES=env: no broker answers at KAFKA_BROKERS")
      return services
    }
    case "containers":
      if (!(await engineAnswers())) throw new Error("SLUICE_TEST_SERVICES=containers: no container engine answers (start dockerd)")
      return fromContainers()
    case "stack":
      return fromStack()
    case undefined:
      return (await fromEnv()) ?? ((await engineAnswers()) ? fromContainers() : fromStack())
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true"
  const services = await choose()
  project.provide("s3", await s3())
  process.env["KAFKA_BROKERS"] = services.kafkaBrokers
  if (services.mysqlUrl !== null) process.env["MYSQL_URL"] = services.mysqlUrl
  project.provide("kafkaBrokers", services.kafkaBrokers)
  project.provide("mysqlUrl", services.mysqlUrl)
  project.provide("servicesSource", services.source)
  project.provide("containerImages", services.images ?? null)
  say(
    `tests use Kafka ${services.kafkaBrokers} and ` +
      (services.mysqlUrl === null ? "no MySQL" : `MySQL ${Stack.redactUrl(services.mysqlUrl)}`) +
      ` (from ${services.source})`
  )
  return services.teardown
}
