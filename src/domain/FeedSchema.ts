/**
 * Declared feeds' schemas: the JSON file that declares a topic's fields and their types, read into
 * a `FeedSchema` (a bad entry refused with its path), and compiled into a decoder of parsed JSON
 * values into rows, whose failures name the field and the reason. Pure: no I/O, no services.
 *
 * The file: `{"fields": {"order_id": "string", "qty": "integer", "amount": "decimal(12,2)",
 * "paid": "boolean", "placed_at": "timestamp", "customer": {"id": "string", "vip": "boolean?"}}}`.
 * A type ending in `?` is optional (absent or null); an object is a nested record, optional when its
 * name ends in `?` (`"customer?": {…}`). The bounds are those every lake column holds exactly:
 *
 * - `string`: well-formed Unicode of at most 65,535 characters; `string(n)` at most n (1 to 1,048,576).
 * - `integer`: a whole number between -(2^53 - 1) and 2^53 - 1, an int64 in the lake. JSON numbers are
 *   doubles: past 2^53 the digits a producer wrote may already be lost, so such values are refused
 *   rather than stored as another number.
 * - `decimal(p,s)`: a number with at most `s` decimals in its shortest decimal text (`String(n)`, the
 *   digits the producer wrote) and at most `p - s` digits before the point. The lake keeps decimals
 *   in its DECIMAL(18,2) column, built from integer hundredths that are exact in a JS number below
 *   2^53: hence `s` from 0 to 2 and `p - s` at most 13 (values below 10^13, as transaction amounts).
 * - `boolean`: `true` or `false`.
 * - `timestamp`: an ISO-8601 date-time with an offset, in the years 1000 to 9999 once in UTC; kept as
 *   epoch milliseconds (digits past the millisecond dropped).
 */
import { Data, Result } from "effect"
import { isStorableInstant } from "./CivilDate.ts"
import { isObject, parseInstant } from "./Transaction.ts"

// ---------------------------------------------------------------------------------------------
// Models

/** The type of a declared field. */
export type FieldType =
  | { readonly kind: "string"; readonly maxLength: number }
  | { readonly kind: "integer" }
  | { readonly kind: "decimal"; readonly precision: number; readonly scale: number }
  | { readonly kind: "boolean" }
  | { readonly kind: "timestamp" }
  | { readonly kind: "object"; readonly fields: ReadonlyArray<FeedField> }

/** A declared field: its name, whether it may be absent or null, and its type. */
export interface FeedField {
  readonly name: string
  readonly optional: boolean
  readonly type: FieldType
}

/** A declared feed's schema: its top-level fields, in the order the file lists them. */
export interface FeedSchema {
  readonly fields: ReadonlyArray<FeedField>
}

/**
 * A decoded value: strings; integers as numbers; decimals as their unscaled integer at the declared
 * scale (`12.5` as `decimal(5,2)` is 1250); booleans; timestamps as epoch millis; nested rows; null
 * for an absent optional field.
 */
export type FeedValue = string | number | boolean | null | FeedRow

/** A decoded message: one value per declared field (extra fields of the message are not kept). */
export interface FeedRow {
  readonly [field: string]: FeedValue
}

// ---------------------------------------------------------------------------------------------
// Bounds

/** The longest `string` without a declared bound. */
export const DEFAULT_STRING_LENGTH = 65_535
/** The longest declarable `string(n)`: a message is at most 1 MiB by default anyway. */
export const MAX_STRING_LENGTH = 1_048_576
/** Digits before the point of a declared decimal: its hundredths stay below 10^15 < 2^53. */
export const MAX_DECIMAL_INTEGER_DIGITS = 13
/** Decimals of a declared decimal: the lake's decimal column has scale 2. */
export const MAX_DECIMAL_SCALE = 2
/** How deep objects may nest. */
export const MAX_DEPTH = 10
/** Field names: an identifier every engine reads unquoted, at most 128 characters. */
export const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
/** Top-level names the lake adds to every declared feed's table: the date partitions and the lineage. */
export const RESERVED_TOP_LEVEL = ["year", "month", "day"] as const
export const RESERVED_PREFIX = "_kafka_"

