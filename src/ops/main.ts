/**
 * The `sluice` command line: parses flags (effect/cli), loads settings, runs one command, and
 * turns its outcome into an exit code with a one-line reason on failure.
 */
import { NodeServices } from "@effect/platform-node"
import { Cause, Console, Deferred, Effect, Exit, Layer, Option, Runtime } from "effect"
import { Argument, CliOutput, Command, Flag } from "effect/cli"
import { backfill, BackfillInputError, backfillRange, formatBackfill, formatBackfillRange } from "./Backfill.ts"
import { runDemo } from "./Demo.ts"
import { serveDashboard } from "./Endpoints.ts"
import { readAll, readFigures } from "./Figures.ts"
import { asFlag, feedAccess } from "./Reader.ts"
import { consoleLayer, logFormat, loggerLayer } from "./Logging.ts"
import { formatReport } from "./Report.ts"
import { doctorCommand } from "./DoctorCommand.ts"
import { feedsCommand } from "./FeedsCommand.ts"
import { formatFeeds, formatRun, summarizeFeeds } from "./LakeReport.ts"
import { topicId } from "./KafkaAdmin.ts"
import { describeLake, lakeFolder, openLake, parseLakeUrl } from "./LakeChoice.ts"
import { lakeFiles } from "./LakeFiles.ts"
import { formatVacuum, logRetentionHoursFlag, vacuumLake } from "./Maintenance.ts"
import { compactCommand, retentionCommand } from "./MaintenanceCommand.ts"
import { metadataCommand } from "./MetadataCommand.ts"
import { permissionsCommand } from "./PermissionsCommand.ts"
import { produce, type ProduceKind, ProduceKinds } from "./Produce.ts"
import { progressWanted } from "./Progress.ts"
import { queryCommand } from "./QueryCommand.ts"
import { scheduleCommand } from "./ScheduleCommand.ts"
import { describeService, runService, transactionFeeds } from "./Service.ts"
import { formatPeakRss, snapshotProcessesPeakRssMb } from "./LakeSnapshot.ts"
import { venteFeeds } from "./VenteFlow.ts"
import { snapshotTables, TABLES } from "./TableSnapshots.ts"
import { loadSettings, type SettingsShape } from "./Settings.ts"
import { gracefulStop, runMain } from "./Signals.ts"
import * as Stack from "./Stack.ts"
import { type TopicCheck, verify } from "./Verify.ts"
import { armCrashPoint } from "../sinks/CrashPoint.ts"
import { redactSecrets } from "../sinks/warehouse/ConnectionUrl.ts"
import { migrate } from "../sinks/warehouse/Migrator.ts"
import { openWarehouse } from "./WarehouseChoice.ts"

const shared = {
  brokers: Flag.String("brokers").pipe(Flag.withDescription("Kafka bootstrap servers (default: $KAFKA_BROKERS or 127.0.0.1:9092)"), Flag.optional),
  lakeDir: Flag.String("lake-dir").pipe(Flag.withDescription("Lake folder (default: $SLUICE_LAKE_URL, else $SLUICE_LAKE_DIR or ./data/lake)"), Flag.optional),
  lakeUrl: Flag.String("lake-url").pipe(
    Flag.withDescription("The lake as a URL, file:///path or s3://bucket/prefix (default: $SLUICE_LAKE_URL); wins over --lake-dir"),
    Flag.optional
  ),
  group: Flag.String("group").pipe(Flag.withDescription("Consumer group (default: $SLUICE_GROUP or sluice)"), Flag.optional)
}

const atLeast = (min: number) => Flag.filter((n: number) => n >= min, (n: number) => `must be >= ${min}, got ${n}`)

const root = Command.make("sluice").pipe(
  Command.withSharedFlags(shared),
  Command.withDescription("Kafka transactions into a Parquet + Delta Lake lake and a MySQL warehouse, exactly once")
)

