/**
 * The columns of lake feeds, built as rows arrive: each value *source* (a typed getter) grows one
 * column per file, shared by every feed that reads it, and becomes Arrow data once; the same
 * definitions give the Delta schema string and the per-file statistics of the Delta `add`.
 */
import {
  Binary,
  Bool,
  type Data,
  type DataType,
  Decimal,
  Dictionary,
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  makeVector,
  Struct,
  Table,
  TimestampMillisecond,
  Utf8,
  type Vector
} from "apache-arrow"

/** Scalar types of the lake. Money is DECIMAL(18,2) fed from integer cents, so sums stay exact. */
export type ScalarType = "string" | "int32" | "int64" | "float64" | "boolean" | "binary" | "timestamp" | "decimal"

/**
 * Where one value of a row comes from. Values by type: strings; JS numbers (int64 below 2^53,
 * epoch millis, cents); booleans; bytes. Sources of the same key are built once per file.
 */
export interface Source<R> {
  readonly key: string
  readonly type: ScalarType
  readonly nullable: boolean
  readonly get: (row: R) => unknown
}

/** A table column: one source, or a struct of columns that is null where `present` says so. */
export type Column<R> =
  | { readonly kind: "scalar"; readonly name: string; readonly source: Source<R> }
  | {
    readonly kind: "struct"
    readonly name: string
    /** A boolean source; undefined when the struct is never null. */
    readonly present: Source<R> | undefined
    readonly fields: ReadonlyArray<Column<R>>
  }

export const DECIMAL_PRECISION = 18
export const DECIMAL_SCALE = 2

const make = <R>(type: ScalarType) => (key: string, get: (row: R) => unknown, nullable = false): Source<R> => ({ key, type, nullable, get })

/** Constructors of sources, by type. */
export const source = {
  string: <R>(key: string, get: (row: R) => string | null, nullable = false) => make<R>("string")(key, get, nullable),
  int32: <R>(key: string, get: (row: R) => number | null, nullable = false) => make<R>("int32")(key, get, nullable),
  int64: <R>(key: string, get: (row: R) => number | null, nullable = false) => make<R>("int64")(key, get, nullable),
  float64: <R>(key: string, get: (row: R) => number | null, nullable = false) => make<R>("float64")(key, get, nullable),
  boolean: <R>(key: string, get: (row: R) => boolean | null, nullable = false) => make<R>("boolean")(key, get, nullable),
  binary: <R>(key: string, get: (row: R) => Uint8Array | null, nullable = false) => make<R>("binary")(key, get, nullable),
  timestamp: <R>(key: string, get: (row: R) => number | null, nullable = false) => make<R>("timestamp")(key, get, nullable),
  decimal: <R>(key: string, get: (row: R) => number | null, nullable = false) => make<R>("decimal")(key, get, nullable)
}

/** A column reading `source`. */
export const scalar = <R>(name: string, src: Source<R>): Column<R> => ({ kind: "scalar", name, source: src })

/** A struct column; null where `present` gives false. */
export const struct = <R>(name: string, fields: ReadonlyArray<Column<R>>, present?: Source<R>): Column<R> => ({
  kind: "struct",
  name,
  present,
  fields
})

/** Every source the columns read, each once. */
export const sourcesOf = <R>(columns: ReadonlyArray<Column<R>>): Array<Source<R>> => {
  const byKey = new Map<string, Source<R>>()
  const visit = (c: Column<R>) => {
    if (c.kind === "scalar") byKey.set(c.source.key, c.source)
    else {
      if (c.present) byKey.set(c.present.key, c.present)
      c.fields.forEach(visit)
    }
  }
  columns.forEach(visit)
  return [...byKey.values()]
}

// ---------------------------------------------------------------------------------------------
// Building

const TWO_32 = 4294967296
/** A string column stays dictionary-encoded while it has at most this many distinct values. */
const MAX_DICTIONARY = 1024
/**
 * Of the string sources whose dictionary overflowed in a recent file, how many files ago that was:
 * their next files start as plain bytes (ids, names, addresses), rather than filling and dropping a
 * dictionary of MAX_DICTIONARY values in every file of every partition. Every RETRY_DICTIONARY-th
 * file tries a dictionary again, in case the values became fewer.
 */
