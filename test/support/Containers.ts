/**
 * Kafka brokers and MariaDB servers in containers (Testcontainers), from the images the global setup
 * chose (test/images/Images.ts): the services of the integration tests, and the three-broker cluster
 * and private MariaDB that the failure tests stop, start and pause.
 *
 * Kafka runs in a `GenericContainer`, not `@testcontainers/kafka`'s `KafkaContainer`: that module
 * drives Confluent's cp-kafka images (it runs /etc/confluent/docker/run and decides the mode from the
 * Confluent version in the tag), not apache/kafka's, and it has no multi-broker cluster.
 * Host ports are chosen here and pinned: a broker advertises the address clients dial, and a stopped
 * then started container must come back where the service under test left it.
 */
import { MariaDbContainer, type StartedMariaDbContainer } from "@testcontainers/mariadb"
import { GenericContainer, getContainerRuntimeClient, Network, type StartedNetwork, type StartedTestContainer, Wait } from "testcontainers"
import { freePort } from "../../bench/chaos/Ports.ts"

/**
 * The host the engine publishes ports on, as an address: "localhost" could resolve to ::1 first,
 * where the engine may not listen.
 */
const engineHost = async (): Promise<string> => {
  const host = (await getContainerRuntimeClient()).info.containerRuntime.host
  return host === "localhost" ? "127.0.0.1" : host
}

/** The engine's own handle on a started container: stop, start, pause, unpause without removing it. */
const engineHandle = async (container: StartedTestContainer) => (await getContainerRuntimeClient()).container.getById(container.getId())

/** One broker of a cluster, by node id. */
export interface KafkaNode {
  readonly id: number
  readonly container: StartedTestContainer
  /** Its client address on the host, e.g. "127.0.0.1:40123". */
  readonly address: string
  /** Stops the container (SIGTERM, a controlled shutdown, then SIGKILL after `graceSeconds`), keeping it. */
  readonly stop: (graceSeconds?: number) => Promise<void>
  /** Starts the stopped container again, on the same address, and waits until it has rejoined. */
  readonly start: () => Promise<void>
}

/** Brokers in containers, each a KRaft broker and controller. */
export interface KafkaCluster {
  /** The bootstrap list of every node, comma-separated. */
  readonly brokers: string
  readonly nodes: ReadonlyArray<KafkaNode>
  /** Removes the containers and their network. */
  readonly remove: () => Promise<void>
}

/** The settings of a cluster of `size` nodes, for node `id` advertising `address` to clients. */
const kafkaEnvironment = (id: number, size: number, address: string, network: boolean): Record<string, string> => {
  const hostOf = (node: number) => (network ? `kafka-${node}` : "localhost")
  const replicas = String(Math.min(size, 3))
  const minIsr = String(Math.max(1, Math.min(size, 3) - 1))
  return {
    CLUSTER_ID: "c2x1aWNlLXRlc3QtY2x1c3Q",
    KAFKA_NODE_ID: String(id),
    KAFKA_PROCESS_ROLES: "broker,controller",
    KAFKA_CONTROLLER_QUORUM_VOTERS: Array.from({ length: size }, (_, i) => `${i + 1}@${hostOf(i + 1)}:9093`).join(","),
    KAFKA_LISTENERS: "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093,BROKER://0.0.0.0:9094",
    KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${address},BROKER://${hostOf(id)}:9094`,
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,BROKER:PLAINTEXT",
    KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
    KAFKA_INTER_BROKER_LISTENER_NAME: "BROKER",
    // Topics created without a factor get 3 replicas, of which 2 must acknowledge an acks=all write.
    KAFKA_DEFAULT_REPLICATION_FACTOR: replicas,
    KAFKA_MIN_INSYNC_REPLICAS: minIsr,
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: replicas,
    KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: "8",
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: replicas,
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: minIsr,
    KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS: "8",
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: replicas,
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: minIsr,
    KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0",
    KAFKA_NUM_PARTITIONS: "4",
    KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false",
    // Event times may lie far in the past (replays): time-based retention would delete them at once.
    KAFKA_LOG_RETENTION_MS: "-1",
    KAFKA_HEAP_OPTS: size > 1 ? "-Xms192m -Xmx384m" : "-Xms256m -Xmx512m"
  }
}

const started = /Kafka Server started/

