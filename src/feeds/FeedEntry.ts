/**
 * A declared feed as the registry keeps it (`<lake>/_feeds/active/<name>.json`): its name, type,
 * topic, schema, partitioning field, state and dates, validated on every read and write.
 */
import { Data, Result, Schema } from "effect"
import { checkPartitionField, type FeedSchema, formatFeedSchema, parseFeedSchema } from "../domain/FeedSchema.ts"
import { firstIssue } from "../domain/Transaction.ts"

/** `stream`: messages appended by date under `streams/<name>`; `table`: kept under `tables/<name>`. */
export const FeedTypes = ["stream", "table"] as const
export type FeedType = (typeof FeedTypes)[number]

/** A feed name: a lake folder, a Delta table and a DuckDB view, the same on every filesystem. */
export const FEED_NAME = /^[a-z][a-z0-9_]{0,99}$/
export const FEED_NAME_RULE = "a lowercase letter, then lowercase letters, digits or _, at most 100 characters"

/** A Kafka topic name, as the broker accepts it. */
export const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/

export const MAX_DESCRIPTION = 1_000

export interface FeedEntry {
  readonly name: string
  readonly type: FeedType
  readonly topic: string
  readonly description: string
  readonly schema: FeedSchema
  /** The timestamp field whose UTC date files each message; null: its Kafka timestamp. */
  readonly partitionBy: string | null
  /** A disabled feed is not consumed; its data stays readable. */
  readonly enabled: boolean
  /** 1 when declared, +1 at each change of the schema (a writer then records the new columns). */
  readonly schemaVersion: number
  readonly createdAt: string
  readonly updatedAt: string
  /** When it was last archived (null: never, or restored since). */
  readonly archivedAt: string | null
}

/** An entry that does not hold: which feed (or file), the path of the bad field, and why. */
export class FeedEntryError extends Data.TaggedError("FeedEntryError")<{
  readonly field: string
  readonly reason: string
}> {
  override get message(): string {
    return this.field === "" ? this.reason : `${this.field}: ${this.reason}`
  }
}

const IsoInstant = Schema.String.pipe(
  Schema.check(Schema.makeFilter((s: string) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s), { expected: "an ISO-8601 instant" }))
)

/** The JSON form of an entry: the schema as its file writes it. */
const EntryWire = Schema.Struct({
  name: Schema.String.pipe(Schema.check(Schema.isPattern(FEED_NAME, { expected: FEED_NAME_RULE }))),
  type: Schema.Literals(FeedTypes),
  topic: Schema.String.pipe(Schema.check(Schema.isPattern(TOPIC_NAME, { expected: "a Kafka topic name (letters, digits, . _ -, at most 249)" }))),
  description: Schema.String.pipe(Schema.check(Schema.isMaxLength(MAX_DESCRIPTION, { expected: `at most ${MAX_DESCRIPTION} characters` }))),
  schema: Schema.Unknown,
  partitionBy: Schema.NullOr(Schema.String),
  enabled: Schema.Boolean,
  schemaVersion: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1, { expected: "an integer >= 1" }))),
  createdAt: IsoInstant,
  updatedAt: IsoInstant,
  archivedAt: Schema.NullOr(IsoInstant)
})

const decodeWire = Schema.decodeUnknownResult(EntryWire)

/** Checks a parsed entry: its fields, its schema (bad entries named by path under `schema`), its partitioning field. */
export const decodeFeedEntry = (json: unknown): Result.Result<FeedEntry, FeedEntryError> => {
  const wire = decodeWire(json)
  if (Result.isFailure(wire)) return Result.fail(new FeedEntryError(firstIssue(wire.failure.issue, "not a feed entry")))
  const w = wire.success
  const schema = parseFeedSchema(w.schema)
  if (Result.isFailure(schema)) {
    const e = schema.failure
    return Result.fail(new FeedEntryError({ field: e.path === "" ? "schema" : `schema.${e.path}`, reason: e.reason }))
  }
  if (w.partitionBy !== null) {
    const problem = checkPartitionField(schema.success, w.partitionBy)
    if (problem !== undefined) return Result.fail(new FeedEntryError({ field: "partitionBy", reason: problem }))
  }
  return Result.succeed({ ...w, schema: schema.success })
}

/** The JSON text of an entry, as the registry writes it (stable key order, the schema in file form). */
export const encodeFeedEntry = (entry: FeedEntry): string =>
  `${JSON.stringify(
    {
      name: entry.name,
      type: entry.type,
      topic: entry.topic,
      description: entry.description,
      schema: formatFeedSchema(entry.schema),
      partitionBy: entry.partitionBy,
      enabled: entry.enabled,
      schemaVersion: entry.schemaVersion,
      createdAt: entry.createdAt,
      updatedAt: entry.updatedAt,
      archivedAt: entry.archivedAt
    },
    null,
    2
  )}\n`

/** The lake folder of a feed's table, relative to the lake: `streams/<name>` or `tables/<name>`. */
export const feedFolder = (entry: Pick<FeedEntry, "name" | "type">): string => `${entry.type === "stream" ? "streams" : "tables"}/${entry.name}`