/** Settings from the environment, with the root command's flags on top. */
const settings = Effect.gen(function*() {
  const flags = yield* root
  const base = yield* loadSettings
  armCrashPoint(base.crashAt)
  const lake = Option.isSome(flags.lakeUrl)
    ? yield* parseLakeUrl(flags.lakeUrl.value, "--lake-url")
    : Option.isSome(flags.lakeDir)
    ? lakeFolder(flags.lakeDir.value)
    : base.lake
  return {
    ...base,
    ...(Option.isSome(flags.brokers) ? { brokers: flags.brokers.value.split(",").map((b) => b.trim()) } : {}),
    lake,
    ...(Option.isSome(flags.group) ? { group: flags.group.value } : {})
  } satisfies SettingsShape
})

const run = Command.make(
  "run",
  {
    untilIdle: Flag.Int("until-idle").pipe(
      Flag.withDescription("Exit 0 once every partition is committed up to Kafka's end and nothing arrived for this many ms"),
      Flag.optional
    ),
    noMigrate: Flag.Boolean("no-migrate").pipe(Flag.withDescription("Do not apply pending warehouse migrations at start"), Flag.withDefault(false)),
    onOffsetOutOfRange: Flag.Literals("on-offset-out-of-range", ["fail", "earliest"] as const).pipe(
      Flag.withDescription(
        "When a partition's next offset was deleted from Kafka (retention) before any sink read it: fail (default: $SLUICE_ON_OFFSET_OUT_OF_RANGE or fail) or skip to the earliest offset left"
      ),
      Flag.optional
    )
  },
  Effect.fn(function*({ untilIdle, noMigrate, onOffsetOutOfRange }) {
    const base = yield* settings
    const s = Option.isSome(onOffsetOutOfRange) ? { ...base, onOffsetOutOfRange: onOffsetOutOfRange.value } : base
    return yield* Effect.gen(function*() {
      const sales = s.ventes !== undefined && s.sinks.includes("lake") ? s.ventes.topic : undefined
      yield* Console.log(`sluice run: ${[s.topic, sales].filter((t) => t !== undefined).join(" and ")} from ${s.brokers.join(",")} (group ${s.group}) into ${s.sinks.join(" and ")}`)
      const summary = yield* runService(s, { untilIdleMs: Option.getOrUndefined(untilIdle), migrate: !noMigrate })
      yield* Console.log(formatRun(summary))
      if (s.sinks.includes("lake")) {
        const feeds = yield* Effect.scoped(Effect.gen(function*() {
          const store = yield* openLake(s, { writes: false })
          const transactions = yield* summarizeFeeds(store, s.topic, yield* topicId(s.brokers, s.topic), transactionFeeds(s.topic))
          const saleFeeds = sales === undefined ? [] : yield* summarizeFeeds(store, sales, yield* topicId(s.brokers, sales), venteFeeds(sales))
          return [...transactions, ...saleFeeds]
        }))
        yield* Console.log(formatFeeds(feeds))
      }
      if (summary.warehouseLine) yield* Console.log(summary.warehouseLine)
      yield* Console.log(formatPeakRss(process.resourceUsage().maxRSS / 1024, snapshotProcessesPeakRssMb()))
      if (!summary.drainedInTime) return yield* Effect.fail(new Error("drain deadline passed with windows uncommitted"))
    }).pipe(Effect.provide(consoleLayer(yield* logFormat)))
  })
).pipe(Command.withDescription("Run the service: consume, write the lake exactly once, until SIGTERM (or idle)"))

const ratio = (name: string) =>
  Flag.Finite(name).pipe(Flag.filter((r: number) => r >= 0 && r <= 1, (r) => `must be between 0 and 1, got ${r}`))

/** What each kind of message defaults to: the seeds' topics, four partitions for transactions and one for sales. */
const produceDefaults: Record<ProduceKind, { readonly topic: string; readonly partitions: number }> = {
  transactions: { topic: "transaction_stream", partitions: 4 },
  ventes: { topic: "ventes_stream", partitions: 1 }
}

