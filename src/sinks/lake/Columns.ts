/**
 * The columns of a lake feed: one typed definition gives the Arrow vectors a Parquet file is
 * written from, the Delta schema string, and the per-file statistics of the Delta `add` action.
 */
import {
  Binary,
  Bool,
  type Data,
  Decimal,
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  makeVector,
  Schema as ArrowSchema,
  Struct,
  Table,
  TimestampMillisecond,
  Utf8,
  type DataType,
  type Vector
} from "apache-arrow"

/** Column types of the lake. Money is DECIMAL(18,2) fed from integer cents, so sums stay exact. */
export type ColumnType =
  | { readonly kind: "string" }
  | { readonly kind: "int32" }
  | { readonly kind: "int64" }
  | { readonly kind: "float64" }
  | { readonly kind: "boolean" }
  | { readonly kind: "binary" }
  | { readonly kind: "timestamp" }
  | { readonly kind: "decimal" }
  | { readonly kind: "struct"; readonly fields: ReadonlyArray<Column<any>> }

/** Values by column kind: strings, JS numbers (int64 below 2^53, epoch millis, cents), bytes, a nested row. */
export interface Column<R> {
  readonly name: string
  readonly type: ColumnType
  readonly nullable: boolean
  readonly get: (row: R) => unknown
}

export const DECIMAL_PRECISION = 18
export const DECIMAL_SCALE = 2

/** Shorthands for column definitions. */
export const column = {
  string: <R>(name: string, get: (row: R) => string | null, nullable = false): Column<R> => ({ name, type: { kind: "string" }, nullable, get }),
  int32: <R>(name: string, get: (row: R) => number | null, nullable = false): Column<R> => ({ name, type: { kind: "int32" }, nullable, get }),
  int64: <R>(name: string, get: (row: R) => number | null, nullable = false): Column<R> => ({ name, type: { kind: "int64" }, nullable, get }),
  float64: <R>(name: string, get: (row: R) => number | null, nullable = false): Column<R> => ({ name, type: { kind: "float64" }, nullable, get }),
  boolean: <R>(name: string, get: (row: R) => boolean | null, nullable = false): Column<R> => ({ name, type: { kind: "boolean" }, nullable, get }),
  binary: <R>(name: string, get: (row: R) => Uint8Array | null, nullable = false): Column<R> => ({ name, type: { kind: "binary" }, nullable, get }),
  timestamp: <R>(name: string, get: (row: R) => number | null, nullable = false): Column<R> => ({ name, type: { kind: "timestamp" }, nullable, get }),
  decimal: <R>(name: string, get: (row: R) => number | null, nullable = false): Column<R> => ({ name, type: { kind: "decimal" }, nullable, get }),
  struct: <R, S>(name: string, get: (row: R) => S | null, fields: ReadonlyArray<Column<S>>, nullable = false): Column<R> => ({
    name,
    type: { kind: "struct", fields },
    nullable,
    get
  })
}

// ---------------------------------------------------------------------------------------------
// Arrow

const arrowType = (type: ColumnType): DataType => {
  switch (type.kind) {
    case "string":
      return new Utf8()
    case "int32":
      return new Int32()
    case "int64":
      return new Int64()
    case "float64":
      return new Float64()
    case "boolean":
      return new Bool()
    case "binary":
      return new Binary()
    case "timestamp":
      return new TimestampMillisecond("UTC")
    case "decimal":
      return new Decimal(DECIMAL_SCALE, DECIMAL_PRECISION, 128)
    case "struct":
      return new Struct(type.fields.map(arrowField))
  }
}

const arrowField = (c: Column<any>): Field => new Field(c.name, arrowType(c.type), c.nullable)

/** The Arrow schema of a feed. */
export const arrowSchema = (columns: ReadonlyArray<Column<any>>): ArrowSchema =>
  new ArrowSchema(columns.map(arrowField))

const TWO_32 = 4294967296