/**
 * Starts `size` brokers from `image` (1, or 3 on a network of their own). Every node starts at
 * once: a KRaft controller waits for a majority of its voters.
 */
export const startKafka = async (image: string, size: 1 | 3): Promise<KafkaCluster> => {
  const network: StartedNetwork | undefined = size > 1 ? await new Network().start() : undefined
  // One after the other and distinct: the system may hand a port just released out again.
  const ports: Array<number> = []
  while (ports.length < size) {
    const port = await freePort()
    if (!ports.includes(port)) ports.push(port)
  }
  const host = await engineHost()
  const definitions = ports.map((port, index) => {
    const id = index + 1
    let definition = new GenericContainer(image)
      .withName(`sluice-test-kafka-${id}-${port}`)
      .withExposedPorts({ container: 9092, host: port })
      .withEnvironment(kafkaEnvironment(id, size, `${host}:${port}`, network !== undefined))
      .withWaitStrategy(Wait.forLogMessage(started))
      .withStartupTimeout(180_000)
    if (network !== undefined) definition = definition.withNetwork(network).withNetworkAliases(`kafka-${id}`)
    return definition
  })
  const starts = await Promise.allSettled(definitions.map((definition) => definition.start()))
  const failed = starts.find((start) => start.status === "rejected")
  if (failed !== undefined) {
    // The nodes that did start are removed before the failure is told.
    await Promise.all(starts.map((start) => (start.status === "fulfilled" ? start.value.stop({ timeout: 1 }) : undefined)))
    await network?.stop()
    throw failed.reason
  }
  const containers = starts.map((start) => (start as PromiseFulfilledResult<StartedTestContainer>).value)
  const nodes = containers.map((container, index): KafkaNode => {
    const address = `${host}:${ports[index]}`
    return {
      id: index + 1,
      container,
      address,
      stop: async (graceSeconds = 10) => {
        await (await engineHandle(container)).stop({ t: graceSeconds })
      },
      start: async () => {
        const since = Math.floor(Date.now() / 1000)
        const handle = await engineHandle(container)
        await handle.start()
        // The log of the container holds the first start's line too: wait for one after this start.
        const deadline = Date.now() + 180_000
        for (;;) {
          const logs = (await handle.logs({ stdout: true, stderr: false, since, follow: false })).toString("utf8")
          if (started.test(logs)) return
          if (Date.now() > deadline) throw new Error(`broker ${index + 1} (${address}) did not start again within 180 s`)
          await new Promise((resolve) => setTimeout(resolve, 500))
        }
      }
    }
  })
  return {
    brokers: nodes.map((node) => node.address).join(","),
    nodes,
    remove: async () => {
      await Promise.all(containers.map((container) => container.stop({ timeout: 1 })))
      await network?.stop()
    }
  }
}

/** A MariaDB in a container, with controls the failure tests use. */
export interface MariaDb {
  readonly container: StartedMariaDbContainer
  /** `mysql://root:…@host:port/<database>`: print it through `redactUrl`. */
  readonly url: string
  readonly pause: () => Promise<void>
  readonly unpause: () => Promise<void>
  /** Restarts the server (SIGTERM, then SIGKILL after `graceSeconds`); the data stays, the address too. */
  readonly restart: (graceSeconds?: number) => Promise<void>
  readonly remove: () => Promise<void>
}

const rootPassword = "sluice-test"

/**
 * Starts MariaDB from `image` with database `database` and root's password, on a pinned host port.
 * `@testcontainers/mariadb` fits both images: they read the same MARIADB_* variables.
 */
export const startMariaDb = async (image: string, database = "sluice"): Promise<MariaDb> => {
  const port = await freePort()
  const container = await new MariaDbContainer(image)
    .withName(`sluice-test-mariadb-${port}`)
    .withExposedPorts({ container: 3306, host: port })
    .withDatabase(database)
    .withRootPassword(rootPassword)
    .start()
  const url = new URL(`mysql://${await engineHost()}:${port}/${database}`)
  url.username = "root"
  url.password = rootPassword
  return {
    container,
    url: url.toString(),
    pause: async () => (await engineHandle(container)).pause(),
    unpause: async () => (await engineHandle(container)).unpause(),
    restart: async (graceSeconds = 10) => {
      await (await engineHandle(container)).restart({ t: graceSeconds })
    },
    remove: async () => {
      await container.stop({ timeout: 1 })
    }
  }
}