const produceCommand = Command.make(
  "produce",
  {
    kind: Flag.Literals("kind", ProduceKinds).pipe(
      Flag.withDescription("transactions (keyed by transaction id) or ventes, the sales pipeline's messages (keyed by client id)"),
      Flag.withDefault("transactions")
    ),
    topic: Flag.String("topic").pipe(Flag.withDescription("Topic to produce to (default: transaction_stream, or ventes_stream with --kind ventes)"), Flag.optional),
    messages: Flag.Int("messages").pipe(Flag.withDescription("How many messages"), atLeast(0)),
    rate: Flag.Int("rate").pipe(Flag.withDescription("Messages per second (0: as fast as possible)"), atLeast(0), Flag.withDefault(0)),
    partitions: Flag.Int("partitions").pipe(
      Flag.withDescription("Partitions when the topic is created (default: 4, or 1 with --kind ventes)"),
      atLeast(1),
      Flag.optional
    ),
    badRatio: ratio("bad-ratio").pipe(Flag.withDescription("Share of malformed messages, 0..1"), Flag.withDefault(0)),
    lateRatio: ratio("late-ratio").pipe(
      Flag.withDescription("With --kind ventes: share of sales whose event time lies 15 to 90 minutes behind the stream, 0..1"),
      Flag.optional
    ),
    seed: Flag.Int("seed").pipe(Flag.withDescription("Seed of the generator (same seed, same messages)"), Flag.withDefault(42)),
    eventDays: Flag.Finite("event-days").pipe(
      Flag.withDescription("Transactions: spread their event times over this many days before noon UTC, 22 Nov 2026 (0.25: one day partition; default 5)"),
      Flag.filter((d: number) => d > 0, (d) => `must be > 0 days, got ${d}`),
      Flag.optional
    ),
    transactionSize: Flag.Int("transaction-size").pipe(
      Flag.withDescription("Send in Kafka transactions of this many messages, as an exactly-once producer does (0: no transactions)"),
      atLeast(0),
      Flag.withDefault(0)
    ),
    abortEvery: Flag.Int("abort-every").pipe(
      Flag.withDescription("With --transaction-size: abort every n-th transaction (0: none); aborted messages are not counted as produced"),
      atLeast(0),
      Flag.withDefault(0)
    )
  },
  Effect.fn(function*(f) {
    if (f.kind !== "ventes" && Option.isSome(f.lateRatio)) {
      return yield* Effect.fail(new Error("--late-ratio applies to --kind ventes only (transactions spread their event times over five days)"))
    }
    if (f.kind === "ventes" && Option.isSome(f.eventDays)) {
      return yield* Effect.fail(new Error("--event-days applies to transactions only (sales follow the clock, with --late-ratio behind it)"))
    }
    const s = yield* settings
    const topic = Option.getOrElse(f.topic, () => produceDefaults[f.kind].topic)
    const report = yield* produce({
      ...f,
      topic,
      partitions: Option.getOrElse(f.partitions, () => produceDefaults[f.kind].partitions),
      lateRatio: Option.getOrUndefined(f.lateRatio),
      eventDays: Option.getOrUndefined(f.eventDays),
      brokers: s.brokers,
      progress: progressWanted()
    })
    const aborted = report.aborted === 0 ? "" : `, and ${report.aborted.toLocaleString("en-US")} in aborted transactions`
    const late = f.kind === "ventes" ? `, ${report.late.toLocaleString("en-US")} late` : ""
    yield* Console.log(
      `produced ${report.sent.toLocaleString("en-US")} ${f.kind === "ventes" ? "sales" : "messages"} (${report.bad.toLocaleString("en-US")} malformed${late})${aborted} to ${topic} in ${(report.elapsedMs / 1000).toFixed(1)} s`
    )
  })
).pipe(Command.withDescription("Produce realistic transactions or sales (seeded, optionally with malformed and late ones)"))

