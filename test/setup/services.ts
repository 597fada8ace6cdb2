/**
 * Vitest globalSetup of the integration tests: a real Kafka broker and, when one is at hand, a real
 * MySQL/MariaDB — from `KAFKA_BROKERS`, else from Testcontainers, else from `sluice stack up` — and
 * an S3-compatible server for the lake in a bucket (`sluice stack up --s3`'s S3Proxy).
 *
 * Choices, in order:
 * 1. `KAFKA_BROKERS` is set and a broker answers there: use it (and `MYSQL_URL`, default the local one).
 * 2. A container engine answers (`getContainerRuntimeClient()` throws when there is none): start
 *    `apache/kafka` and `mariadb:10.11` containers, stopped again at teardown.
 * 3. Otherwise `Stack.up()` (src/ops/Stack.ts): the local broker from Maven Central jars, and the
 *    MySQL at `MYSQL_URL`. A broker this setup did not start is never stopped. One it started is left
 *    running too: the next run (and a developer's `sluice` commands) reuse it in 0.03 s instead of
 *    paying a start, a concurrent vitest run may be using it, and CI jobs run on fresh machines.
 *    `SLUICE_TEST_STACK_DOWN=1` stops it at teardown when this setup is the one that started it.
 *
 * How tests get the addresses: both ways, because each has a gap. `project.provide()` values reach
 * tests through `inject("kafkaBrokers")` / `inject("mysqlUrl")` (typed below) whatever the pool.
 * `process.env.KAFKA_BROKERS` / `MYSQL_URL` are set too, for code under test that reads its config
 * from the environment: Vitest 5 builds each worker's env from `process.env` when it starts the test
 * files (after globalSetup has run; node_modules/vitest/dist/chunks/index.*.js, `...process$1.env`),
 * so workers inherit them with the forks and the threads pools alike. `MYSQL_URL` is set only when a
 * MySQL answered; `inject("mysqlUrl")` is then `null` and MySQL tests should skip.
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
  }
}

interface Services {
  readonly kafkaBrokers: string
  readonly mysqlUrl: string | null
  readonly source: "env" | "containers" | "stack"
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

const fromContainers = async (): Promise<Services | undefined> => {
  // Imported lazily: the Docker client stack is heavy and most machines here have no engine.
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import("testcontainers")
  let host: string
  try {
    host = (await getContainerRuntimeClient()).info.containerRuntime.host
  } catch {
    return undefined
  }
  say(`container engine found (host ${host}): starting apache/kafka:4.1.0 and mariadb:10.11`)
  // The broker must advertise the address the tests dial, which is only known once mapped: pin the
  // host port to a free one chosen now. Brokers talk among themselves on a second, in-container listener.
  const kafkaPort = await freePort()
  const kafka = await new GenericContainer("apache/kafka:4.1.0")
    .withExposedPorts({ container: 9092, host: kafkaPort })
    .withEnvironment({
      KAFKA_NODE_ID: "1",
      KAFKA_PROCESS_ROLES: "broker,controller",
      KAFKA_CONTROLLER_QUORUM_VOTERS: "1@localhost:9093",
      KAFKA_LISTENERS: "PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093,BROKER://localhost:9094",
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${kafkaPort},BROKER://localhost:9094`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,BROKER:PLAINTEXT",
      KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
      KAFKA_INTER_BROKER_LISTENER_NAME: "BROKER",
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1",
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: "8",
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1",
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1",
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: "1",
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: "1",
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0",
      KAFKA_NUM_PARTITIONS: "4",
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false",
      KAFKA_LOG_RETENTION_MS: "-1"
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(120_000)
    .start()
  const kafkaBrokers = `${host}:${kafkaPort}`
  const cluster = await Effect.runPromise(Stack.waitForKafka(kafkaBrokers, "60 seconds"))
  if (Option.isNone(cluster)) {
    await kafka.stop()
    throw new Error(`Kafka container started but did not answer on ${kafkaBrokers} within 60 s`)
  }
  say(`Kafka container answering on ${kafkaBrokers}`)
  // The image's init runs a temporary server first: the second "ready for connections" is the real one.
  const mariadb = await new GenericContainer("mariadb:10.11")
    .withExposedPorts(3306)
    .withEnvironment({ MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: "1", MARIADB_DATABASE: "sluice" })
    .withWaitStrategy(Wait.forLogMessage(/ready for connections/, 2))
    .withStartupTimeout(120_000)
    .start()
  const mysqlUrl = await checkMysql(`mysql://root@${mariadb.getHost()}:${mariadb.getMappedPort(3306)}/sluice`)
  return {
    kafkaBrokers,
    mysqlUrl,
    source: "containers",
    teardown: async () => {
      await Promise.all([kafka.stop(), mariadb.stop()])
    }
  }
}

const fromStack = async (): Promise<Services> => {
  const options = await Effect.runPromise(Stack.stackOptions)
  const before = await Effect.runPromise(Stack.status(options))
  say(`no container engine: sluice stack up (${options.cacheDir})`)
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

const freePort = async (): Promise<number> => {
  const { createServer } = await import("node:net")
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))))
    })
  })
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = (await fromEnv()) ?? (await fromContainers()) ?? (await fromStack())
  project.provide("s3", await s3())
  process.env["KAFKA_BROKERS"] = services.kafkaBrokers
  if (services.mysqlUrl !== null) process.env["MYSQL_URL"] = services.mysqlUrl
  project.provide("kafkaBrokers", services.kafkaBrokers)
  project.provide("mysqlUrl", services.mysqlUrl)
  project.provide("servicesSource", services.source)
  say(
    `tests use Kafka ${services.kafkaBrokers} and ` +
      (services.mysqlUrl === null ? "no MySQL" : `MySQL ${Stack.redactUrl(services.mysqlUrl)}`) +
      ` (from ${services.source})`
  )
  return services.teardown
}
