/**
 * Classic (V1, single-file) Delta checkpoints: the table state at one version as a Parquet file of
 * struct columns (`txn`, `add`, `remove`, `metaData`, `protocol`), plus the `_last_checkpoint` pointer.
 */
import {
  Bool,
  Field,
  Int32,
  Int64,
  List,
  Map_,
  RecordBatch,
  Schema,
  Struct,
  Table as ArrowTable,
  Utf8,
  makeData,
  makeVector,
  type Data,
  type DataType,
  type Vector,
} from "apache-arrow"
import type { Action, Add, MetaData, Protocol, Remove, Txn } from "./DeltaAction.ts"
import { decodeParquet, encodeParquet } from "./ParquetFile.ts"

/**
 * The content of `_delta_log/_last_checkpoint` (protocol, "Last Checkpoint File Schema").
 *
 * @category models
 */
export interface LastCheckpoint {
  readonly version: number
  /** The number of actions (rows) in the checkpoint. */
  readonly size: number
  readonly sizeInBytes?: number
  readonly numOfAddFiles?: number
}

/**
 * How a checkpoint file is compressed. Delta Kernel (parquet-mr) and DuckDB read both.
 *
 * @category models
 */
export type CheckpointCompression = "zstd" | "snappy"

/** @category models */
export interface EncodeCheckpointOptions {
  /** Default `"zstd"`. */
  readonly compression?: CheckpointCompression
}

/** The name of the pointer file in `_delta_log/`. @category constants */
export const LAST_CHECKPOINT_FILE = "_last_checkpoint"

/**
 * `00000000000000000010.checkpoint.parquet` for version 10: the classic checkpoint name, version
 * zero-padded to 20 digits.
 *
 * @category constructors
 */
export const checkpointFileName = (version: number): string => {
  if (!Number.isSafeInteger(version) || version < 0) throw new Error(`checkpoint version ${version} is not a table version`)
  return `${String(version).padStart(20, "0")}.checkpoint.parquet`
}

// ---------------------------------------------------------------------------------------------------
// The checkpoint schema, described once and used both to build Arrow data and to read it back.
// Every field is nullable, as in the checkpoints Delta Spark writes: a row carries exactly one
// non-null top-level struct, and the children of a null struct are null as well.

type ColumnSpec =
  | { readonly kind: "string" }
  | { readonly kind: "long" }
  | { readonly kind: "int" }
  | { readonly kind: "boolean" }
  | { readonly kind: "stringMap" }
  | { readonly kind: "stringList" }
  | { readonly kind: "struct"; readonly fields: ReadonlyArray<readonly [string, ColumnSpec]> }

const string: ColumnSpec = { kind: "string" }
const long: ColumnSpec = { kind: "long" }
const int: ColumnSpec = { kind: "int" }
const boolean: ColumnSpec = { kind: "boolean" }
const stringMap: ColumnSpec = { kind: "stringMap" }
const stringList: ColumnSpec = { kind: "stringList" }
const struct = (...fields: ReadonlyArray<readonly [string, ColumnSpec]>): ColumnSpec => ({ kind: "struct", fields })

/** Top-level columns in the order Delta Spark writes them (readers match by name, not position). */
const checkpointColumns = [
  ["txn", struct(["appId", string], ["version", long], ["lastUpdated", long])],
  [
    "add",
    struct(
      ["path", string],
      ["partitionValues", stringMap],
      ["size", long],
      ["modificationTime", long],
      ["dataChange", boolean],
      ["stats", string],
      ["tags", stringMap],
    ),
  ],
  [
    "remove",
    struct(
      ["path", string],
      ["deletionTimestamp", long],
      ["dataChange", boolean],
      ["extendedFileMetadata", boolean],
      ["partitionValues", stringMap],
      ["size", long],
    ),
  ],
  [
    "metaData",
    struct(
      ["id", string],
      ["name", string],
      ["description", string],
      ["format", struct(["provider", string], ["options", stringMap])],
      ["schemaString", string],
      ["partitionColumns", stringList],
      ["configuration", stringMap],
      ["createdTime", long],
    ),
  ],
  [
    "protocol",
    // The feature lists must be null unless reader version 3 / writer version 7 (protocol,
    // "Checkpoint Schema"); the columns are there so that such tables checkpoint too.
    struct(["minReaderVersion", int], ["minWriterVersion", int], ["readerFeatures", stringList], ["writerFeatures", stringList]),
  ],
] as const satisfies ReadonlyArray<readonly [string, ColumnSpec]>