/** A topic's lines of `sluice verify`: one per partition, one per earlier incarnation. */
const topicCheckLines = (check: TopicCheck): Array<string> => [
  ...check.partitions.map((p) => {
    const committed = Object.entries(p.lakeCommitted).map(([k, v]) => `${k}=${v ?? "-"}`).join(" ")
    const rows = Object.entries(p.lakeRows).map(([k, v]) => `${k}=${v}`).join(" ")
    const warehouse = p.warehouseNext === undefined ? "" : `  warehouse next=${p.warehouseNext ?? "-"}`
    const noData = p.offsetsWithoutData === 0 ? "" : `  ${p.offsetsWithoutData} offsets without data (transaction markers, aborted or compacted records)`
    return `${check.topic}/${p.partition}  kafka ${p.kafkaStart}..${p.kafkaEnd}  committed ${committed}  rows ${rows}${warehouse}${noData}  ${p.problems.length === 0 ? "OK" : "FAIL: " + p.problems.join("; ")}`
  }),
  ...check.earlierIncarnations.map((e) => {
    const committed = Object.entries(e.committed).map(([p, n]) => `${p}:${n - 1}`).join(" ") || "-"
    return `${check.topic} earlier incarnation ${e.topicId === "" ? "(id not recorded)" : e.topicId} in the ${e.where}: ${e.where === "lake" ? `${e.rows.toLocaleString("en-US")} rows, ` : ""}committed ${committed} (kept; not checked against the current topic ${check.topicId})`
  })
]

