/**
 * What the topology needs to consume a declared feed: its decisions (the decoder compiled from the
 * schema, versioned by the schema's text), its lake feeds (the columns the schema declares, lineage,
 * the date that files each row) and its dead letters, all pure values built from the registry entry.
 */
import { Result } from "effect"
import { compileFeedDecoder, type FeedField, type FeedRow, type FeedSchema, type FeedValue, formatFeedSchema, parseFeedSchema } from "../domain/FeedSchema.ts"
import { type Column, DECIMAL_SCALE, scalar, source, struct } from "../sinks/lake/Columns.ts"
import { deadLetterFeed, type LakeFeed } from "../sinks/lake/Feeds.ts"
import { clampPartitionTime } from "../sinks/lake/HivePartition.ts"
import { type Decisions, decisionsVersion, type DecisionSource } from "../topology/Decisions.ts"
import { type Processor, records } from "../topology/Processor.ts"
import type { Decoded } from "../topology/Record.ts"
import type { FeedEntry } from "./FeedEntry.ts"

/** A row of a declared feed's table: the decoded message with its Kafka lineage. */
export type DeclaredRow = Decoded<FeedRow>

/** The value at a path of field names, or null when an object on the way is absent. */
const valueAt = (path: ReadonlyArray<string>): ((r: DeclaredRow) => FeedValue) => {
  const [a, b] = path as [string, string | undefined]
  if (path.length === 1) return (r) => r.value[a] ?? null
  if (path.length === 2) return (r) => (r.value[a] as FeedRow | null)?.[b!] ?? null
  return (r) => {
    let v: FeedValue = r.value
    for (const name of path) {
      if (v === null) return null
      v = (v as FeedRow)[name] ?? null
    }
    return v
  }
}

/**
 * The columns of the fields, each source keyed by its dotted path (unique: names hold no dot).
 * Objects become structs; a field that may be null (optional, or inside an object that is) has a
 * nullable column, an object that may be absent a presence flag (`<path>?`).
 */
const fieldColumns = (fields: ReadonlyArray<FeedField>, parent: ReadonlyArray<string>, mayBeNull: boolean): Array<Column<DeclaredRow>> =>
  fields.map((f) => {
    const path = [...parent, f.name]
    const key = path.join(".")
    const nullable = mayBeNull || f.optional
    const get = valueAt(path)
    switch (f.type.kind) {
      case "object":
        return struct(f.name, fieldColumns(f.type.fields, path, nullable), nullable ? source.boolean<DeclaredRow>(`${key}?`, (r) => get(r) !== null) : undefined)
      case "string":
        return scalar(f.name, source.string<DeclaredRow>(key, get as (r: DeclaredRow) => string | null, nullable))
      case "integer":
        return scalar(f.name, source.int64<DeclaredRow>(key, get as (r: DeclaredRow) => number | null, nullable))
      case "boolean":
        return scalar(f.name, source.boolean<DeclaredRow>(key, get as (r: DeclaredRow) => boolean | null, nullable))
      case "timestamp":
        return scalar(f.name, source.timestamp<DeclaredRow>(key, get as (r: DeclaredRow) => number | null, nullable))
      case "decimal": {
        // The lake's decimal column holds hundredths: a value unscaled at scale s is 10^(2-s) of them,
        // exact, since declared decimals stay below 10^13.
        const factor = 10 ** (DECIMAL_SCALE - f.type.scale)
        return scalar(f.name, source.decimal<DeclaredRow>(key, (r) => {
          const v = get(r) as number | null
          return v === null ? null : v * factor
        }, nullable))
      }
    }
  })

/** The table columns of a declared schema: its fields in the file's order, then the lineage columns. */
export const declaredColumns = (schema: FeedSchema): Array<Column<DeclaredRow>> => [
  ...fieldColumns(schema.fields, [], false),
  scalar("_kafka_partition", source.int32<DeclaredRow>("_kafka_partition", (r) => r.partition)),
  scalar("_kafka_offset", source.int64<DeclaredRow>("_kafka_offset", (r) => r.offset)),
  scalar("_kafka_timestamp", source.timestamp<DeclaredRow>("_kafka_timestamp", (r) => r.timestamp))
]

/**
 * The instant whose UTC date files a row: the `partitionBy` timestamp (a required field, checked
 * when the entry was read), or the Kafka timestamp moved into the years 1000 to 9999 as dead
 * letters' are (a producer may set it to anything).
 */
export const declaredPartitionTime = (entry: Pick<FeedEntry, "partitionBy">): ((r: DeclaredRow) => number) => {
  if (entry.partitionBy === null) return (r) => clampPartitionTime(r.timestamp)
  const get = valueAt(entry.partitionBy.split("."))
  return (r) => get(r) as number
}

/** The lake feed of a declared entry, fed by `input` (the decoded records of its topic). */
export const declaredLakeFeed = (entry: FeedEntry, input: Processor<any, FeedRow>): LakeFeed<DeclaredRow> => ({
  name: entry.name,
  kind: entry.type === "stream" ? "streams" : "tables",
  description: entry.description === "" ? `Messages of ${entry.topic} as declared (schema version ${entry.schemaVersion}), with Kafka lineage` : entry.description,
  input,
  columns: declaredColumns(entry.schema),
  offsetOf: (r) => r.offset,
  partitionTime: declaredPartitionTime(entry)
})

/** Every lake feed a declared entry writes: its table, then its topic's dead letters (`_deadletter/<topic>`). */
export const declaredFeeds = (entry: FeedEntry): Array<LakeFeed<any>> => [
  declaredLakeFeed(entry, records<FeedRow>(entry.topic)),
  deadLetterFeed(entry.topic)
]

/** What a declared feed's decisions record: the schema as its file writes it, and the size cap. */
interface DeclaredContent {
  readonly feedSchema: unknown
  readonly maxMessageBytes: number
}

const decisionsOf = (schema: FeedSchema, maxMessageBytes: number): Decisions<FeedRow, undefined> => {
  const content = JSON.stringify({ feedSchema: formatFeedSchema(schema), maxMessageBytes } satisfies DeclaredContent)
  return {
    version: decisionsVersion(content),
    content,
    decode: compileFeedDecoder(schema),
    policy: { maxMessageBytes },
    state: undefined,
    summary: `the declared schema (${schema.fields.length} top-level fields), messages up to ${maxMessageBytes} bytes`
  }
}

/**
 * The decisions of a declared feed: its schema and the size cap, versioned by their text, so that
 * a replay after a schema change decodes the offsets already committed with the schema they were
 * committed with.
 */
export const declaredDecisions = (entry: Pick<FeedEntry, "schema">, maxMessageBytes: number): DecisionSource<FeedRow, undefined> => {
  const current = decisionsOf(entry.schema, maxMessageBytes)
  return {
    current: () => current,
    restore: (text) => {
      const c = JSON.parse(text) as Partial<DeclaredContent>
      const schema = parseFeedSchema(c.feedSchema)
      if (Result.isFailure(schema) || typeof c.maxMessageBytes !== "number") throw new Error(`not the decisions of a declared feed: ${text.slice(0, 120)}`)
      return decisionsOf(schema.success, c.maxMessageBytes)
    }
  }
}
