/**
 * The service's settings, read once from the environment (flags override them per command):
 * Kafka, MySQL, the lake (a folder or a bucket), the consumer group, windows and Parquet options.
 */
import * as path from "node:path"
import { Config, Duration, Effect, Option, Redacted, Schema, SchemaGetter } from "effect"
import type { Compression } from "../sinks/lake/ParquetFile.ts"
import { DEFAULT_MYSQL_URL } from "../sinks/warehouse/ConnectionUrl.ts"
import { defaultKeyFile } from "./AnonymizationKey.ts"
import { type LakeLocation, lakeFolder, parseLakeUrl, type S3Settings } from "./LakeChoice.ts"
import { defaultDecodePolicy } from "../topology/Decode.ts"
import { defaultWindowLimits, type WindowLimits } from "../topology/Window.ts"

export interface SettingsShape {
  readonly brokers: ReadonlyArray<string>
  readonly mysqlUrl: Redacted.Redacted<string>
  /** True when MYSQL_URL was given explicitly (no embedded fallback then). */
  readonly mysqlUrlExplicit: boolean
  /** `SLUICE_LAKE_URL` (`file:///…` or `s3://bucket/prefix`) when set, else the folder `SLUICE_LAKE_DIR`. */
  readonly lake: LakeLocation
  /** The endpoint and region of an S3 lake (credentials come from the AWS chain, never from here). */
  readonly s3: S3Settings
  readonly group: string
  readonly clientId: string
  /** Static group membership: a restarted instance with the same id takes its partitions back at once. */
  readonly instanceId: string | undefined
  readonly sessionTimeoutMs: number
  readonly topic: string
  /** The compacted topic of EUR rates; the built-in table is used when it does not exist. */
  readonly ratesTopic: string
  /** Which sinks `run` writes to. */
  readonly sinks: ReadonlyArray<SinkName>
  /** `auto`: MYSQL_URL if set, else the default MySQL if it answers, else the embedded file. */
  readonly warehouse: "auto" | "mysql" | "embedded"
  /** The embedded warehouse, used when no MySQL is configured or answers. */
  readonly warehouseFile: string
  readonly window: WindowLimits
  /** The memory budget, in MiB, that open windows and fetched batches share over every partition. */
  readonly memoryMb: number
  readonly compression: Compression
  /** Worker threads that encode Parquet (0: in the main thread). */
  readonly encodeWorkers: number
  readonly checkpointInterval: number
  readonly maxMessageBytes: number
  readonly drainTimeoutMs: number
  /** How long a lost dependency (broker, MySQL, the lake's disk) is waited for before the service fails. */
  readonly outageTimeoutMs: number
  /** What to do when a partition's next offset was deleted from Kafka before any sink read it. */
  readonly onOffsetOutOfRange: "fail" | "earliest"
  /** A catch-up run fails when partitions owned elsewhere make no progress for this long. */
  readonly stalledAfterMs: number
  /** How often `run` snapshots the lake's aggregate tables (and once more at the end of a catch-up run). */
  readonly snapshotEveryMs: number
  /** Snapshots of each table whose files stay on disk. */
  readonly snapshotKeep: number
  /** A crash point of the commit protocols to die at (`<point>[@n]`), for the exactly-once tests. */
  readonly crashAt: string | undefined
  /** The compacted topic of blacklist entries (an empty blacklist while it does not exist). */
  readonly blacklistTopic: string
  /** The key of the anonymized feed's pseudonyms (hex), when configured; else the key file. */
  readonly anonymizationKey: Redacted.Redacted<string> | undefined
  /** The key file; undefined for a lake in a bucket, whose instances must be given the key they share. */
  readonly anonymizationKeyFile: string | undefined
  /** Which derived streams and tables `run` also publishes to Kafka topics, exactly once. */
  readonly publish: ReadonlyArray<PublishName>
  /** Prepended to the output topics' names (several deployments on one cluster). */
  readonly publishPrefix: string
  readonly ventes: VenteSettings | undefined
  /** Where `run` serves /healthz, /readyz, /metrics and the dashboard. */
  readonly http: HttpSettings
}

export interface HttpSettings {
  readonly host: string
  /** 0: any free port. */
  readonly port: number
  /** True when SLUICE_HTTP_PORT was set: failing to bind it stops the service (else a warning). */
  readonly explicit: boolean
}

export const DEFAULT_HTTP_PORT = 9464

export type PublishName = "anonymized" | "blacklisted" | "tables"

