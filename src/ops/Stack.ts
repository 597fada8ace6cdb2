/**
 * `sluice stack up|down|status`: the local development stack, a single-node Apache Kafka (KRaft) run
 * from Maven Central jars on the machine's Java, a check of the MySQL at `MYSQL_URL`, and on request
 * (`up --s3`) an S3-compatible server for a lake in a bucket (S3Proxy, src/ops/stack/S3Proxy.ts).
 *
 * `up` and `down` print one line per step (Console); `status` prints nothing and returns the lines
 * to show (`status.kafka.message`, `status.mysql.message`). Files live in `<cacheDir>`: libs/, data/,
 * server.properties, kafka.log, kafka.pid.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Config, Console, Duration, Effect, Option, Schema } from "effect"
import { DEFAULT_MYSQL_URL } from "../sinks/warehouse/ConnectionUrl.ts"
import * as KafkaBroker from "./stack/KafkaBroker.ts"
import { portAccepts, probeKafka, waitForKafka } from "./stack/KafkaProbe.ts"
import { checkMysql, type MysqlStatus } from "./stack/MysqlCheck.ts"
import * as S3Proxy from "./stack/S3Proxy.ts"
import { StackError } from "./stack/StackError.ts"

export { StackError } from "./stack/StackError.ts"
export { probeKafka, waitForKafka, type KafkaCluster } from "./stack/KafkaProbe.ts"
export { checkMysql, redactUrl, type MysqlStatus } from "./stack/MysqlCheck.ts"
export type { S3ProxyEndpoint } from "./stack/S3Proxy.ts"

/**
 * Where the stack keeps its files and which addresses it uses.
 *
 * @category models
 */
export interface StackOptions {
  /** The broker's folder (libs/, data/, server.properties, kafka.log, kafka.pid). */
  readonly cacheDir: string
  /** The client listener, on 127.0.0.1. */
  readonly kafkaPort: number
  /** The KRaft controller listener, on 127.0.0.1. */
  readonly controllerPort: number
  /** May hold a password: it is only ever printed through `redactUrl`. */
  readonly mysqlUrl: string
  /** S3Proxy's folder (libs/, data/, its properties, log, pid and env file). */
  readonly s3Dir: string
  /** S3Proxy's port, on 127.0.0.1. */
  readonly s3Port: number
}

/**
 * What answers: Kafka (`running` = a broker answers on `brokers`, whoever started it; `pid` = the
 * broker this cache folder started, when alive) and MySQL. `message`s are the lines to show.
 *
 * @category models
 */
export interface StackStatus {
  readonly kafka: {
    readonly running: boolean
    readonly pid?: number
    readonly brokers: string
    readonly clusterId?: string
    readonly message: string
  }
  readonly mysql: MysqlStatus
  /** The S3 server's line, when this cache folder ever started one. */
  readonly s3?: string | undefined
}

/** The default `MYSQL_URL`: the local MariaDB/MySQL, user root without password. */
export const defaultMysqlUrl = DEFAULT_MYSQL_URL

const projectRoot = fileURLToPath(new URL("../../", import.meta.url))

const Port = Schema.NumberFromString.pipe(
  Schema.decodeTo(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 65_535 }, { expected: "a TCP port (1-65535)" }))))
)

/**
 * Options from the configuration: `SLUICE_CACHE_DIR` (the project's cache root, default
 * `<project>/.cache`; the broker lives in its `kafka/` folder, S3Proxy in `s3proxy/`),
 * `SLUICE_KAFKA_PORT` (9092), `SLUICE_KAFKA_CONTROLLER_PORT` (9093), `SLUICE_S3_PORT` (9000),
 * `MYSQL_URL`. Fails on a malformed port.
 *
 * @category constructors
 */
export const stackOptions: Effect.Effect<StackOptions, Config.ConfigError> = Effect.gen(function*() {
  const cacheRoot = yield* Config.String("SLUICE_CACHE_DIR").pipe(Config.withDefault(path.join(projectRoot, ".cache")))
  const cache = path.resolve(cacheRoot || path.join(projectRoot, ".cache"))
  return {
    cacheDir: path.join(cache, "kafka"),
    s3Dir: path.join(cache, "s3proxy"),
    s3Port: yield* Config.schema(Port, "SLUICE_S3_PORT").pipe(Config.withDefault(9000)),
    kafkaPort: yield* Config.schema(Port, "SLUICE_KAFKA_PORT").pipe(Config.withDefault(9092)),
    controllerPort: yield* Config.schema(Port, "SLUICE_KAFKA_CONTROLLER_PORT").pipe(Config.withDefault(9093)),
    mysqlUrl: (yield* Config.String("MYSQL_URL").pipe(Config.withDefault(""))) || defaultMysqlUrl
  }
})