const verifyCommand = Command.make(
  "verify",
  { json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON"), Flag.withDefault(false)) },
  Effect.fn(function*({ json }) {
    const s = yield* settings
    const report = yield* verify(s)
    if (json) {
      yield* Console.log(JSON.stringify(report, null, 2))
    } else {
      for (const line of [...topicCheckLines(report), ...(report.sales === undefined ? [] : topicCheckLines(report.sales))]) yield* Console.log(line)
      if (report.warehouse) {
        yield* Console.log(`warehouse: ${report.warehouse.description}`)
        for (const f of report.warehouse.facts) {
          yield* Console.log(
            f.mismatches.length === 0
              ? `${f.fact}: equals the lake's recomputation (${f.keys.toLocaleString("en-US")} user-days, ${f.transactions.toLocaleString("en-US")} transactions)`
              : `${f.fact}: FAIL\n  ${f.mismatches.join("\n  ")}`
          )
        }
      }
      yield* Console.log(report.ok ? "verify: OK" : "verify: FAILED")
    }
    if (!report.ok) return yield* Effect.fail(new Error("the lake does not match Kafka"))
  })
).pipe(Command.withDescription("Reconcile Kafka offsets with the lake (rows, dead letters, duplicates); exit 1 on any gap"))

const backfillCommand = Command.make(
  "backfill",
  {
    stream: Flag.String("stream").pipe(Flag.withDescription("The source topic whose days are backfilled: the transaction topic ($SLUICE_TOPIC or transaction_stream)")),
    date: Flag.String("date").pipe(Flag.withDescription("The UTC day, YYYY-MM-DD, of the records' Kafka timestamps"), Flag.optional),
    from: Flag.String("from").pipe(Flag.withDescription("With --to: the first UTC day, YYYY-MM-DD, of a range backfilled one day at a time"), Flag.optional),
    to: Flag.String("to").pipe(Flag.withDescription("With --from: the last UTC day of the range, included (at most 366 days)"), Flag.optional),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON"), Flag.withDefault(false))
  },
  Effect.fn(function*({ stream, date, from, to, json }) {
    const s = yield* settings
    const print = (report: unknown, text: string) => Console.log(json ? JSON.stringify(report, null, 2) : text)
    if (Option.isSome(date) && Option.isNone(from) && Option.isNone(to)) {
      const report = yield* backfill(s, { stream, date: date.value, progress: progressWanted() })
      return yield* print(report, formatBackfill(report))
    }
    if (Option.isNone(date) && Option.isSome(from) && Option.isSome(to)) {
      const report = yield* backfillRange(s, { stream, from: from.value, to: to.value, progress: progressWanted() })
      return yield* print(report, formatBackfillRange(report))
    }
    return yield* new BackfillInputError({ reason: "backfill takes either --date YYYY-MM-DD or both --from YYYY-MM-DD and --to YYYY-MM-DD" })
  })
).pipe(Command.withDescription("Write to the lake what it lacks of one day, or a range of days, of the transaction topic (rows and dead letters), safe to run twice or beside sluice run"))

const migrateCommand = Command.make("migrate", {}, () =>
  Effect.scoped(
    Effect.gen(function*() {
      const s = yield* settings
      const warehouse = yield* openWarehouse(s)
      const report = yield* migrate(warehouse)
      yield* Console.log(`warehouse: ${warehouse.description}`)
      yield* Console.log(
        report.applied.length === 0
          ? `nothing to apply (${report.alreadyApplied} migrations already applied)`
          : `applied ${report.applied.map((m) => m.file).join(", ")}`
      )
    })
  )).pipe(Command.withDescription("Apply the warehouse's pending SQL migrations (safe to run twice)"))

const stackUp = Command.make(
  "up",
  { s3: Flag.Boolean("s3").pipe(Flag.withDescription("Also start a local S3-compatible server (S3Proxy) with a bucket for the lake"), Flag.withDefault(false)) },
  ({ s3 }) =>
    Effect.gen(function*() {
      const options = yield* Stack.stackOptions
      yield* Stack.up(options)
      if (s3) yield* Stack.upS3(options)
    })
).pipe(Command.withDescription("Start a local Kafka (KRaft) broker and check MySQL; with --s3, an S3 server for the lake too"))
const stackDown = Command.make(
  "down",
  { purge: Flag.Boolean("purge").pipe(Flag.withDescription("Also delete the broker's data and the S3 server's buckets"), Flag.withDefault(false)) },
  ({ purge }) => Stack.stackOptions.pipe(Effect.flatMap((options) => Stack.down({ ...options, purge })))
).pipe(Command.withDescription("Stop the local broker (and the S3 server, if started)"))
const stackStatus = Command.make("status", {}, () =>
  Effect.gen(function*() {
    const status = yield* Stack.status(yield* Stack.stackOptions)
    yield* Console.log(status.kafka.message)
    yield* Console.log(status.mysql.message)
    if (status.s3 !== undefined) yield* Console.log(status.s3)
    if (!status.kafka.running) return yield* Effect.fail(new Error("Kafka is not running"))
  })).pipe(Command.withDescription("Say what runs: Kafka and MySQL"))
const stack = Command.make("stack").pipe(
  Command.withSubcommands([stackUp, stackDown, stackStatus]),
  Command.withDescription("The local development stack")
)

const demo = Command.make(
  "demo",
  { messages: Flag.Int("messages").pipe(Flag.withDescription("Transactions to produce"), atLeast(1), Flag.withDefault(100_000)) },
  Effect.fn(function*({ messages }) {
    yield* runDemo(yield* settings, { messages })
  })
).pipe(Command.withDescription("Start the stack, produce sample transactions, run until caught up, print what landed"))

const vacuum = Command.make(
  "vacuum",
  {
    retainHours: Flag.Finite("retain-hours").pipe(
      Flag.withDescription("Keep files that left the table (or were never committed) less than this many hours ago: a paused writer may still commit its own"),
      Flag.filter((h: number) => h >= 0, (h) => `must be >= 0, got ${h}`),
      Flag.withDefault(168)
    ),
    logRetentionHours: logRetentionHoursFlag,
    dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("List what would be deleted, delete nothing"), Flag.withDefault(false)),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON"), Flag.withDefault(false))
  },
  Effect.fn(function*({ retainHours, logRetentionHours, dryRun, json }) {
    const s = yield* settings
    if (retainHours < 1) yield* Effect.logWarning(`--retain-hours ${retainHours}: files of a writer that is still committing could be deleted`)
    const reports = yield* Effect.scoped(Effect.flatMap(
      openLake(s, { writes: false }),
      (store) => vacuumLake(store, { retainHours, dryRun, logRetentionHours: Option.getOrUndefined(logRetentionHours) })
    ))
    yield* Console.log(json ? JSON.stringify(reports, null, 2) : formatVacuum(reports, dryRun))
  })
).pipe(Command.withDescription("Delete the lake's files that no table version names, older than the retention (Delta's VACUUM), and log commits and checkpoints past the log retention that a later checkpoint makes unneeded"))