// ---------------------------------------------------------------------------------------------
// The schema file

/** Why a schema file is refused: the path of the bad entry (`fields.customer.vip`) and the reason. */
export class FeedSchemaError extends Data.TaggedError("FeedSchemaError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return this.path === "" ? this.reason : `${this.path}: ${this.reason}`
  }
}

const TYPES_HELP = "string, string(n), integer, decimal(p,s), boolean, timestamp, an object of fields; a trailing ? makes a field optional"

/** Thrown inside the parser and the decoders, caught at their entry: a refusal and where. */
class Refused {
  readonly path: string
  readonly reason: string
  constructor(path: string, reason: string) {
    this.path = path
    this.reason = reason
  }
}

const STRING_N = /^string\(\s*(\d+)\s*\)$/
const DECIMAL_PS = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/

const parseScalar = (text: string, path: string): FieldType => {
  switch (text) {
    case "string":
      return { kind: "string", maxLength: DEFAULT_STRING_LENGTH }
    case "integer":
      return { kind: "integer" }
    case "boolean":
      return { kind: "boolean" }
    case "timestamp":
      return { kind: "timestamp" }
  }
  const s = STRING_N.exec(text)
  if (s !== null) {
    const n = Number(s[1])
    if (n < 1 || n > MAX_STRING_LENGTH) throw new Refused(path, `string(${s[1]}): the length must be from 1 to ${MAX_STRING_LENGTH}`)
    return { kind: "string", maxLength: n }
  }
  const d = DECIMAL_PS.exec(text)
  if (d !== null) {
    const precision = Number(d[1])
    const scale = Number(d[2])
    const declared = `decimal(${d[1]},${d[2]})`
    if (precision < 1) throw new Refused(path, `${declared}: the precision must be at least 1`)
    if (scale > precision) throw new Refused(path, `${declared}: the scale cannot exceed the precision`)
    if (scale > MAX_DECIMAL_SCALE) {
      throw new Refused(path, `${declared}: at most ${MAX_DECIMAL_SCALE} decimals (the lake's decimal column is DECIMAL(18,2))`)
    }
    if (precision - scale > MAX_DECIMAL_INTEGER_DIGITS) {
      throw new Refused(path, `${declared}: at most ${MAX_DECIMAL_INTEGER_DIGITS} digits before the point (values below 10^13, exact in the lake's DECIMAL(18,2))`)
    }
    return { kind: "decimal", precision, scale }
  }
  throw new Refused(path, `unknown type ${JSON.stringify(text)}; the types are ${TYPES_HELP}`)
}

const parseFields = (value: unknown, path: string, depth: number): Array<FeedField> => {
  if (!isObject(value)) throw new Refused(path, `expected an object of fields, got ${describe(value)}`)
  if (depth > MAX_DEPTH) throw new Refused(path, `objects nest at most ${MAX_DEPTH} deep`)
  const entries = Object.entries(value)
  if (entries.length === 0) throw new Refused(path, "declares no field (an object needs at least one)")
  const seen = new Map<string, string>()
  return entries.map(([key, declared]) => {
    const at = `${path}.${key}`
    const optionalName = key.endsWith("?")
    const name = optionalName ? key.slice(0, -1) : key
    if (!FIELD_NAME.test(name) || name === "__proto__") {
      throw new Refused(at, "a field name is a letter or _ then letters, digits or _, at most 128 characters (not __proto__)")
    }
    // Delta and most engines match column names without regard to case.
    const folded = name.toLowerCase()
    const twin = seen.get(folded)
    if (twin !== undefined) throw new Refused(at, `the same name as ${twin} (column names are matched without regard to case)`)
    seen.set(folded, name)
    if (depth === 1 && ((RESERVED_TOP_LEVEL as ReadonlyArray<string>).includes(folded) || folded.startsWith(RESERVED_PREFIX))) {
      throw new Refused(at, `reserved: the lake adds ${RESERVED_TOP_LEVEL.join(", ")} (the date partitions) and the ${RESERVED_PREFIX}* lineage columns to every feed`)
    }
    if (isObject(declared)) return { name, optional: optionalName, type: { kind: "object", fields: parseFields(declared, at, depth + 1) } }
    if (typeof declared !== "string") throw new Refused(at, `expected a type (${TYPES_HELP}), got ${describe(declared)}`)
    if (optionalName) throw new Refused(at, `write the ? after the type ("${name}": "${declared}?"); a ? after the name is for objects`)
    const optional = declared.endsWith("?")
    return { name, optional, type: parseScalar(optional ? declared.slice(0, -1) : declared, at) }
  })
}