/** Validity bitmap, or undefined when every value is present (Arrow's convention). */
const validity = (values: ReadonlyArray<unknown>): { bitmap: Uint8Array | undefined; nulls: number } => {
  let nulls = 0
  for (let i = 0; i < values.length; i++) if (values[i] == null) nulls++
  if (nulls === 0) return { bitmap: undefined, nulls }
  const bitmap = new Uint8Array((values.length + 7) >> 3)
  for (let i = 0; i < values.length; i++) if (values[i] != null) bitmap[i >> 3]! |= 1 << (i & 7)
  return { bitmap, nulls }
}

const int64Words = (values: ReadonlyArray<unknown>): BigInt64Array => {
  // Two 32-bit words per value, little-endian: avoids one BigInt allocation per value.
  const words = new Int32Array(values.length * 2)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v == null) continue
    const n = v as number
    words[2 * i] = n % TWO_32 | 0
    words[2 * i + 1] = Math.floor(n / TWO_32)
  }
  return new BigInt64Array(words.buffer)
}

const decimalWords = (values: ReadonlyArray<unknown>): Uint32Array => {
  // 128-bit two's complement, little-endian, of the unscaled value (cents).
  const words = new Uint32Array(values.length * 4)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v == null) continue
    const n = v as number
    const lo = n % TWO_32
    const hi = Math.floor(n / TWO_32)
    words[4 * i] = lo >>> 0
    words[4 * i + 1] = hi >>> 0
    const sign = n < 0 ? 0xffffffff : 0
    words[4 * i + 2] = sign
    words[4 * i + 3] = sign
  }
  return words
}

const utf8 = (values: ReadonlyArray<unknown>): { offsets: Int32Array; data: Uint8Array } => {
  let capacity = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v != null) capacity += (v as string).length * 3
  }
  const data = Buffer.allocUnsafe(capacity)
  const offsets = new Int32Array(values.length + 1)
  let at = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v != null) at += data.write(v as string, at, "utf8")
    offsets[i + 1] = at
  }
  return { offsets, data: data.subarray(0, at) }
}

const bytes = (values: ReadonlyArray<unknown>): { offsets: Int32Array; data: Uint8Array } => {
  let size = 0
  for (let i = 0; i < values.length; i++) size += (values[i] as Uint8Array | null)?.length ?? 0
  const data = new Uint8Array(size)
  const offsets = new Int32Array(values.length + 1)
  let at = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as Uint8Array | null
    if (v != null) {
      data.set(v, at)
      at += v.length
    }
    offsets[i + 1] = at
  }
  return { offsets, data }
}

const columnData = (c: Column<any>, values: ReadonlyArray<unknown>): Data => {
  const type = arrowType(c.type) as any
  const { bitmap, nulls } = validity(values)
  const base = { type, length: values.length, nullCount: nulls, nullBitmap: bitmap }
  switch (c.type.kind) {
    case "string": {
      const { offsets, data } = utf8(values)
      return makeData({ ...base, valueOffsets: offsets, data })
    }
    case "binary": {
      const { offsets, data } = bytes(values)
      return makeData({ ...base, valueOffsets: offsets, data })
    }
    case "int32":
      return makeData({ ...base, data: Int32Array.from(values, (v) => (v as number | null) ?? 0) })
    case "int64":
    case "timestamp":
      return makeData({ ...base, data: int64Words(values) })
    case "float64":
      return makeData({ ...base, data: Float64Array.from(values, (v) => (v as number | null) ?? 0) })
    case "boolean": {
      const bits = new Uint8Array((values.length + 7) >> 3)
      for (let i = 0; i < values.length; i++) if (values[i] === true) bits[i >> 3]! |= 1 << (i & 7)
      return makeData({ ...base, data: bits })
    }
    case "decimal":
      return makeData({ ...base, data: decimalWords(values) })
    case "struct": {
      const children = c.type.fields.map((f) =>
        columnData(f, values.map((v) => (v == null ? null : f.get(v))))
      )
      return makeData({ ...base, children })
    }
  }
}