// arrow-rs names the Parquet groups after the Arrow fields. Lists get Parquet's standard `list` /
// `element`. Maps come out as `MAP { repeated group entries { key, value } }` rather than Spark's
// `key_value`: arrow-js forces the entries field to be called "entries" (ARROW-8716), and readers
// must accept any name there (LogicalTypes.md, backward-compatibility rules) — Delta Kernel and
// DuckDB both do (test/interop/DeltaReader.integration.test.ts).
const arrowType = (spec: ColumnSpec): DataType => {
  switch (spec.kind) {
    case "string":
      return new Utf8()
    case "long":
      return new Int64()
    case "int":
      return new Int32()
    case "boolean":
      return new Bool()
    case "stringMap":
      return new Map_<Utf8, Utf8>(
        new Field("entries", new Struct<{ key: Utf8; value: Utf8 }>([new Field("key", new Utf8(), false), new Field("value", new Utf8(), true)]), false),
        false,
      )
    case "stringList":
      return new List(new Field("element", new Utf8(), true))
    case "struct":
      return new Struct(spec.fields.map(([name, child]) => new Field(name, arrowType(child), true)))
  }
}

// ---------------------------------------------------------------------------------------------------
// Encoding: JS values → Arrow Data, column by column.

/** A validity bitmap and its null count; an empty bitmap when nothing is null (Arrow allows it). */
const validity = (values: ReadonlyArray<unknown>): { nullBitmap: Uint8Array; nullCount: number } => {
  let nullCount = 0
  const bitmap = new Uint8Array((values.length + 7) >> 3)
  for (let i = 0; i < values.length; i++) {
    if (values[i] == null) nullCount++
    else bitmap[i >> 3]! |= 1 << (i & 7)
  }
  return { nullBitmap: nullCount === 0 ? new Uint8Array(0) : bitmap, nullCount }
}

// One buffer written in place: a TextEncoder array per value made most of a large checkpoint's cost.
const encodeStrings = (type: Utf8, values: ReadonlyArray<unknown>): Data<Utf8> => {
  const strings = values.map((value) => (value == null ? null : String(value)))
  const valueOffsets = new Int32Array(values.length + 1)
  let total = 0
  for (let i = 0; i < strings.length; i++) {
    const value = strings[i]
    if (value != null) total += Buffer.byteLength(value, "utf8")
    if (total > 0x7fffffff) throw new Error("checkpoint column exceeds 2 GiB of UTF-8; split the state")
    valueOffsets[i + 1] = total
  }
  const data = Buffer.allocUnsafe(total)
  for (let i = 0; i < strings.length; i++) {
    const value = strings[i]
    if (value != null) data.write(value, valueOffsets[i]!, "utf8")
  }
  return makeData({ type, length: values.length, ...validity(values), valueOffsets, data: new Uint8Array(data.buffer, data.byteOffset, total) })
}

const toLong = (value: unknown, path: string): bigint => {
  if (typeof value === "bigint") return value
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new Error(`checkpoint: ${path} = ${String(value)} is not an integer`)
  return BigInt(value)
}