/** Reads a parsed schema file (`{"fields": {…}}`); a bad entry is refused with its path. */
export const parseFeedSchema = (json: unknown): Result.Result<FeedSchema, FeedSchemaError> => {
  try {
    if (!isObject(json)) throw new Refused("", `expected a schema object {"fields": {…}}, got ${describe(json)}`)
    for (const key of Object.keys(json)) if (key !== "fields") throw new Refused(key, `unknown key; a schema file holds only "fields"`)
    if (!("fields" in json)) throw new Refused("fields", "missing: a schema file declares its fields under \"fields\"")
    return Result.succeed({ fields: parseFields(json.fields, "fields", 1) })
  } catch (e) {
    if (e instanceof Refused) return Result.fail(new FeedSchemaError({ path: e.path, reason: e.reason }))
    throw e
  }
}

/** A field's type as the schema file writes it (`decimal(12,2)`), without the optional mark. */
export const formatType = (type: Exclude<FieldType, { kind: "object" }>): string => {
  switch (type.kind) {
    case "string":
      return type.maxLength === DEFAULT_STRING_LENGTH ? "string" : `string(${type.maxLength})`
    case "decimal":
      return `decimal(${type.precision},${type.scale})`
    default:
      return type.kind
  }
}

type SchemaFileFields = { [name: string]: string | SchemaFileFields }

const formatFields = (fields: ReadonlyArray<FeedField>): SchemaFileFields =>
  Object.fromEntries(fields.map((f) =>
    f.type.kind === "object"
      ? [f.optional ? `${f.name}?` : f.name, formatFields(f.type.fields)]
      : [f.name, `${formatType(f.type)}${f.optional ? "?" : ""}`]
  ))

/** The schema as its file writes it: `parseFeedSchema(formatFeedSchema(s))` gives `s` back. */
export const formatFeedSchema = (schema: FeedSchema): { readonly fields: SchemaFileFields } => ({ fields: formatFields(schema.fields) })

/** The field at a dotted path (`customer.id`), with whether it or an object on the way is optional. */
export const fieldAt = (schema: FeedSchema, path: string): { readonly field: FeedField; readonly mayBeNull: boolean } | undefined => {
  let fields = schema.fields
  let mayBeNull = false
  const names = path.split(".")
  for (let i = 0; i < names.length; i++) {
    const field = fields.find((f) => f.name === names[i])
    if (field === undefined) return undefined
    mayBeNull ||= field.optional
    if (i === names.length - 1) return { field, mayBeNull }
    if (field.type.kind !== "object") return undefined
    fields = field.type.fields
  }
  return undefined
}

/**
 * The field whose UTC date partitions a feed, checked: a timestamp that every message has (neither
 * it nor an object on its path optional). Returns the reason when it is not one.
 */
export const checkPartitionField = (schema: FeedSchema, path: string): string | undefined => {
  const at = fieldAt(schema, path)
  if (at === undefined) return `no field ${path} in the schema`
  if (at.field.type.kind !== "timestamp") return `${path} is ${at.field.type.kind === "object" ? "an object" : formatType(at.field.type)}, not a timestamp`
  if (at.mayBeNull) return `${path} is optional (or inside an optional object): every message needs the instant that files it`
  return undefined
}

