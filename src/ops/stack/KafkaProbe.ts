/**
 * Asks a Kafka cluster whether it answers (a metadata request through @platformatic/kafka's Admin),
 * always under our own deadline: without a broker the client's calls would otherwise retry forever.
 */
import { Admin } from "@platformatic/kafka"
import { connect } from "node:net"
import { Duration, Effect, Option } from "effect"

/** What a broker that answered told about its cluster. */
export interface KafkaCluster {
  readonly clusterId: string
  /** Brokers registered and unfenced in the cluster's metadata. */
  readonly brokerCount: number
}

/** Splits a `KAFKA_BROKERS`-style list ("h1:9092,h2:9092") into bootstrap addresses. */
export const bootstrapList = (brokers: string): Array<string> =>
  brokers.split(",").map((broker) => broker.trim()).filter((broker) => broker.length > 0)

/**
 * One metadata round trip to `brokers`; `Option.none()` when nothing answers within `timeout`.
 * A cluster whose metadata lists no broker yet (a broker still fenced at start-up) does not count.
 */
export const probeKafka = (
  brokers: string,
  timeout: Duration.Input = Duration.seconds(3)
): Effect.Effect<Option.Option<KafkaCluster>> =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      new Admin({
        clientId: "sluice-stack-probe",
        bootstrapBrokers: bootstrapList(brokers),
        // A probe must not retry: the caller decides how long to wait and how often to ask again.
        retries: 0,
        connectTimeout: 2_000,
        timeout: 2_000
      })
    ),
    (admin) =>
      Effect.tryPromise(() => admin.metadata({ topics: [] })).pipe(
        Effect.timeout(timeout),
        Effect.map((metadata) =>
          metadata.brokers.size > 0
            ? Option.some({ clusterId: metadata.id, brokerCount: metadata.brokers.size })
            : Option.none()
        ),
        Effect.orElseSucceed(() => Option.none<KafkaCluster>())
      ),
    (admin) =>
      Effect.promise(() => admin.close().catch(() => undefined)).pipe(
        Effect.timeoutOption(Duration.seconds(2)),
        Effect.asVoid
      )
  )

/**
 * Probes `brokers` every half second until one answers or `deadline` passes (`Option.none()` then).
 * `stillHopeful` lets the caller stop early, e.g. when the broker process it started has exited.
 */
export const waitForKafka = (
  brokers: string,
  deadline: Duration.Input,
  stillHopeful: () => boolean = () => true
): Effect.Effect<Option.Option<KafkaCluster>> =>
  Effect.gen(function*() {
    const end = Date.now() + Duration.toMillis(deadline)
    while (Date.now() < end && stillHopeful()) {
      const answer = yield* probeKafka(brokers, Duration.millis(Math.max(500, Math.min(3_000, end - Date.now()))))
      if (Option.isSome(answer)) return answer
      yield* Effect.sleep(Duration.millis(500))
    }
    return Option.none<KafkaCluster>()
  })

/**
 * Whether something accepts TCP connections on `host:port`: tells "nothing there" apart from "a
 * program that is not (yet) a Kafka broker holds the port".
 */
export const portAccepts = (host: string, port: number, timeoutMs = 1_000): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const socket = connect({ host, port })
    const done = (accepted: boolean) => {
      socket.destroy()
      resume(Effect.succeed(accepted))
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
    return Effect.sync(() => socket.destroy())
  })