const encodeColumn = (spec: ColumnSpec, type: DataType, values: ReadonlyArray<unknown>, path: string): Data => {
  const length = values.length
  switch (spec.kind) {
    case "string":
      return encodeStrings(type as Utf8, values)
    case "long": {
      const data = new BigInt64Array(length)
      for (let i = 0; i < length; i++) if (values[i] != null) data[i] = toLong(values[i], path)
      return makeData({ type: type as Int64, length, ...validity(values), data })
    }
    case "int": {
      const data = new Int32Array(length)
      for (let i = 0; i < length; i++) {
        const value = values[i]
        if (value == null) continue
        if (typeof value !== "number" || !Number.isInteger(value) || value > 0x7fffffff || value < -0x80000000) {
          throw new Error(`checkpoint: ${path} = ${String(value)} is not a 32-bit integer`)
        }
        data[i] = value
      }
      return makeData({ type: type as Int32, length, ...validity(values), data })
    }
    case "boolean": {
      const data = new Uint8Array((length + 7) >> 3)
      for (let i = 0; i < length; i++) if (values[i] === true) data[i >> 3]! |= 1 << (i & 7)
      return makeData({ type: type as Bool, length, ...validity(values), data })
    }
    case "stringMap": {
      const mapType = type as Map_
      const valueOffsets = new Int32Array(length + 1)
      const keys: Array<string> = []
      const entryValues: Array<string | null> = []
      for (let i = 0; i < length; i++) {
        const value = values[i]
        if (value != null) {
          for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
            keys.push(key)
            entryValues.push(entry == null ? null : String(entry))
          }
        }
        valueOffsets[i + 1] = keys.length
      }
      const entriesType = mapType.childType
      const entries = makeData({
        type: entriesType,
        length: keys.length,
        nullCount: 0,
        children: [
          encodeStrings(entriesType.children[0]!.type as Utf8, keys),
          encodeStrings(entriesType.children[1]!.type as Utf8, entryValues),
        ],
      })
      return makeData({ type: mapType, length, ...validity(values), valueOffsets, child: entries })
    }
    case "stringList": {
      const listType = type as List<Utf8>
      const valueOffsets = new Int32Array(length + 1)
      const elements: Array<unknown> = []
      for (let i = 0; i < length; i++) {
        const value = values[i]
        if (value != null) elements.push(...(value as ReadonlyArray<unknown>))
        valueOffsets[i + 1] = elements.length
      }
      const child = encodeStrings(listType.valueType, elements)
      return makeData({ type: listType, length, ...validity(values), valueOffsets, child })
    }
    case "struct": {
      const structType = type as Struct
      const children = spec.fields.map(([name, childSpec], index) =>
        encodeColumn(
          childSpec,
          structType.children[index]!.type,
          values.map((value) => (value == null ? null : (value as Record<string, unknown>)[name])),
          `${path}.${name}`,
        ),
      )
      return makeData({ type: structType, length, ...validity(values), children })
    }
  }
}

/** One row per action, so a checkpoint's content is only state: a commitInfo there is a caller bug. */
const checkpointRows = (actions: ReadonlyArray<Action>): Record<string, Array<unknown>> => {
  const columns: Record<string, Array<unknown>> = Object.fromEntries(checkpointColumns.map(([name]) => [name, [] as Array<unknown>]))
  let protocols = 0
  let metaDatas = 0
  for (const action of actions) {
    const keys = Object.keys(action)
    const key = keys[0]
    if (keys.length !== 1 || key === undefined || !(key in columns)) {
      throw new Error(`checkpoint: cannot hold action ${JSON.stringify(keys)} (only txn, add, remove, metaData, protocol)`)
    }
    if (key === "protocol") protocols++
    if (key === "metaData") metaDatas++
    for (const [name, column] of Object.entries(columns)) column.push(name === key ? (action as Record<string, unknown>)[key] : null)
  }
  if (protocols !== 1 || metaDatas !== 1) {
    throw new Error(`checkpoint: a table state has exactly one protocol and one metaData, got ${protocols} and ${metaDatas}`)
  }
  return columns
}

/**
 * Encodes a table state — one `protocol`, one `metaData`, the live `add`s, one `txn` per appId and
 * optionally unexpired `remove` tombstones — as the Parquet bytes of a classic V1 checkpoint.
 * Actions are written in the order given; `commitInfo` is rejected, since it is not state.
 *
 * @category encoding
 */
export const encodeCheckpoint = (actions: ReadonlyArray<Action>, options: EncodeCheckpointOptions = {}): Uint8Array => {
  const rows = checkpointRows(actions)
  const fields = checkpointColumns.map(([name, spec]) => new Field(name, arrowType(spec), true))
  const schema = new Schema(fields)
  const children = checkpointColumns.map(([name, spec], index) => encodeColumn(spec, fields[index]!.type, rows[name]!, name))
  const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length: actions.length, nullCount: 0, children }))
  const table = new ArrowTable(schema, [batch])
  return encodeParquet(table, options.compression ?? "zstd")
}

// ---------------------------------------------------------------------------------------------------
// Decoding: Parquet → Arrow (through parquet-wasm) → actions. Struct children are looked up by name,
// so checkpoints written by other engines (with extra columns such as `stats_parsed`,
// `deletionVector` or `commitInfo`) decode too; fields this module does not model are dropped.

const asNumber = (value: unknown, path: string): number => {
  const number = typeof value === "bigint" ? Number(value) : (value as number)
  if (!Number.isSafeInteger(number)) throw new Error(`checkpoint: ${path} = ${String(value)} does not fit a JS number`)
  return number
}