const typeText = (t: FieldType): string => (t.kind === "object" ? "an object" : formatType(t))

/**
 * Why `after` cannot replace `before` for a feed that holds data, or undefined when it can: every
 * field kept, with its optionality and its type (a string's bound and a decimal's precision may
 * grow), and new fields optional, so that every row written before still fits the new columns.
 */
export const schemaIncompatibility = (before: FeedSchema, after: FeedSchema): string | undefined => {
  const compare = (old: ReadonlyArray<FeedField>, next: ReadonlyArray<FeedField>, parent: string): string | undefined => {
    for (const o of old) {
      const at = parent === "" ? o.name : `${parent}.${o.name}`
      const n = next.find((f) => f.name === o.name)
      if (n === undefined) return `${at} is removed (rows already written have it)`
      if (n.optional !== o.optional) return `${at} changes from ${o.optional ? "optional" : "required"} to ${n.optional ? "optional" : "required"}`
      const was = o.type
      const is = n.type
      if (was.kind === "object" && is.kind === "object") {
        const inner = compare(was.fields, is.fields, at)
        if (inner !== undefined) return inner
        continue
      }
      if (was.kind === "object" || is.kind === "object") return `${at} changes from ${typeText(was)} to ${typeText(is)}`
      const grows = (was.kind === "string" && is.kind === "string" && is.maxLength >= was.maxLength) ||
        (was.kind === "decimal" && is.kind === "decimal" && is.scale === was.scale && is.precision >= was.precision) ||
        (was.kind === is.kind && was.kind !== "string" && was.kind !== "decimal")
      if (!grows) return `${at} changes from ${formatType(was)} to ${formatType(is)} (only a string's bound and a decimal's precision may grow)`
    }
    for (const n of next) {
      if (!old.some((o) => o.name === n.name) && !n.optional) {
        return `${parent === "" ? n.name : `${parent}.${n.name}`} is new and required (rows already written have none: declare it optional)`
      }
    }
    return undefined
  }
  return compare(before.fields, after.fields, "")
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Why a message does not fit a feed's schema: the dotted path of the first offending field ("" for the value itself), and the reason. */
export class FeedDecodeError extends Data.TaggedError("FeedDecodeError")<{
  readonly field: string
  readonly reason: string
}> {
  override get message(): string {
    return this.field === "" ? this.reason : `${this.field}: ${this.reason}`
  }
}

/** A short, printable account of a value that was refused. */
const describe = (v: unknown): string => {
  if (v === undefined) return "nothing"
  if (typeof v === "string" && v.length > 40) return `a string of ${v.length} characters`
  if (typeof v === "number") return String(v)
  let text: string
  try {
    text = JSON.stringify(v) ?? String(v)
  } catch {
    text = String(v)
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}

const MAX_INTEGER = Number.MAX_SAFE_INTEGER

const POWERS_OF_TEN = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16]

/**
 * The unscaled integer of `n` at `scale` as the number's shortest decimal text says
 * (`numberToUnscaled(12.5, 2)` is 1250), or NaN when that text has more than `scale` decimals or
 * an exponent below zero. Exact while the result stays below 2^53.
 */
export const numberToUnscaled = (n: number, scale: number): number => {
  if (!Number.isFinite(n)) return Number.NaN
  if (Number.isInteger(n)) return n * POWERS_OF_TEN[scale]!
  const text = String(n)
  const point = text.indexOf(".")
  const decimals = text.length - point - 1
  if (point < 0 || decimals > scale) return Number.NaN
  let unscaled = 0
  for (let i = text.charCodeAt(0) === 45 ? 1 : 0; i < text.length; i++) {
    if (i === point) continue
    const d = text.charCodeAt(i) - 48
    // An exponent (`1.5e-7`) is not a digit: such a text has more decimals than any scale allowed.
    if (d < 0 || d > 9) return Number.NaN
    unscaled = unscaled * 10 + d
  }
  unscaled *= POWERS_OF_TEN[scale - decimals]!
  return text.charCodeAt(0) === 45 ? -unscaled : unscaled
}

/** A compiled field: its value from the message's, or a thrown `Refused` naming its path. */
type FieldDecoder = (v: unknown) => FeedValue

const refuse = (path: string, expected: string, v: unknown): never => {
  throw new Refused(path, v === undefined ? `missing; expected ${expected}` : `expected ${expected}, got ${describe(v)}`)
}

const compileScalar = (type: Exclude<FieldType, { kind: "object" }>, path: string): FieldDecoder => {
  switch (type.kind) {
    case "string": {
      const max = type.maxLength
      const expected = `a string of at most ${max} characters`
      return (v) => {
        if (typeof v !== "string" || v.length > max) return refuse(path, expected, v)
        // A lone surrogate has no UTF-8: the lake would store another text.
        if (!v.isWellFormed()) throw new Refused(path, "expected well-formed Unicode text, got a lone surrogate")
        return v
      }
    }
    case "integer":
      return (v) => {
        if (typeof v !== "number" || !Number.isInteger(v)) return refuse(path, "an integer", v)
        if (v > MAX_INTEGER || v < -MAX_INTEGER) return refuse(path, "an integer between -(2^53 - 1) and 2^53 - 1 (exact in a JSON number)", v)
        return v
      }
    case "decimal": {
      const { precision, scale } = type
      const declared = `decimal(${precision},${scale})`
      const limit = POWERS_OF_TEN[precision - scale]!
      return (v) => {
        if (typeof v !== "number" || !Number.isFinite(v)) return refuse(path, `a number (${declared})`, v)
        if (!(v < limit && v > -limit)) return refuse(path, `a number of at most ${precision - scale} digits before the point (${declared})`, v)
        const unscaled = numberToUnscaled(v, scale)
        if (Number.isNaN(unscaled)) return refuse(path, `at most ${scale} decimal place${scale === 1 ? "" : "s"} (${declared})`, v)
        return unscaled
      }
    }
    case "boolean":
      return (v) => (v === true || v === false ? v : refuse(path, "true or false", v))
    case "timestamp":
      return (v) => {
        if (typeof v !== "string") return refuse(path, "an ISO-8601 date-time with an offset", v)
        const ms = parseInstant(v)
        if (Number.isNaN(ms)) return refuse(path, "an ISO-8601 date-time with an offset", v)
        if (!isStorableInstant(ms)) return refuse(path, "an instant in the years 1000 to 9999 in UTC", v)
        return ms
      }
  }
}

const compileObject = (fields: ReadonlyArray<FeedField>, path: string): FieldDecoder => {
  const decoders = fields.map((f) => {
    const at = path === "" ? f.name : `${path}.${f.name}`
    return { name: f.name, optional: f.optional, decode: f.type.kind === "object" ? compileObject(f.type.fields, at) : compileScalar(f.type, at) }
  })
  return (v) => {
    if (!isObject(v)) return refuse(path, "an object", v)
    const row: Record<string, FeedValue> = {}
    for (const d of decoders) {
      // Own properties only: a message without `constructor` must not read Object's.
      const value = Object.hasOwn(v, d.name) ? v[d.name] : undefined
      row[d.name] = d.optional && (value === undefined || value === null) ? null : d.decode(value)
    }
    return row
  }
}

/**
 * The decoder of a schema: a parsed JSON value to its row, or the first field that does not fit.
 * Extra fields are ignored, so that producers can add some. Its shape is the topology's
 * `ValueDecoder` (src/topology/Decode.ts): a failure becomes a `schema` dead letter.
 */
export const compileFeedDecoder = (schema: FeedSchema): ((json: unknown) => Result.Result<FeedRow, FeedDecodeError>) => {
  const decode = compileObject(schema.fields, "")
  return (json) => {
    try {
      return Result.succeed(decode(json) as FeedRow)
    } catch (e) {
      if (e instanceof Refused) return Result.fail(new FeedDecodeError({ field: e.path, reason: e.reason }))
      throw e
    }
  }
}