const overflowed = new WeakMap<Source<any>, number>()
const RETRY_DICTIONARY = 16

const growFloat64 = (a: Float64Array<ArrayBuffer>, needed: number): Float64Array<ArrayBuffer> => {
  const next = new Float64Array(Math.max(needed, a.length * 2, 256))
  next.set(a)
  return next
}
const growInt32 = (a: Int32Array<ArrayBuffer>, needed: number): Int32Array<ArrayBuffer> => {
  const next = new Int32Array(Math.max(needed, a.length * 2, 256))
  next.set(a)
  return next
}
const EMPTY = Buffer.alloc(0)
const growBuffer = (a: Buffer, needed: number): Buffer => {
  const next = Buffer.allocUnsafeSlow(Math.max(needed, a.length * 2, 4096))
  a.copy(next)
  return next
}
const growUint8 = (a: Uint8Array<ArrayBuffer>, needed: number): Uint8Array<ArrayBuffer> => {
  const next = new Uint8Array(Math.max(needed, a.length * 2, 256))
  next.set(a)
  return next
}

// Kinds of storage, as small integers for the per-row switch.
const STRING = 0
const BINARY = 1
const BOOLEAN = 2
const NUMBER = 3

/** A column of one source's values for one file, growing as rows are added. */
class ColumnBuilder<R> {
  readonly source: Source<R>
  length = 0
  nulls = 0
  min = Number.POSITIVE_INFINITY
  max = Number.NEGATIVE_INFINITY
  readonly #get: (row: R) => unknown
  readonly #nullable: boolean
  readonly #kind: number
  #numbers = new Float64Array(0)
  #valid = new Uint8Array(0)
  /** Past the dictionary: the values' UTF-8 bytes and each row's end offset in them (row i ends at `#offsets[i + 1]`). */
  #utf8: Buffer = EMPTY
  #utf8Length = 0
  #offsets = new Int32Array(0)
  /** While a string column keeps a dictionary: each value's index in `#dictionaryValues`. */
  #dictionary: Map<string, number> | undefined
  #dictionaryValues: Array<string> = []
  #indices = new Int32Array(0)
  #bytes: Array<Uint8Array | null> = []
  #data: Data | undefined

  constructor(src: Source<R>) {
    this.source = src
    this.#get = src.get
    this.#nullable = src.nullable
    this.#kind = src.type === "string" ? STRING : src.type === "binary" ? BINARY : src.type === "boolean" ? BOOLEAN : NUMBER
    if (this.#kind === STRING) {
      const since = overflowed.get(src)
      if (since !== undefined) overflowed.set(src, since + 1)
      if (since === undefined || since % RETRY_DICTIONARY === 0) this.#dictionary = new Map()
    }
  }