const childOf = (vector: Vector, name: string): Vector | null => (vector as Vector<Struct>).getChild(name) ?? null

const readString = (vector: Vector | null, i: number): string | null => {
  const value: unknown = vector?.get(i)
  return value == null ? null : String(value)
}
const readNumber = (vector: Vector | null, i: number, path: string): number | null => {
  const value: unknown = vector?.get(i)
  return value == null ? null : asNumber(value, path)
}
const readBoolean = (vector: Vector | null, i: number): boolean | null => {
  const value: unknown = vector?.get(i)
  return value == null ? null : Boolean(value)
}
const readMap = (vector: Vector | null, i: number): Record<string, string | null> | null => {
  const value = vector?.get(i) as Iterable<[unknown, unknown]> | null | undefined
  if (value == null) return null
  const map: Record<string, string | null> = {}
  for (const [key, entry] of value) map[String(key)] = entry == null ? null : String(entry)
  return map
}
const readList = (vector: Vector | null, i: number): Array<string> | null => {
  const value = vector?.get(i) as Vector | null | undefined
  if (value == null) return null
  return Array.from(value.toArray() as ArrayLike<unknown>, (element) => String(element))
}

/** Sets `key` only when the value is not null: absent optional fields stay absent after a round trip. */
const optional = <T>(target: Record<string, unknown>, key: string, value: T | null): void => {
  if (value !== null) target[key] = value
}

const required = <T>(value: T | null, path: string, row: number): T => {
  if (value === null) throw new Error(`checkpoint row ${row}: ${path} is null`)
  return value
}

type RowReader = (i: number) => Action

const txnReader = (v: Vector): RowReader => {
  const [appId, version, lastUpdated] = ["appId", "version", "lastUpdated"].map((name) => childOf(v, name))
  return (i) => {
    const txn: Record<string, unknown> = {
      appId: required(readString(appId!, i), "txn.appId", i),
      version: required(readNumber(version!, i, "txn.version"), "txn.version", i),
    }
    optional(txn, "lastUpdated", readNumber(lastUpdated!, i, "txn.lastUpdated"))
    return { txn: txn as unknown as Txn }
  }
}

const addReader = (v: Vector): RowReader => {
  const c = Object.fromEntries(
    ["path", "partitionValues", "size", "modificationTime", "dataChange", "stats", "tags"].map((name) => [name, childOf(v, name)]),
  )
  return (i) => {
    const add: Record<string, unknown> = {
      path: required(readString(c.path!, i), "add.path", i),
      partitionValues: readMap(c.partitionValues!, i) ?? {},
      size: required(readNumber(c.size!, i, "add.size"), "add.size", i),
      modificationTime: required(readNumber(c.modificationTime!, i, "add.modificationTime"), "add.modificationTime", i),
      dataChange: readBoolean(c.dataChange!, i) ?? false,
    }
    optional(add, "stats", readString(c.stats!, i))
    optional(add, "tags", readMap(c.tags!, i))
    return { add: add as unknown as Add }
  }
}

const removeReader = (v: Vector): RowReader => {
  const c = Object.fromEntries(
    ["path", "deletionTimestamp", "dataChange", "extendedFileMetadata", "partitionValues", "size"].map((name) => [name, childOf(v, name)]),
  )
  return (i) => {
    const remove: Record<string, unknown> = {
      path: required(readString(c.path!, i), "remove.path", i),
      dataChange: readBoolean(c.dataChange!, i) ?? false,
    }
    optional(remove, "deletionTimestamp", readNumber(c.deletionTimestamp!, i, "remove.deletionTimestamp"))
    optional(remove, "extendedFileMetadata", readBoolean(c.extendedFileMetadata!, i))
    optional(remove, "partitionValues", readMap(c.partitionValues!, i))
    optional(remove, "size", readNumber(c.size!, i, "remove.size"))
    return { remove: remove as unknown as Remove }
  }
}