const snapshot = Command.make(
  "snapshot",
  {
    table: Flag.String("table").pipe(Flag.withDescription(`Only this table (${TABLES.map((t) => t.name).join(", ")})`), Flag.optional),
    keep: Flag.Int("keep").pipe(Flag.withDescription("Snapshots of each table whose files stay on disk (default: $SLUICE_SNAPSHOT_KEEP or 7)"), atLeast(1), Flag.optional)
  },
  Effect.fn(function*({ table, keep }) {
    const s = yield* settings
    if (Option.isSome(table) && !TABLES.some((t) => t.name === table.value)) {
      return yield* Effect.fail(new Error(`--table: no table ${table.value}; the tables are ${TABLES.map((t) => t.name).join(", ")}`))
    }
    const written = yield* Effect.scoped(Effect.flatMap(openLake(s, { writes: true }), (store) =>
      snapshotTables({ store, keep: Option.getOrElse(keep, () => s.snapshotKeep), only: Option.isSome(table) ? [table.value] : undefined })))
    for (const w of written) yield* Console.log(`tables/${w.table}: version ${w.snapshot}, ${w.rows.toLocaleString("en-US")} rows${w.deletedFiles > 0 ? `, ${w.deletedFiles} files of older versions deleted` : ""}`)
  })
).pipe(Command.withDescription("Snapshot the lake's aggregate tables now, from the committed transactions (one Delta commit per table)"))

const topologyCommand = Command.make("topology", {}, () =>
  Effect.gen(function*() {
    const s = yield* settings
    yield* Console.log(describeService(s))
  })).pipe(Command.withDescription("Print the topology: sources, processors and sinks, with each feed's path"))

const dashboard = Command.make(
  "dashboard",
  {
    port: Flag.Int("port").pipe(Flag.withDescription("Port to serve the page on (0: any free port)"), atLeast(0), Flag.withDefault(9465)),
    metrics: Flag.String("metrics").pipe(
      Flag.withDescription("A running service's /metrics, for the live section (default: http://127.0.0.1:$SLUICE_HTTP_PORT/metrics, 9464)"),
      Flag.optional
    ),
    as: asFlag("Show the page")
  },
  Effect.fn(function*({ port, metrics, as }) {
    const s = yield* settings
    const metricsUrl = Option.getOrElse(metrics, () => `http://127.0.0.1:${s.http.port}/metrics`)
    yield* Effect.scoped(Effect.gen(function*() {
      const stop = yield* gracefulStop
      const store = yield* openLake(s, { writes: false })
      const access = yield* feedAccess(s, as)
      const served = yield* serveDashboard({ host: s.http.host, port, explicit: true }, { lake: { store, files: yield* lakeFiles(store) }, topic: s.topic, access }, metricsUrl)
      const reader = Option.match(as, { onNone: () => "", onSome: (email) => ` as ${email}` })
      yield* Console.log(`dashboard of ${describeLake(s.lake, s.s3)}${reader} on ${served?.url ?? "?"}/ (live figures from ${metricsUrl}); Ctrl-C stops it`)
      yield* Deferred.await(stop)
    }))
  })
).pipe(Command.withDescription("Serve the dashboard: the lake's figures as charts and tables, and a service's live throughput and lag"))

