/**
 * `sluice feeds list|show|add|update|enable|disable|archive|restore|delete`: the lake's feeds, the
 * built-in ones and those declared in the registry (`<lake>/_feeds`), and the registry's changes.
 */
import { readFile } from "node:fs/promises"
import { Console, Effect, Option, Result } from "effect"
import { Command, Flag } from "effect/cli"
import { checkPartitionField, type FeedField, type FeedSchema, formatFeedSchema, formatType, parseFeedSchema } from "../domain/FeedSchema.ts"
import { type FeedEntry, feedFolder, FeedTypes } from "../feeds/FeedEntry.ts"
import { type FeedRegistry, type FeedRegistryError, makeFeedRegistry } from "../feeds/FeedRegistry.ts"
import { lakeRegistryStore, REGISTRY_ROOT } from "../feeds/RegistryStore.ts"
import { readSnapshot } from "../sinks/lake/DeltaLog.ts"
import type { LakeIOError, Store } from "../sinks/lake/store/Store.ts"
import { lakeLocator, openLake } from "./LakeChoice.ts"
import type { SettingsShape } from "./Settings.ts"
import { TABLES } from "./TableSnapshots.ts"
import { formatCount, formatMiB, formatTable } from "./TextTable.ts"
import { transactionFeeds } from "./TransactionFlow.ts"

/** A feed the service's code defines: not in the registry, not changed by these commands. */
export interface BuiltInFeed {
  readonly name: string
  /** The lake folder of its table, relative to the lake. */
  readonly folder: string
  readonly topic: string
  readonly description: string
}

/** The feeds the code defines for these settings: the transaction topic's streams, its dead letters, the aggregate tables. */
export const builtInFeeds = (settings: Pick<SettingsShape, "topic">): Array<BuiltInFeed> => [
  ...transactionFeeds(settings.topic).map((f) => ({ name: f.name, folder: `${f.kind}/${f.name}`, topic: settings.topic, description: f.description })),
  ...TABLES.map((t) => ({ name: t.name, folder: `tables/${t.name}`, topic: settings.topic, description: t.description }))
]

/** The registry of a lake, in its store. */
export const feedRegistry = (store: Store): FeedRegistry => makeFeedRegistry(lakeRegistryStore(store))

/** Runs `use` with the store of the settings' lake (checked for conditional writes when it `writes`), closed after. */
const withLake = <A, E, R>(settings: SettingsShape, writes: boolean, use: (store: Store) => Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.flatMap(openLake(settings, { writes }), use))

/** `--partition-by` names this to file messages by their Kafka timestamp (the default). */
export const KAFKA_TIMESTAMP = "_kafka_timestamp"

const partitionByOf = (flag: string): string | null => (flag === KAFKA_TIMESTAMP ? null : flag)

/** Fails with the flag's name when `--partition-by` is not a required timestamp of the schema. */
const checkPartitionBy = (schema: FeedSchema, partitionBy: string | null) => {
  const problem = partitionBy === null ? undefined : checkPartitionField(schema, partitionBy)
  return problem === undefined ? Effect.void : Effect.fail(new Error(`--partition-by ${partitionBy}: ${problem}`))
}

/** A schema file read and checked; errors name the file and the path of the bad entry. */
export const readSchemaFile = (file: string): Effect.Effect<FeedSchema, Error> =>
  Effect.gen(function*() {
    const text = yield* Effect.tryPromise({ try: () => readFile(file, "utf8"), catch: (e) => new Error(`--schema ${file}: ${(e as Error).message}`) })
    const json = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => new Error(`--schema ${file}: not JSON: ${(e as Error).message}`) })
    const schema = parseFeedSchema(json)
    if (Result.isFailure(schema)) return yield* Effect.fail(new Error(`--schema ${file}: ${schema.failure.message}`))
    return schema.success
  })

/** Why a declared feed may not take this name or topic, given the built-in feeds and the topics the service reads. */
const conflictWithBuiltIns = (settings: SettingsShape, name: string, topic: string): string | undefined => {
  const builtIn = builtInFeeds(settings).find((f) => f.name === name)
  if (builtIn !== undefined) return `${name} is a built-in feed (${builtIn.folder})`
  for (const [t, what] of [[settings.topic, "the transaction flow"], [settings.ratesTopic, "the EUR rates"], [settings.blacklistTopic, "the blacklist"]] as const) {
    if (t === topic) return `topic ${topic} is read by ${what}`
  }
  return undefined
}