/** Builds the Arrow table of `rows`, one vector per column. */
export const toArrowTable = <R>(columns: ReadonlyArray<Column<R>>, rows: ReadonlyArray<R>): Table => {
  const vectors: Record<string, Vector> = {}
  for (const c of columns) {
    const values = rows.map(c.get)
    if (!c.nullable) {
      const missing = values.indexOf(null)
      if (missing >= 0 || values.includes(undefined)) {
        throw new Error(`column ${c.name} is not nullable but row ${missing} has no value`)
      }
    }
    vectors[c.name] = makeVector(columnData(c, values))
  }
  return new Table(vectors)
}

// ---------------------------------------------------------------------------------------------
// Delta

const deltaType = (type: ColumnType): unknown => {
  switch (type.kind) {
    case "string":
      return "string"
    case "int32":
      return "integer"
    case "int64":
      return "long"
    case "float64":
      return "double"
    case "boolean":
      return "boolean"
    case "binary":
      return "binary"
    case "timestamp":
      return "timestamp"
    case "decimal":
      return `decimal(${DECIMAL_PRECISION},${DECIMAL_SCALE})`
    case "struct":
      return deltaStruct(type.fields)
  }
}

const deltaStruct = (columns: ReadonlyArray<Column<any>>) => ({
  type: "struct",
  fields: columns.map((c) => ({ name: c.name, type: deltaType(c.type), nullable: c.nullable, metadata: {} }))
})

export interface PartitionColumn {
  readonly name: string
  readonly type: "integer" | "string"
}

/** The Delta `schemaString`: the file columns followed by the partition columns. */
export const deltaSchemaString = (
  columns: ReadonlyArray<Column<any>>,
  partitionColumns: ReadonlyArray<PartitionColumn>
): string => {
  const struct = deltaStruct(columns)
  return JSON.stringify({
    ...struct,
    fields: [
      ...struct.fields,
      ...partitionColumns.map((p) => ({ name: p.name, type: p.type, nullable: false, metadata: {} }))
    ]
  })
}

// ---------------------------------------------------------------------------------------------
// Statistics

/** The `stats` of a Delta `add`: row count, and min/max/null count of the top-level scalar columns. */
export interface FileStats {
  readonly numRecords: number
  readonly minValues: Record<string, unknown>
  readonly maxValues: Record<string, unknown>
  readonly nullCount: Record<string, number>
}

const statValue = (type: ColumnType, v: number): unknown => {
  switch (type.kind) {
    case "timestamp":
      return new Date(v).toISOString()
    case "decimal":
      return v / 10 ** DECIMAL_SCALE
    default:
      return v
  }
}

/** Statistics of `rows`; strings and nested columns get null counts only. */
export const fileStats = <R>(columns: ReadonlyArray<Column<R>>, rows: ReadonlyArray<R>): FileStats => {
  const minValues: Record<string, unknown> = {}
  const maxValues: Record<string, unknown> = {}
  const nullCount: Record<string, number> = {}
  for (const c of columns) {
    let nulls = 0
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    const numeric = c.type.kind === "int32" || c.type.kind === "int64" || c.type.kind === "float64" || c.type.kind === "timestamp" || c.type.kind === "decimal"
    for (let i = 0; i < rows.length; i++) {
      const v = c.get(rows[i]!)
      if (v == null) {
        nulls++
      } else if (numeric) {
        if ((v as number) < min) min = v as number
        if ((v as number) > max) max = v as number
      }
    }
    if (c.type.kind !== "struct") nullCount[c.name] = nulls
    if (numeric && min <= max) {
      minValues[c.name] = statValue(c.type, min)
      maxValues[c.name] = statValue(c.type, max)
    }
  }
  return { numRecords: rows.length, minValues, maxValues, nullCount }
}