/** The `KAFKA_BROKERS` value that reaches the stack's broker. */
export const brokersOf = (options: StackOptions): string => `127.0.0.1:${options.kafkaPort}`

const brokerPaths = (options: StackOptions): KafkaBroker.BrokerPaths => ({
  cacheDir: path.resolve(options.cacheDir),
  kafkaPort: options.kafkaPort,
  controllerPort: options.controllerPort
})

/**
 * `java …` running a Kafka tool class on the stack's jars (fetch them with `up` first), e.g.
 * `kafkaTool(options, "org.apache.kafka.tools.ProducerPerformance", ["--topic", "t", …])`.
 *
 * @category constructors
 */
export const kafkaTool = (
  options: StackOptions,
  mainClass: string,
  args: ReadonlyArray<string>
): { readonly command: string; readonly args: ReadonlyArray<string> } =>
  KafkaBroker.kafkaToolCommand(brokerPaths(options), mainClass, args)

/** How long `up` waits for a broker it started (or found starting) to answer. */
const startDeadline = Duration.seconds(60)

const kafkaStatus = Effect.fnUntraced(function*(options: StackOptions) {
  const paths = brokerPaths(options)
  const brokers = brokersOf(options)
  const pid = KafkaBroker.runningPid(paths)
  const cluster = yield* probeKafka(brokers)
  const log = KafkaBroker.shortPath(KafkaBroker.logFile(paths))
  const message = Option.isSome(cluster)
    ? pid !== undefined
      ? `Kafka running (pid ${pid}), answering on ${brokers} (cluster ${cluster.value.clusterId})`
      : `Kafka answering on ${brokers} (cluster ${cluster.value.clusterId}), not started by sluice stack`
    : pid !== undefined
    ? `Kafka process running (pid ${pid}) but not answering on ${brokers}; see ${log}`
    : `Kafka not running: nothing answers on ${brokers}`
  return {
    running: Option.isSome(cluster),
    ...(pid !== undefined ? { pid } : {}),
    brokers,
    ...(Option.isSome(cluster) ? { clusterId: cluster.value.clusterId } : {}),
    message
  }
})

/**
 * Starts the stack: a broker on 127.0.0.1:`kafkaPort` unless one answers there already (whoever
 * started it), fetching its jars with Maven only when libs/ is missing or incomplete; then checks
 * MySQL and creates its database (a warning, not a failure, when MySQL is not usable).
 *
 * @category commands
 */
export const up = Effect.fn("Stack.up")(function*(options: StackOptions): Effect.fn.Return<StackStatus, StackError> {
  const before = yield* kafkaStatus(options)
  if (before.running) {
    yield* Console.log(`${before.message}: nothing to start`)
  } else {
    // Two `up`s at once (two terminals, two vitest runs) must not both format and start a broker.
    yield* KafkaBroker.withStartLock(brokerPaths(options), startKafka(options))
  }
  return yield* finish(options)
})

// Starts the broker (or waits for one of ours that is starting) until it answers; under the start lock.
const startKafka = Effect.fnUntraced(function*(options: StackOptions) {
  const paths = brokerPaths(options)
  const brokers = brokersOf(options)
  const log = KafkaBroker.shortPath(KafkaBroker.logFile(paths))
  const meanwhile = yield* probeKafka(brokers)
  if (Option.isSome(meanwhile)) {
    yield* Console.log(`Kafka: answering on ${brokers} (cluster ${meanwhile.value.clusterId}), started meanwhile`)
    return
  }
  const existing = KafkaBroker.runningPid(paths)
  if (existing === undefined && (yield* portAccepts("127.0.0.1", options.kafkaPort))) {
    // Someone else's broker may be starting: give it a moment before blaming the port's owner.
    yield* Console.log(`Kafka: 127.0.0.1:${options.kafkaPort} is taken but does not answer as Kafka yet, waiting …`)
    const late = yield* waitForKafka(brokers, Duration.seconds(10))
    if (Option.isNone(late)) {
      return yield* new StackError({
        message: `127.0.0.1:${options.kafkaPort} is taken by a program that does not answer as Kafka ` +
          `(find it with: ss -ltnp 'sport = :${options.kafkaPort}'); stop it or set SLUICE_KAFKA_PORT`
      })
    }
    yield* Console.log(`Kafka answering on ${brokers} (cluster ${late.value.clusterId}), not started by sluice stack`)
    return
  }
  // A broker of ours that is alive but silent is still starting (or stuck): never start a second one.
  if (existing !== undefined) yield* Console.log(`Kafka: broker already starting (pid ${existing}), waiting for it`)
  const started = existing === undefined ? yield* KafkaBroker.startBroker(paths) : undefined
  const exit = (): string | undefined => started?.exit()
  yield* Console.log(`Kafka: waiting for the broker to answer on ${brokers} …`)
  const startedAt = Date.now()
  const cluster = yield* waitForKafka(brokers, startDeadline, () => exit() === undefined)
  const exited = exit()
  if (exited !== undefined) {
    if (started !== undefined) yield* KafkaBroker.forgetPid(paths, started.pid)
    return yield* new StackError({
      message: `Kafka broker exited (${exited}) before answering on ${brokers}: ${KafkaBroker.logTail(paths)} (see ${log})`
    })
  }
  if (Option.isNone(cluster)) {
    return yield* new StackError({
      message: `Kafka did not answer on ${brokers} within ${Duration.format(startDeadline)}; see ${log}`
    })
  }
  yield* Console.log(
    `Kafka: answering on ${brokers} after ${((Date.now() - startedAt) / 1000).toFixed(1)} s (cluster ${cluster.value.clusterId})`
  )
})