const fieldCount = (fields: ReadonlyArray<FeedField>): number => fields.reduce((n, f) => n + (f.type.kind === "object" ? fieldCount(f.type.fields) : 1), 0)

/** The schema as lines: one field a line, nested fields indented. */
const schemaLines = (fields: ReadonlyArray<FeedField>, indent = "  "): Array<string> =>
  fields.flatMap((f) =>
    f.type.kind === "object"
      ? [`${indent}${f.name}${f.optional ? "?" : ""}:`, ...schemaLines(f.type.fields, `${indent}  `)]
      : [`${indent}${f.name}: ${formatType(f.type)}${f.optional ? "?" : ""}`]
  )

/** A table's size from its Delta log, or undefined when it has no log yet. */
const tableSize = (store: Store, folder: string) =>
  Effect.map(readSnapshot(store, folder), (s) =>
    s.version < 0 ? undefined : { version: s.version, rows: s.totals.records, files: s.totals.files, bytes: s.totals.bytes, lastCommit: s.lastCommitTimestamp })

const stateOf = (entry: FeedEntry, state: "active" | "archived") => (state === "archived" ? "archived" : entry.enabled ? "enabled" : "disabled")

const json = Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON"), Flag.withDefault(false))
const nameFlag = Flag.String("name").pipe(Flag.withDescription("The feed's name"))