const metaDataReader = (v: Vector): RowReader => {
  const c = Object.fromEntries(
    ["id", "name", "description", "format", "schemaString", "partitionColumns", "configuration", "createdTime"].map((name) => [
      name,
      childOf(v, name),
    ]),
  )
  const provider = c.format ? childOf(c.format, "provider") : null
  const formatOptions = c.format ? childOf(c.format, "options") : null
  return (i) => {
    const metaData: Record<string, unknown> = {
      id: required(readString(c.id!, i), "metaData.id", i),
    }
    optional(metaData, "name", readString(c.name!, i))
    optional(metaData, "description", readString(c.description!, i))
    metaData.format = { provider: readString(provider, i) ?? "parquet", options: readMap(formatOptions, i) ?? {} }
    metaData.schemaString = required(readString(c.schemaString!, i), "metaData.schemaString", i)
    metaData.partitionColumns = readList(c.partitionColumns!, i) ?? []
    metaData.configuration = readMap(c.configuration!, i) ?? {}
    optional(metaData, "createdTime", readNumber(c.createdTime!, i, "metaData.createdTime"))
    return { metaData: metaData as unknown as MetaData }
  }
}

const protocolReader = (v: Vector): RowReader => {
  const [minReader, minWriter, readerFeatures, writerFeatures] = ["minReaderVersion", "minWriterVersion", "readerFeatures", "writerFeatures"].map(
    (name) => childOf(v, name),
  )
  return (i) => {
    const protocol: Record<string, unknown> = {
      minReaderVersion: required(readNumber(minReader!, i, "protocol.minReaderVersion"), "protocol.minReaderVersion", i),
      minWriterVersion: required(readNumber(minWriter!, i, "protocol.minWriterVersion"), "protocol.minWriterVersion", i),
    }
    optional(protocol, "readerFeatures", readList(readerFeatures!, i))
    optional(protocol, "writerFeatures", readList(writerFeatures!, i))
    return { protocol: protocol as unknown as Protocol }
  }
}

const readers: ReadonlyArray<readonly [string, (v: Vector) => RowReader]> = [
  ["txn", txnReader],
  ["add", addReader],
  ["remove", removeReader],
  ["metaData", metaDataReader],
  ["protocol", protocolReader],
]

/**
 * Decodes the Parquet bytes of a classic checkpoint back into actions, in file order. Null optional
 * fields are omitted (an `add` without stats has no `stats` key); null maps and lists that the
 * protocol makes required come back empty (`partitionValues: {}`). Rows whose non-null column is not
 * one of `txn`, `add`, `remove`, `metaData`, `protocol` (e.g. `domainMetadata`) are skipped.
 *
 * @category decoding
 */
export const decodeCheckpoint = (bytes: Uint8Array): Array<Action> => {
  const table = decodeParquet(bytes)
  const actions: Array<Action> = []
  for (const batch of table.batches) {
    const columns = readers.flatMap(([name, reader]) => {
      const index = batch.schema.fields.findIndex((field) => field.name === name)
      if (index < 0) return []
      const vector = makeVector(batch.data.children[index]!)
      return [{ vector, read: reader(vector) }]
    })
    for (let i = 0; i < batch.numRows; i++) {
      const column = columns.find(({ vector }) => vector.isValid(i))
      if (column) actions.push(column.read(i))
    }
  }
  return actions
}

/**
 * The `_last_checkpoint` content for a checkpoint of `actions` at `version` that took `sizeInBytes`.
 *
 * @category constructors
 */
export const lastCheckpointOf = (version: number, actions: ReadonlyArray<Action>, sizeInBytes: number): LastCheckpoint => ({
  version,
  size: actions.length,
  sizeInBytes,
  numOfAddFiles: actions.reduce((count, action) => count + ("add" in action ? 1 : 0), 0),
})

/** @category encoding */
export const encodeLastCheckpoint = (last: LastCheckpoint): string => JSON.stringify(last)

/**
 * Parses `_last_checkpoint`; `source` names the file in the error. Unknown fields (`parts`,
 * `checkpointSchema`, `checksum`, …) are ignored.
 *
 * @category decoding
 */
export const decodeLastCheckpoint = (text: string, source: string): LastCheckpoint => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new Error(`${source}: not JSON (${(cause as Error).message})`, { cause })
  }
  const record = json as Record<string, unknown> | null
  if (typeof record?.version !== "number" || typeof record.size !== "number") {
    throw new Error(`${source}: expected {"version": number, "size": number, …}, got ${text.slice(0, 200)}`)
  }
  const last: Record<string, number> = { version: record.version, size: record.size }
  if (typeof record.sizeInBytes === "number") last.sizeInBytes = record.sizeInBytes
  if (typeof record.numOfAddFiles === "number") last.numOfAddFiles = record.numOfAddFiles
  return last as unknown as LastCheckpoint
}