// The tail of `up` once Kafka answers: the MySQL check, then the status to return.
const finish = Effect.fnUntraced(function*(options: StackOptions) {
  const mysql = yield* checkMysql(options.mysqlUrl, { createDatabase: true })
  yield* Console.log(mysql.ok ? mysql.message : `Warning: ${mysql.message}`)
  const kafka = yield* kafkaStatus(options)
  const status: StackStatus = { kafka, mysql }
  return status
})

const s3Paths = (options: StackOptions): S3Proxy.S3ProxyPaths => ({ cacheDir: path.resolve(options.s3Dir), port: options.s3Port })

/**
 * Starts the local S3 server (S3Proxy, jar fetched with Maven the first time) unless it answers
 * already, creates the lake's bucket, and writes an env file with its endpoint, dev credentials and
 * lake URL; returns them (the secret is never printed).
 *
 * @category commands
 */
export const upS3 = (options: StackOptions): Effect.Effect<S3Proxy.S3ProxyEndpoint, StackError> => S3Proxy.up(s3Paths(options))

/**
 * Stops the broker this cache folder started (SIGTERM, SIGKILL after 20 s) and removes its pid
 * file, and the S3 server it started, if any; with `purge`, also deletes their data. Leaves alone a
 * broker it did not start. Idempotent.
 *
 * @category commands
 */
export const down = Effect.fn("Stack.down")(function*(
  options: StackOptions & { readonly purge?: boolean }
): Effect.fn.Return<void, StackError> {
  const paths = brokerPaths(options)
  const brokers = brokersOf(options)
  const stopped = yield* KafkaBroker.stopBroker(paths)
  if (stopped === undefined) {
    const foreign = yield* probeKafka(brokers)
    yield* Console.log(
      Option.isSome(foreign)
        ? `Kafka: no broker started by sluice stack; the one answering on ${brokers} was started elsewhere, left alone`
        : "Kafka: not running, nothing to stop"
    )
  } else {
    yield* Console.log(`Kafka: stopped broker (pid ${stopped.pid}, ${stopped.how}) in ${stopped.seconds.toFixed(1)} s`)
  }
  const s3 = yield* S3Proxy.stop(s3Paths(options))
  if (s3 !== undefined) yield* Console.log(`S3: stopped S3Proxy (pid ${s3.pid}) in ${s3.seconds.toFixed(1)} s`)
  if (options.purge === true) {
    yield* KafkaBroker.purgeData(paths)
    yield* Console.log(`Kafka: deleted ${KafkaBroker.shortPath(KafkaBroker.dataDir(paths))} (topics and cluster id)`)
    yield* S3Proxy.purgeData(s3Paths(options))
  }
})

/**
 * What runs now, without changing anything (MySQL: reachable, version, database present).
 * Prints nothing: show `kafka.message` and `mysql.message`; exit 0 when `kafka.running`.
 *
 * @category commands
 */
export const status = Effect.fn("Stack.status")(function*(options: StackOptions): Effect.fn.Return<StackStatus> {
  const [kafka, mysql, s3] = yield* Effect.all([
    kafkaStatus(options),
    checkMysql(options.mysqlUrl, { createDatabase: false }),
    S3Proxy.status(s3Paths(options)).pipe(Effect.orElseSucceed(() => "S3: its files cannot be read"))
  ], { concurrency: 3 })
  return { kafka, mysql, s3 }
})