export const feedsCommand = <E, R>(settings: Effect.Effect<SettingsShape, E, R>) => {
  const list = Command.make("list", { json }, ({ json }) =>
    Effect.gen(function*() {
      const s = yield* settings
      const listing = yield* withLake(s, false, (store) => feedRegistry(store).list)
      const declared = [
        ...listing.active.map((e) => ({ e, state: stateOf(e, "active") })),
        ...listing.archived.map((e) => ({ e, state: stateOf(e, "archived") }))
      ].sort((a, b) => (a.e.name < b.e.name ? -1 : 1))
      const rows = [
        ...builtInFeeds(s).map((f) => ({ feed: f.folder, origin: "built-in", state: "enabled", topic: f.topic, partitionBy: f.folder.startsWith("tables/") ? "version" : f.folder.startsWith("_deadletter/") ? KAFKA_TIMESTAMP : "event_time", fields: null as number | null, description: f.description })),
        ...declared.map(({ e, state }) => ({ feed: feedFolder(e), origin: "declared", state, topic: e.topic, partitionBy: e.partitionBy ?? KAFKA_TIMESTAMP, fields: fieldCount(e.schema.fields), description: e.description }))
      ]
      if (json) {
        yield* Console.log(JSON.stringify({ feeds: rows, problems: listing.problems }, null, 2))
      } else {
        yield* Console.log(formatTable(["feed", "origin", "state", "topic", "partitioned by", "description"], rows.map((r) => [r.feed, r.origin, r.state, r.topic, r.partitionBy, r.description.length > 60 ? `${r.description.slice(0, 57)}...` : r.description])))
        for (const p of listing.problems) yield* Console.error(`unreadable entry ${p.file}: ${p.reason}`)
      }
    })).pipe(Command.withDescription("List the lake's feeds: built-in, and declared (enabled, disabled or archived)"))

  const show = Command.make("show", { name: nameFlag, json }, ({ name, json }) =>
    Effect.gen(function*() {
      const s = yield* settings
      const locate = lakeLocator(s.lake)
      return yield* withLake(s, false, (store) => Effect.gen(function*() {
        const found = yield* feedRegistry(store).find(name)
        if (Option.isNone(found)) {
          const builtIn = builtInFeeds(s).find((f) => f.name === name)
          if (builtIn === undefined) return yield* Effect.fail(new Error(`feed ${name}: no such feed (sluice feeds list shows them)`))
          const size = yield* tableSize(store, builtIn.folder)
          if (json) return yield* Console.log(JSON.stringify({ ...builtIn, origin: "built-in", path: locate(builtIn.folder), table: size ?? null }, null, 2))
          yield* Console.log([`${builtIn.folder} (built-in): ${builtIn.description}`, `topic: ${builtIn.topic}`, `path: ${locate(builtIn.folder)}`, sizeLine(size)].join("\n"))
          return
        }
        const { entry, state } = found.value
        const size = yield* tableSize(store, feedFolder(entry))
        if (json) {
          return yield* Console.log(JSON.stringify({ ...entry, schema: formatFeedSchema(entry.schema), state, origin: "declared", path: locate(feedFolder(entry)), table: size ?? null }, null, 2))
        }
        yield* Console.log([
          `${feedFolder(entry)} (declared, ${stateOf(entry, state)}): ${entry.description || "no description"}`,
          `topic: ${entry.topic}`,
          `partitioned by: ${entry.partitionBy === null ? "the Kafka timestamp" : entry.partitionBy} (UTC date, year/month/day)`,
          `schema version ${entry.schemaVersion}, ${fieldCount(entry.schema.fields)} fields:`,
          ...schemaLines(entry.schema.fields),
          `declared ${entry.createdAt}, changed ${entry.updatedAt}${entry.archivedAt === null ? "" : `, archived ${entry.archivedAt}`}`,
          `path: ${locate(feedFolder(entry))}`,
          sizeLine(size)
        ].join("\n"))
      }))
    })).pipe(Command.withDescription("Show a feed: its declaration and schema, and what its table holds"))

  const add = Command.make(
    "add",
    {
      name: nameFlag,
      type: Flag.Literals("type", FeedTypes).pipe(Flag.withDescription("stream: appended by date under streams/<name>; table: kept under tables/<name>")),
      topic: Flag.String("topic").pipe(Flag.withDescription("The Kafka topic of JSON messages it reads")),
      schema: Flag.String("schema").pipe(Flag.withDescription('The schema file: {"fields": {"order_id": "string", "qty": "integer", "amount": "decimal(12,2)", "paid": "boolean?", "at": "timestamp", "customer": {"id": "string"}}}')),
      partitionBy: Flag.String("partition-by").pipe(
        Flag.withDescription(`A required timestamp field (a.b for a nested one) whose UTC date gives the year/month/day folders (default: ${KAFKA_TIMESTAMP}, the Kafka timestamp)`),
        Flag.withDefault(KAFKA_TIMESTAMP)
      ),
      description: Flag.String("description").pipe(Flag.withDescription("What the feed holds"), Flag.withDefault(""))
    },
    (f) =>
      Effect.gen(function*() {
        const s = yield* settings
        const conflict = conflictWithBuiltIns(s, f.name, f.topic)
        if (conflict !== undefined) return yield* Effect.fail(new Error(`feed ${f.name}: ${conflict}`))
        const schema = yield* readSchemaFile(f.schema)
        yield* checkPartitionBy(schema, partitionByOf(f.partitionBy))
        const entry = yield* withLake(s, true, (store) =>
          feedRegistry(store).add({ name: f.name, type: f.type, topic: f.topic, description: f.description, schema, partitionBy: partitionByOf(f.partitionBy) }))
        yield* Console.log(
          `declared ${feedFolder(entry)}: topic ${entry.topic}, ${fieldCount(entry.schema.fields)} fields, partitioned by ${entry.partitionBy ?? "the Kafka timestamp"}; entry ${lakeLocator(s.lake)(`${REGISTRY_ROOT}/active/${entry.name}.json`)}`
        )
      })
  ).pipe(Command.withDescription("Declare a feed of a topic of JSON messages, with the types of its fields"))

  const update = Command.make(
    "update",
    {
      name: nameFlag,
      schema: Flag.String("schema").pipe(Flag.withDescription("A new schema file; once the table holds data, only new optional fields, longer strings and wider decimals"), Flag.optional),
      topic: Flag.String("topic").pipe(Flag.withDescription("Another topic (only while the table holds no data)"), Flag.optional),
      partitionBy: Flag.String("partition-by").pipe(Flag.withDescription(`Another partitioning field, or ${KAFKA_TIMESTAMP} (only while the table holds no data)`), Flag.optional),
      description: Flag.String("description").pipe(Flag.withDescription("A new description"), Flag.optional)
    },
    (f) =>
      Effect.gen(function*() {
        const s = yield* settings
        if (Option.isNone(f.schema) && Option.isNone(f.topic) && Option.isNone(f.partitionBy) && Option.isNone(f.description)) {
          return yield* Effect.fail(new Error("sluice feeds update: nothing to change: give --schema, --topic, --partition-by or --description"))
        }
        if (Option.isSome(f.topic)) {
          const conflict = conflictWithBuiltIns(s, f.name, f.topic.value)
          if (conflict !== undefined) return yield* Effect.fail(new Error(`feed ${f.name}: ${conflict}`))
        }
        const schema = Option.isSome(f.schema) ? yield* readSchemaFile(f.schema.value) : undefined
        const entry = yield* withLake(s, true, (store) => Effect.gen(function*() {
          const registry = feedRegistry(store)
          if (Option.isSome(f.partitionBy)) {
            const current = yield* registry.find(f.name)
            const against = schema ?? (Option.isSome(current) ? current.value.entry.schema : undefined)
            if (against !== undefined) yield* checkPartitionBy(against, partitionByOf(f.partitionBy.value))
          }
          return yield* registry.update(f.name, {
            schema,
            topic: Option.getOrUndefined(f.topic),
            partitionBy: Option.isSome(f.partitionBy) ? partitionByOf(f.partitionBy.value) : undefined,
            description: Option.getOrUndefined(f.description)
          })
        }))
        yield* Console.log(`updated ${feedFolder(entry)}: topic ${entry.topic}, schema version ${entry.schemaVersion}, partitioned by ${entry.partitionBy ?? "the Kafka timestamp"}`)
      })
  ).pipe(Command.withDescription("Change a feed's schema, topic, partitioning or description"))

  const change = (verb: string, description: string, act: (r: FeedRegistry, name: string) => Effect.Effect<FeedEntry, FeedRegistryError | LakeIOError>, said: string) =>
    Command.make(verb, { name: nameFlag }, ({ name }) =>
      Effect.gen(function*() {
        const s = yield* settings
        const entry = yield* withLake(s, true, (store) => act(feedRegistry(store), name))
        yield* Console.log(`${feedFolder(entry)}: ${said}`)
      })).pipe(Command.withDescription(description))

  const remove = Command.make(
    "delete",
    {
      name: nameFlag,
      yes: Flag.Boolean("yes").pipe(Flag.withDescription("Confirm the deletion"), Flag.withDefault(false)),
      purge: Flag.Boolean("purge").pipe(Flag.withDescription("Also delete its table and its topic's dead letters from the lake"), Flag.withDefault(false))
    },
    ({ name, yes, purge }) =>
      Effect.gen(function*() {
        const s = yield* settings
        if (!yes) {
          return yield* Effect.fail(new Error(`sluice feeds delete: deleting feed ${name}${purge ? " and its data" : ""} needs --yes`))
        }
        const deleted = yield* withLake(s, true, (store) => feedRegistry(store).remove(name, { purge }))
        yield* Console.log(
          `deleted feed ${name}${purge ? (deleted.length === 0 ? "; it had no data" : `; deleted ${deleted.map(lakeLocator(s.lake)).join(" and ")}`) : "; its data, if any, stays in the lake"}`
        )
      })
  ).pipe(Command.withDescription("Delete a disabled or archived feed from the registry (its data too with --purge); asks for --yes"))

  return Command.make("feeds").pipe(
    Command.withSubcommands([
      list,
      show,
      add,
      update,
      change("enable", "Enable a feed: the service consumes it", (r, n) => r.setEnabled(n, true), "enabled"),
      change("disable", "Disable a feed: the service stops consuming it, its data stays", (r, n) => r.setEnabled(n, false), "disabled (not consumed; its data stays)"),
      change("archive", "Archive a feed: not consumed, its data kept, its entry moved to _feeds/archived", (r, n) => r.archive(n), "archived (not consumed; its data kept)"),
      change("restore", "Restore an archived feed to _feeds/active, as it was", (r, n) => r.restore(n), "restored"),
      remove
    ]),
    Command.withDescription("The lake's feeds: built-in and declared, in the registry <lake>/_feeds")
  )
}

const sizeLine = (size: { version: number; rows: number; files: number; bytes: number; lastCommit: number | undefined } | undefined): string =>
  size === undefined
    ? "table: no data yet"
    : `table: version ${size.version}, ${formatCount(size.rows)} rows in ${formatCount(size.files)} files (${formatMiB(size.bytes)}), last commit ${size.lastCommit === undefined ? "-" : new Date(size.lastCommit).toISOString()}`