const report = Command.make(
  "report",
  {
    part: Argument.Literals("pipeline", ["all", "transactions", "ventes"] as const).pipe(
      Argument.withDescription("transactions (top users, amounts by country, payment method and day, dead letters), ventes (top 10 clients, revenue by country and client type) or all"),
      Argument.withDefault("all")
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the figures as JSON"), Flag.withDefault(false)),
    as: asFlag("Report")
  },
  Effect.fn(function*({ part, json, as }) {
    const s = yield* settings
    const figures = yield* Effect.scoped(Effect.gen(function*() {
      const store = yield* openLake(s, { writes: false })
      const access = yield* feedAccess(s, as)
      const canRead = access === undefined ? readAll : yield* access
      return yield* readFigures({ store, files: yield* lakeFiles(store) }, s.topic, canRead)
    }))
    const shown = part === "ventes"
      ? { lake: figures.lake, at: figures.at, sales: figures.sales }
      : part === "transactions"
      ? { ...figures, sales: undefined }
      : figures
    yield* Console.log(json ? JSON.stringify(shown, null, 2) : formatReport(figures, part))
  })
).pipe(Command.withDescription("Print the dashboard's figures: top users, amounts by country, payment method and day, dead letters (transactions); top clients, revenue by country and client type (ventes)"))

const cli = root.pipe(
  Command.withSubcommands([
    run,
    produceCommand,
    verifyCommand,
    backfillCommand,
    migrateCommand,
    snapshot,
    vacuum,
    compactCommand(settings),
    retentionCommand(settings),
    scheduleCommand(settings),
    topologyCommand,
    stack,
    demo,
    dashboard,
    report,
    feedsCommand(settings),
    permissionsCommand(settings),
    queryCommand(settings),
    metadataCommand(settings),
    doctorCommand(settings)
  ]),
  Command.run({ version: "0.1.0" })
)

/** Bad input is answered by the one-line reason the runtime prints, not by the whole help. */
const presenter = CliOutput.layerPresenter({
  present: (event) => (event._tag === "InvalidInvocation" ? Effect.void : CliOutput.defaultPresenter.present(event))
})

/** The reason of a failure, on one line, without stack traces or secrets; undefined when help was shown instead. */
const reasonOf = (cause: Cause.Cause<unknown>): string | undefined => {
  const error = Cause.squash(cause) as { message?: string; _tag?: string; errors?: ReadonlyArray<{ message: string }>; commandPath?: ReadonlyArray<string> } | undefined
  if (error?._tag === "ShowHelp") {
    const first = error.errors?.[0]
    if (first === undefined) return undefined
    const command = (error.commandPath ?? ["sluice"]).join(" ")
    return `${command}: ${first.message.split("\n")[0]} (see: ${command} --help)`
  }
  const text = error?.message ?? String(error)
  // A setting that does not parse names its variable on the message's second line: say it first.
  const variable = /at \["([A-Z0-9_]+)"\]/.exec(text)?.[1]
  const first = text.split("\n")[0]!
  return redactSecrets(variable === undefined ? first : `${variable}: ${first.replace(/^\w*Error\(/, "")}`)
}

cli.pipe(
  Effect.provide(Layer.mergeAll(NodeServices.layer, presenter, Layer.unwrap(Effect.gen(function*() {
    return loggerLayer(yield* logFormat)
  })))),
  runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit)) return onExit(0)
      if (Cause.hasInterruptsOnly(exit.cause)) return onExit(130)
      const reason = reasonOf(exit.cause)
      if (reason !== undefined) process.stderr.write(`${reason.startsWith("sluice") ? "" : "sluice: "}${reason}\n`)
      return Runtime.defaultTeardown(exit, (code) => onExit(code === 0 ? 1 : code))
    }
  })
)