  // The hot path: one call per row and source. No closure or object is allocated here.
  append(row: R): void {
    const v = this.#get(row)
    const i = this.length++
    if (this.#nullable) {
      if (i >= this.#valid.length) this.#valid = growUint8(this.#valid, i + 1)
      this.#valid[i] = v == null ? 0 : 1
    }
    if (v == null) {
      if (!this.#nullable) throw new Error(`column ${this.source.key} is not nullable but row ${i} has no value`)
      this.nulls++
    }
    switch (this.#kind) {
      case STRING:
        this.#appendString(i, v as string | null)
        return
      case BINARY:
        this.#bytes.push((v as Uint8Array | null) ?? null)
        return
      case BOOLEAN:
        if (i >= this.#numbers.length) this.#numbers = growFloat64(this.#numbers, i + 1)
        this.#numbers[i] = v === true ? 1 : 0
        return
      default: {
        if (i >= this.#numbers.length) this.#numbers = growFloat64(this.#numbers, i + 1)
        if (v == null) return
        const n = v as number
        this.#numbers[i] = n
        if (n < this.min) this.min = n
        if (n > this.max) this.max = n
      }
    }
  }

  #appendString(i: number, v: string | null): void {
    const dictionary = this.#dictionary
    if (dictionary !== undefined) {
      if (i >= this.#indices.length) this.#indices = growInt32(this.#indices, i + 1)
      if (v == null) return
      let index = dictionary.get(v)
      if (index === undefined) {
        if (dictionary.size === MAX_DICTIONARY) {
          // Too many distinct values to be worth a dictionary: their bytes from here on, out of the
          // JavaScript heap (strings kept for a whole window were copied by every collection).
          this.#dictionary = undefined
          overflowed.set(this.source, 1)
          for (let j = 0; j < i; j++) this.#appendBytes(j, this.#isValid(j) ? this.#dictionaryValues[this.#indices[j]!]! : null)
          this.#appendBytes(i, v)
          return
        }
        index = dictionary.size
        dictionary.set(v, index)
        this.#dictionaryValues.push(v)
      }
      this.#indices[i] = index
      return
    }
    this.#appendBytes(i, v)
  }

  #appendBytes(i: number, v: string | null): void {
    if (i + 2 > this.#offsets.length) this.#offsets = growInt32(this.#offsets, i + 2)
    let at = this.#utf8Length
    if (v != null) {
      const n = v.length
      // At most 3 bytes per UTF-16 unit (a surrogate pair's 4 bytes are 2 units).
      if (at + n * 3 > this.#utf8.length) this.#utf8 = growBuffer(this.#utf8, at + n * 3)
      const bytes = this.#utf8
      let k = 0
      for (; k < n; k++) {
        const c = v.charCodeAt(k)
        if (c >= 0x80) break
        bytes[at + k] = c
      }
      at += k < n ? bytes.write(v, at, "utf8") : n
    }
    this.#utf8Length = at
    this.#offsets[i + 1] = at
  }

  #isValid(i: number): boolean {
    return !this.#nullable || this.#valid[i] === 1
  }

  /** The Arrow data of every row so far (built once; the builder is done with afterwards). */
  data(): Data {
    // Enough rows that fit a dictionary: the source's values are few again.
    if (this.#data === undefined && this.#dictionary !== undefined && this.length >= MAX_DICTIONARY) overflowed.delete(this.source)
    this.#data ??= this.#build()
    return this.#data
  }

  /** The rows' values for min/max and null counts over rows from `start`. */
  statsFrom(start: number): { nulls: number; min: number; max: number } {
    if (start === 0) return { nulls: this.nulls, min: this.min, max: this.max }
    let nulls = 0
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    for (let i = start; i < this.length; i++) {
      if (!this.#isValid(i)) {
        nulls++
        continue
      }
      const n = this.#numbers[i]!
      if (n < min) min = n
      if (n > max) max = n
    }
    return { nulls, min, max }
  }

  #validity(): { nullBitmap: Uint8Array | undefined; nullCount: number } {
    if (this.nulls === 0) return { nullBitmap: undefined, nullCount: 0 }
    const bitmap = new Uint8Array((this.length + 7) >> 3)
    if (this.#nullable) {
      for (let i = 0; i < this.length; i++) if (this.#valid[i] === 1) bitmap[i >> 3]! |= 1 << (i & 7)
    }
    return { nullBitmap: bitmap, nullCount: this.nulls }
  }

  #build(): Data {
    const n = this.length
    const validity = this.#validity()
    const values = this.#numbers
    switch (this.source.type) {
      case "string": {
        if (this.#dictionary !== undefined) {
          const dictionary = makeVector(utf8Data(this.#dictionaryValues))
          return makeData({
            type: new Dictionary(new Utf8(), new Int32()),
            length: n,
            ...validity,
            data: this.#indices.subarray(0, n),
            dictionary
          })
        }
        return makeData({
          type: new Utf8(),
          length: n,
          ...validity,
          valueOffsets: this.#offsets.subarray(0, n + 1),
          data: this.#utf8.subarray(0, this.#utf8Length)
        })
      }
      case "binary": {
        let size = 0
        for (const b of this.#bytes) size += b?.length ?? 0
        const data = new Uint8Array(size)
        const valueOffsets = new Int32Array(n + 1)
        let at = 0
        for (let i = 0; i < n; i++) {
          const b = this.#bytes[i]
          if (b != null) {
            data.set(b, at)
            at += b.length
          }
          valueOffsets[i + 1] = at
        }
        return makeData({ type: new Binary(), length: n, ...validity, valueOffsets, data })
      }
      case "boolean": {
        const bits = new Uint8Array((n + 7) >> 3)
        for (let i = 0; i < n; i++) if (values[i] === 1) bits[i >> 3]! |= 1 << (i & 7)
        return makeData({ type: new Bool(), length: n, ...validity, data: bits })
      }
      case "int32":
        return makeData({ type: new Int32(), length: n, ...validity, data: Int32Array.from(values.subarray(0, n)) })
      case "float64":
        return makeData({ type: new Float64(), length: n, ...validity, data: values.slice(0, n) })
      case "int64":
        return makeData({ type: new Int64(), length: n, ...validity, data: int64Words(values, n) })
      case "timestamp":
        return makeData({ type: new TimestampMillisecond("UTC"), length: n, ...validity, data: int64Words(values, n) })
      case "decimal":
        return makeData({ type: new Decimal(DECIMAL_SCALE, DECIMAL_PRECISION, 128), length: n, ...validity, data: decimalWords(values, n) })
    }
  }
}

const int64Words = (values: Float64Array, n: number): BigInt64Array => {
  // Two 32-bit words per value, little-endian: no BigInt allocated per value.
  const words = new Int32Array(n * 2)
  for (let i = 0; i < n; i++) {
    const v = values[i]!
    words[2 * i] = v % TWO_32 | 0
    words[2 * i + 1] = Math.floor(v / TWO_32)
  }
  return new BigInt64Array(words.buffer)
}

const decimalWords = (values: Float64Array, n: number): Uint32Array => {
  // 128-bit two's complement, little-endian, of the unscaled value (cents).
  const words = new Uint32Array(n * 4)
  for (let i = 0; i < n; i++) {
    const v = values[i]!
    words[4 * i] = (v % TWO_32) >>> 0
    words[4 * i + 1] = Math.floor(v / TWO_32) >>> 0
    const sign = v < 0 ? 0xffffffff : 0
    words[4 * i + 2] = sign
    words[4 * i + 3] = sign
  }
  return words
}

/** The UTF-8 column of a dictionary's values. */
const utf8Data = (values: ReadonlyArray<string>): Data<Utf8> => {
  let capacity = 0
  for (const v of values) capacity += v.length * 3
  const data = Buffer.allocUnsafe(capacity)
  const valueOffsets = new Int32Array(values.length + 1)
  let at = 0
  for (let i = 0; i < values.length; i++) {
    at += data.write(values[i]!, at, "utf8")
    valueOffsets[i + 1] = at
  }
  return makeData({ type: new Utf8(), length: values.length, nullCount: 0, valueOffsets, data: data.subarray(0, at) })
}

/**
 * The rows of one file being written: a column builder per source. Rows are added in offset
 * order, so the rows from a given offset on are a suffix, which tables slice without copying.
 */
export class RowGroup<R> {
  readonly #builders: ReadonlyArray<ColumnBuilder<R>>
  readonly #byKey: ReadonlyMap<string, ColumnBuilder<R>>

  constructor(sources: ReadonlyArray<Source<R>>) {
    this.#builders = sources.map((s) => new ColumnBuilder(s))
    this.#byKey = new Map(this.#builders.map((b) => [b.source.key, b]))
  }

  get length(): number {
    return this.#builders[0]?.length ?? 0
  }

  add(row: R): void {
    for (const b of this.#builders) b.append(row)
  }

  #builder(src: Source<R>): ColumnBuilder<R> {
    const b = this.#byKey.get(src.key)
    if (b === undefined) throw new Error(`source ${src.key} is not built in this row group`)
    return b
  }

  #columnData(c: Column<R>): Data {
    if (c.kind === "scalar") return this.#builder(c.source).data()
    const children = c.fields.map((f) => this.#columnData(f))
    const type = new Struct(c.fields.map((f, i) => new Field(f.name, children[i]!.type as DataType, true)))
    if (c.present === undefined) return makeData({ type, length: this.length, nullCount: 0, children })
    const present = this.#builder(c.present)
    const flags = present.data() as Data<Bool>
    let nullCount = 0
    for (let i = 0; i < this.length; i++) if (!((flags.values[i >> 3]! >> (i & 7)) & 1)) nullCount++
    return makeData({ type, length: this.length, nullCount, nullBitmap: nullCount === 0 ? undefined : flags.values, children })
  }

  /** The Arrow table of `columns` over the rows from index `start`. */
  table(columns: ReadonlyArray<Column<R>>, start = 0): Table {
    const vectors: Record<string, Vector> = {}
    for (const c of columns) {
      const data = this.#columnData(c)
      vectors[c.name] = makeVector(start === 0 ? data : data.slice(start, this.length - start))
    }
    return new Table(vectors)
  }

  /** Statistics of `columns` over the rows from index `start`: counts, min/max of numeric scalars. */
  stats(columns: ReadonlyArray<Column<R>>, start = 0): FileStats {
    const minValues: Record<string, unknown> = {}
    const maxValues: Record<string, unknown> = {}
    const nullCount: Record<string, number> = {}
    for (const c of columns) {
      if (c.kind !== "scalar") continue
      const b = this.#builder(c.source)
      const s = b.statsFrom(start)
      nullCount[c.name] = s.nulls
      if (NUMERIC.has(c.source.type) && s.min <= s.max) {
        const min = statValue(c.source.type, s.min)
        const max = statValue(c.source.type, s.max)
        if (min !== undefined) minValues[c.name] = min
        if (max !== undefined) maxValues[c.name] = max
      }
    }
    return { numRecords: this.length - start, minValues, maxValues, nullCount }
  }
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

const NUMERIC = new Set<ScalarType>(["int32", "int64", "float64", "timestamp", "decimal"])

// Timestamps ISO-8601 writes with a four-digit year: 0000-01-01 to 9999-12-31, UTC.
const FIRST_ISO_MS = -62_167_219_200_000
const LAST_ISO_MS = 253_402_300_799_999

/**
 * A statistic as Delta writes it, or undefined when there is none to write. A Kafka timestamp is
 * whatever the producer set (-1, -9e15…): outside the years a Date and ISO-8601's four digits
 * represent, the bound is left out, which Delta allows (a reader then skips no file on it).
 */
const statValue = (type: ScalarType, v: number): unknown => {
  switch (type) {
    case "timestamp":
      return v >= FIRST_ISO_MS && v <= LAST_ISO_MS ? new Date(v).toISOString() : undefined
    case "decimal":
      return v / 10 ** DECIMAL_SCALE
    default:
      return v
  }
}

// ---------------------------------------------------------------------------------------------
// Delta

const deltaScalar: Record<ScalarType, string> = {
  string: "string",
  int32: "integer",
  int64: "long",
  float64: "double",
  boolean: "boolean",
  binary: "binary",
  timestamp: "timestamp",
  decimal: `decimal(${DECIMAL_PRECISION},${DECIMAL_SCALE})`
}

const deltaField = (c: Column<any>): unknown =>
  c.kind === "scalar"
    ? { name: c.name, type: deltaScalar[c.source.type], nullable: c.source.nullable, metadata: {} }
    : { name: c.name, type: { type: "struct", fields: c.fields.map(deltaField) }, nullable: c.present !== undefined, metadata: {} }

export interface PartitionColumn {
  readonly name: string
  readonly type: "integer" | "string" | "date"
}

/** The Delta `schemaString`: the file columns followed by the partition columns. */
export const deltaSchemaString = (columns: ReadonlyArray<Column<any>>, partitionColumns: ReadonlyArray<PartitionColumn>): string =>
  JSON.stringify({
    type: "struct",
    fields: [
      ...columns.map(deltaField),
      ...partitionColumns.map((p) => ({ name: p.name, type: p.type, nullable: false, metadata: {} }))
    ]
  })