/** The sales flow's settings; absent when `SLUICE_VENTES_TOPIC` is `off`. */
export interface VenteSettings {
  readonly topic: string
  /** How far behind the largest horodatage seen a partition's watermark lies. */
  readonly watermarkMs: number
  /** The size of the tumbling windows of `ventes_fenetres`. */
  readonly windowMs: number
}

export type SinkName = "lake" | "warehouse"

export const TRANSACTION_TOPIC = "transaction_stream"

/** `SLUICE_MEMORY_MB` when unset. */
export const DEFAULT_MEMORY_MB = 64

const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0, { expected: "an integer > 0" })))

const int = (name: string, fallback: number) =>
  Config.schema(Schema.NumberFromString.pipe(Schema.decodeTo(PositiveInt)), name).pipe(Config.withDefault(fallback))

/** Reads the settings from the environment, with the documented defaults. */
export const loadSettings = Effect.gen(function*() {
  const brokers = yield* Config.String("KAFKA_BROKERS").pipe(Config.withDefault("127.0.0.1:9092"))
  const mysql = yield* Config.option(Config.Redacted("MYSQL_URL"))
  const lakeDir = yield* Config.String("SLUICE_LAKE_DIR").pipe(Config.withDefault("./data/lake"))
  const lakeUrl = yield* Config.option(Config.NonEmptyString("SLUICE_LAKE_URL"))
  const lake = lakeUrl._tag === "Some" ? yield* parseLakeUrl(lakeUrl.value, "SLUICE_LAKE_URL") : lakeFolder(lakeDir)
  const endpoint = yield* Config.option(Config.NonEmptyString("AWS_ENDPOINT_URL_S3"))
  const region = yield* Config.option(Config.NonEmptyString("AWS_REGION"))
  // Files beside a local lake; for a lake in a bucket, in the working directory's data/ folder.
  const besideLake = lake.kind === "file" ? path.dirname(lake.dir) : path.resolve("data")
  const group = yield* Config.String("SLUICE_GROUP").pipe(Config.withDefault("sluice"))
  const instanceId = yield* Config.option(Config.NonEmptyString("SLUICE_INSTANCE_ID"))
  const topic = yield* Config.NonEmptyString("SLUICE_TOPIC").pipe(Config.withDefault(TRANSACTION_TOPIC))
  const ratesTopic = yield* Config.NonEmptyString("SLUICE_RATES_TOPIC").pipe(Config.withDefault("exchange_rates"))
  const publish = yield* Config.schema(
    Schema.String.pipe(
      Schema.decodeTo(Schema.Array(Schema.Literals(["anonymized", "blacklisted", "tables"])), {
        decode: SchemaGetter.transform((s: string) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0) as Array<PublishName>),
        encode: SchemaGetter.transform((a: ReadonlyArray<string>) => a.join(","))
      })
    ),
    "SLUICE_PUBLISH"
  ).pipe(Config.withDefault([] as ReadonlyArray<PublishName>))
  const anonymizationKey = yield* Config.option(Config.Redacted("SLUICE_ANONYMIZATION_KEY"))
  const ventesTopic = yield* Config.String("SLUICE_VENTES_TOPIC").pipe(Config.withDefault("ventes_stream"))
  const anonymizationKeyFile = yield* Config.String("SLUICE_ANONYMIZATION_KEY_FILE").pipe(Config.withDefault(""))
  const sinks = yield* Config.schema(
    Schema.String.pipe(
      Schema.decodeTo(Schema.Array(Schema.Literals(["lake", "warehouse"])), {
        decode: SchemaGetter.transform((s: string) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0) as Array<SinkName>),
        encode: SchemaGetter.transform((a: ReadonlyArray<string>) => a.join(","))
      })
    ),
    "SLUICE_SINKS"
  ).pipe(Config.withDefault(["lake", "warehouse"] as ReadonlyArray<SinkName>))
  const warehouseFile = yield* Config.String("SLUICE_WAREHOUSE_FILE").pipe(Config.withDefault(""))
  const warehouse = yield* Config.Literals(["auto", "mysql", "embedded"] as const, "SLUICE_WAREHOUSE").pipe(
    Config.withDefault("auto" as const)
  )
  const compression = yield* Config.Literals(["zstd", "snappy", "uncompressed"] as const, "SLUICE_COMPRESSION").pipe(
    Config.withDefault("zstd" as const)
  )
  const onOffsetOutOfRange = yield* Config.Literals(["fail", "earliest"] as const, "SLUICE_ON_OFFSET_OUT_OF_RANGE").pipe(
    Config.withDefault("fail" as const)
  )
  const sessionTimeoutMs = yield* int("SLUICE_SESSION_TIMEOUT_MS", 30_000)
  const httpPort = yield* Config.option(
    Config.schema(
      Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 65_535 }))))),
      "SLUICE_HTTP_PORT"
    )
  )
  const settings: SettingsShape = {
    brokers: brokers.split(",").map((b) => b.trim()).filter((b) => b.length > 0),
    mysqlUrl: mysql._tag === "Some" ? mysql.value : Redacted.make(DEFAULT_MYSQL_URL),
    mysqlUrlExplicit: mysql._tag === "Some",
    lake,
    s3: {
      endpoint: Option.getOrUndefined(endpoint) ?? Option.getOrUndefined(yield* Config.option(Config.NonEmptyString("AWS_ENDPOINT_URL"))),
      region: Option.getOrUndefined(region) ?? Option.getOrUndefined(yield* Config.option(Config.NonEmptyString("AWS_DEFAULT_REGION"))),
      partSize: (yield* int("SLUICE_S3_PART_SIZE_MIB", 16)) * 1024 * 1024
    },
    group,
    clientId: `sluice-${process.pid}`,
    instanceId: instanceId._tag === "Some" ? instanceId.value : undefined,
    sessionTimeoutMs,
    topic,
    ratesTopic,
    sinks,
    warehouse,
    warehouseFile: path.resolve(warehouseFile || path.join(besideLake, "warehouse.sqlite")),
    window: {
      maxRecords: yield* int("SLUICE_WINDOW_MAX_RECORDS", defaultWindowLimits.maxRecords),
      maxBytes: yield* int("SLUICE_WINDOW_MAX_BYTES", defaultWindowLimits.maxBytes),
      maxAgeMs: yield* int("SLUICE_WINDOW_MAX_AGE_MS", defaultWindowLimits.maxAgeMs)
    },
    memoryMb: yield* int("SLUICE_MEMORY_MB", DEFAULT_MEMORY_MB),
    compression,
    encodeWorkers: yield* Config.schema(Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))))), "SLUICE_ENCODE_WORKERS").pipe(
      Config.withDefault(1)
    ),
    checkpointInterval: yield* int("SLUICE_CHECKPOINT_INTERVAL", 10),
    maxMessageBytes: yield* int("SLUICE_MAX_MESSAGE_BYTES", defaultDecodePolicy.maxMessageBytes),
    drainTimeoutMs: yield* int("SLUICE_DRAIN_TIMEOUT_MS", 30_000),
    outageTimeoutMs: yield* int("SLUICE_OUTAGE_TIMEOUT_MS", 300_000),
    onOffsetOutOfRange,
    // The group notices a dead member after its session timeout and reassigns within a rebalance.
    stalledAfterMs: yield* int("SLUICE_STALLED_AFTER_MS", 2 * sessionTimeoutMs + 30_000),
    snapshotEveryMs: Duration.toMillis(yield* Config.Duration("SLUICE_SNAPSHOT_EVERY").pipe(Config.withDefault(Duration.minutes(10)))),
    snapshotKeep: yield* int("SLUICE_SNAPSHOT_KEEP", 7),
    crashAt: Option.getOrUndefined(yield* Config.option(Config.NonEmptyString("SLUICE_CRASH_AT"))),
    blacklistTopic: yield* Config.NonEmptyString("SLUICE_BLACKLIST_TOPIC").pipe(Config.withDefault("blacklist")),
    anonymizationKey: Option.getOrUndefined(anonymizationKey),
    anonymizationKeyFile: anonymizationKeyFile
      ? path.resolve(anonymizationKeyFile)
      : lake.kind === "file"
      ? defaultKeyFile(lake.dir)
      : undefined,
    publish,
    publishPrefix: yield* Config.String("SLUICE_PUBLISH_PREFIX").pipe(Config.withDefault("")),
    // An empty variable reads as unset: `off` is how the sales flow is left out.
    ventes: ["", "off"].includes(ventesTopic.trim())
      ? undefined
      : {
        topic: ventesTopic.trim(),
        watermarkMs: Duration.toMillis(yield* Config.Duration("SLUICE_VENTES_WATERMARK").pipe(Config.withDefault(Duration.minutes(10)))),
        windowMs: Duration.toMillis(yield* Config.Duration("SLUICE_VENTES_WINDOW").pipe(Config.withDefault(Duration.hours(1))))
      },
    http: {
      host: yield* Config.NonEmptyString("SLUICE_HTTP_HOST").pipe(Config.withDefault("127.0.0.1")),
      port: Option.getOrElse(httpPort, () => DEFAULT_HTTP_PORT),
      explicit: Option.isSome(httpPort)
    }
  }
  return settings
})
