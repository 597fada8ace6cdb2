/**
 * Interop: a Delta table laid out exactly as the lake writes it (Hive folders, arrow-js + parquet-wasm
 * files, JSON commits, our Parquet checkpoint) must be read by Delta Kernel and DuckDB alike.
 */
import { DuckDBInstance } from "@duckdb/node-api"
import {
  Decimal,
  Field,
  Int32,
  Int64,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  TimestampMillisecond,
  Utf8,
  makeData,
  tableToIPC,
  type Data,
} from "apache-arrow"
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from "parquet-wasm"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  checkpointFileName,
  decodeCheckpoint,
  encodeCheckpoint,
  encodeLastCheckpoint,
  lastCheckpointOf,
} from "../../src/sinks/lake/Checkpoint.ts"
import { encodeCommit, type Action, type Add } from "../../src/sinks/lake/DeltaAction.ts"
import { buildDeltaReader, readDeltaTable } from "./DeltaReader.ts"


// ---------------------------------------------------------------------------------------------------
// The fixture: rows, their Parquet file, their stats, as the lake writer will produce them.

interface Row {
  readonly id: string
  /** Epoch milliseconds. */
  readonly ts: number
  /** decimal(18,2) as integer cents; null allowed. */
  readonly amountCents: bigint | null
  readonly seq: bigint
  readonly code: number | null
  readonly user: { readonly id: string; readonly name: string | null } | null
}

type TimestampUnit = "ms" | "us"

const dayStart = (day: number) => Date.UTC(2026, 10, day)

/** Deterministic rows with nulls in every nullable column and extreme decimals. */
const makeRows = (file: number, day: number, count: number): Array<Row> =>
  Array.from({ length: count }, (_, i) => {
    const n = file * 1000 + i
    return {
      id: `tx-${String(n).padStart(6, "0")}`,
      ts: dayStart(day) + 36_000_000 + i * 60_123,
      amountCents: i % 7 === 3 ? null : i === 0 && file === 0 ? 999_999_999_999_999_999n : BigInt((n * 7919) % 1_000_000) - 250_000n,
      seq: 1_000_000_000_000n + BigInt(n),
      code: i % 5 === 4 ? null : (n % 400) - 100,
      user: i % 6 === 5 ? null : { id: `u${n % 97}`, name: i % 4 === 1 ? null : `name ${n % 13}` },
    }
  })

const encoder = new TextEncoder()

const bitmap = (valid: ReadonlyArray<boolean>) => {
  const bits = new Uint8Array((valid.length + 7) >> 3)
  let nullCount = 0
  valid.forEach((ok, i) => (ok ? (bits[i >> 3]! |= 1 << (i & 7)) : nullCount++))
  return { nullBitmap: bits, nullCount }
}

const utf8Data = (values: ReadonlyArray<string | null>): Data<Utf8> => {
  const parts = values.map((v) => (v === null ? new Uint8Array(0) : encoder.encode(v)))
  const valueOffsets = new Int32Array(values.length + 1)
  parts.forEach((p, i) => (valueOffsets[i + 1] = valueOffsets[i]! + p.length))
  const data = new Uint8Array(valueOffsets[values.length]!)
  parts.forEach((p, i) => data.set(p, valueOffsets[i]!))
  return makeData({ type: new Utf8(), length: values.length, valueOffsets, data, ...bitmap(values.map((v) => v !== null)) })
}

/** One data file: partition columns are NOT inside (Delta takes them from the log). */
const encodeDataFile = (rows: ReadonlyArray<Row>, unit: TimestampUnit): Uint8Array => {
  const tsType = unit === "ms" ? new TimestampMillisecond("UTC") : new TimestampMicrosecond("UTC")
  const userType = new Struct([new Field("id", new Utf8(), true), new Field("name", new Utf8(), true)])
  const decimalType = new Decimal(2, 18, 128)
  const fields = [
    new Field("id", new Utf8(), false),
    new Field("ts", tsType, false),
    new Field("amount", decimalType, true),
    new Field("seq", new Int64(), false),
    new Field("code", new Int32(), true),
    new Field("user", userType, true),
  ]
  const length = rows.length
  // Decimal128 is four little-endian 32-bit words per value, two's complement.
  const words = new Uint32Array(length * 4)
  rows.forEach((row, i) => {
    const wide = BigInt.asUintN(128, row.amountCents ?? 0n)
    for (let w = 0; w < 4; w++) words[i * 4 + w] = Number((wide >> BigInt(32 * w)) & 0xffff_ffffn)
  })
  const children = [
    utf8Data(rows.map((r) => r.id)),
    makeData({ type: tsType, length, nullCount: 0, data: BigInt64Array.from(rows, (r) => (unit === "ms" ? BigInt(r.ts) : BigInt(r.ts) * 1000n)) }),
    makeData({ type: decimalType, length, data: words, ...bitmap(rows.map((r) => r.amountCents !== null)) }),
    makeData({ type: new Int64(), length, nullCount: 0, data: BigInt64Array.from(rows, (r) => r.seq) }),
    makeData({ type: new Int32(), length, data: Int32Array.from(rows, (r) => r.code ?? 0), ...bitmap(rows.map((r) => r.code !== null)) }),
    makeData({
      type: userType,
      length,
      children: [utf8Data(rows.map((r) => r.user?.id ?? null)), utf8Data(rows.map((r) => r.user?.name ?? null))],
      ...bitmap(rows.map((r) => r.user !== null)),
    }),
  ]
  const schema = new Schema(fields)
  const table = new Table(schema, [new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children }))])
  const properties = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build()
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, "stream")), properties)
}

/** Exact decimal text for JSON: a JS number would round cents past 2^53 (Kernel parses exactly). */
const rawJSON = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON
const decimalText = (cents: bigint) => {
  const sign = cents < 0n ? "-" : ""
  const abs = cents < 0n ? -cents : cents
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`
}

const minMax = <T>(values: ReadonlyArray<T | null>, compare: (a: T, b: T) => number): [T, T] | null => {
  const present = values.filter((v): v is T => v !== null).sort(compare)
  return present.length === 0 ? null : [present[0]!, present[present.length - 1]!]
}
const byNumber = (a: number, b: number) => a - b
const byBigint = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0)
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** `add.stats`: numRecords, minValues, maxValues, nullCount, nested for the struct column. */
const statsOf = (rows: ReadonlyArray<Row>): string => {
  const id = minMax(rows.map((r) => r.id), byString)!
  const ts = minMax(rows.map((r) => r.ts), byNumber)!
  const amount = minMax(rows.map((r) => r.amountCents), byBigint)
  const seq = minMax(rows.map((r) => r.seq), byBigint)!
  const code = minMax(rows.map((r) => r.code), byNumber)
  const userId = minMax(rows.map((r) => r.user?.id ?? null), byString)
  const userName = minMax(rows.map((r) => r.user?.name ?? null), byString)
  const pick = (index: 0 | 1) => ({
    id: id[index],
    ts: new Date(ts[index]).toISOString(),
    ...(amount ? { amount: rawJSON(decimalText(amount[index])) } : {}),
    seq: rawJSON(String(seq[index])),
    ...(code ? { code: code[index] } : {}),
    user: { ...(userId ? { id: userId[index] } : {}), ...(userName ? { name: userName[index] } : {}) },
  })
  const nulls = (values: ReadonlyArray<unknown>) => values.filter((v) => v === null).length
  return JSON.stringify({
    numRecords: rows.length,
    minValues: pick(0),
    maxValues: pick(1),
    nullCount: {
      id: 0,
      ts: 0,
      amount: nulls(rows.map((r) => r.amountCents)),
      seq: 0,
      code: nulls(rows.map((r) => r.code)),
      user: { id: nulls(rows.map((r) => r.user?.id ?? null)), name: nulls(rows.map((r) => r.user?.name ?? null)) },
    },
  })
}

const field = (name: string, type: unknown, nullable = true) => ({ name, type, nullable, metadata: {} })
const schemaString = JSON.stringify({
  type: "struct",
  fields: [
    field("id", "string", false),
    field("ts", "timestamp", false),
    field("amount", "decimal(18,2)"),
    field("seq", "long", false),
    field("code", "integer"),
    field("user", { type: "struct", fields: [field("id", "string"), field("name", "string")] }),
    field("year", "integer"),
    field("month", "integer"),
    field("day", "integer"),
  ],
})

interface FixtureFile {
  readonly add: Add
  readonly rows: ReadonlyArray<Row>
}

interface Fixture {
  readonly root: string
  readonly live: Array<FixtureFile>
  /** Version → its actions, commitInfo included, as written. */
  readonly commits: Map<number, Array<Action>>
}

const pad2 = (n: number) => String(n).padStart(2, "0")
const logFile = (root: string, version: number) => join(root, "_delta_log", `${String(version).padStart(20, "0")}.json`)

interface FixtureOptions {
  readonly unit?: TimestampUnit
  /** How the day is spelled in `partitionValues` (the folder is always zero-padded). */
  readonly dayValue?: (day: number) => string
  /** Version at which to write a checkpoint; none when absent. */
  readonly checkpointAt?: number
}

/**
 * Version 0 creates the table; every later version appends one file for one Kafka partition and moves
 * that partition's txn; the last version also rewrites the first file (remove + add), as compaction
 * would, and deletes the old file as vacuum would.
 */
const writeFixture = async (root: string, plan: ReadonlyArray<{ day: number; partition: number; count: number }>, options: FixtureOptions = {}) => {
  const unit = options.unit ?? "ms"
  const dayValue = options.dayValue ?? ((day: number) => String(day))
  const fixture: Fixture = { root, live: [], commits: new Map() }
  await mkdir(join(root, "_delta_log"), { recursive: true })
  const now = 1_793_923_200_000
  const commit = async (version: number, actions: Array<Action>) => {
    const all = [...actions, { commitInfo: { timestamp: now + version, operation: version === 0 ? "CREATE TABLE" : "WRITE", engineInfo: "sluice-test" } }]
    fixture.commits.set(version, all)
    await writeFile(logFile(root, version), encodeCommit(all))
  }
  const writeData = async (name: string, day: number, rows: ReadonlyArray<Row>): Promise<Add> => {
    const path = `year=2026/month=11/day=${pad2(day)}/${name}`
    const bytes = encodeDataFile(rows, unit)
    await mkdir(dirname(join(root, path)), { recursive: true })
    await writeFile(join(root, path), bytes)
    return {
      path,
      partitionValues: { year: "2026", month: "11", day: dayValue(day) },
      size: bytes.length,
      modificationTime: now,
      dataChange: true,
      stats: statsOf(rows),
    }
  }
  const offsets = new Map<number, number>()
  const txns = new Map<string, number>()

  await commit(0, [
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    {
      metaData: {
        id: "2b5c7a0e-51f4-4e0f-9d3c-6a1e8f4b2c77",
        format: { provider: "parquet", options: {} },
        schemaString,
        partitionColumns: ["year", "month", "day"],
        // Kernel drops tombstones older than this (default 7 days) by the wall clock when it writes a
        // checkpoint: a century keeps the fixture's, dated November 2026, whatever the day of the run.
        configuration: { "delta.deletedFileRetentionDuration": "interval 36500 days" },
        createdTime: now,
      },
    },
  ])
  for (const [index, step] of plan.entries()) {
    const version = index + 1
    const first = offsets.get(step.partition) ?? 0
    const last = first + step.count - 1
    offsets.set(step.partition, last + 1)
    const rows = makeRows(index, step.day, step.count)
    const add = await writeData(`part-${step.partition}-${first}-${last}-0.parquet`, step.day, rows)
    const appId = `payments@payments/${step.partition}`
    txns.set(appId, last)
    const actions: Array<Action> = [{ add }, { txn: { appId, version: last, lastUpdated: now } }]
    if (version === plan.length) {
      // Compaction of the first file: same rows, new file, old one removed from the log and the disk.
      const old = fixture.live.shift()!
      const rewritten = await writeData(old.add.path.split("/").at(-1)!.replace(/-0\.parquet$/, "-1.parquet"), Number(old.add.partitionValues.day), old.rows)
      actions.push({ remove: { path: old.add.path, deletionTimestamp: now, dataChange: false, partitionValues: old.add.partitionValues, size: old.add.size } })
      actions.push({ add: { ...rewritten, dataChange: false } })
      fixture.live.push({ add: rewritten, rows: old.rows })
      await rm(join(root, old.add.path))
    }
    fixture.live.push({ add, rows })
    await commit(version, actions)
    if (options.checkpointAt === version) await writeCheckpoint(fixture, version)
  }
  return fixture
}

/** Replays commits 0..version into table state (the lake's DeltaLog owns this for real). */
const replay = (fixture: Fixture, version: number): Array<Action> => {
  let protocol: Action | undefined
  let metaData: Action | undefined
  const adds = new Map<string, Action>()
  const removes = new Map<string, Action>()
  const txns = new Map<string, Action>()
  for (let v = 0; v <= version; v++) {
    for (const action of fixture.commits.get(v) ?? []) {
      if ("protocol" in action) protocol = action
      else if ("metaData" in action) metaData = action
      else if ("add" in action) {
        adds.set(action.add.path, action)
        removes.delete(action.add.path)
      } else if ("remove" in action) {
        adds.delete(action.remove.path)
        removes.set(action.remove.path, action)
      } else if ("txn" in action) txns.set(action.txn.appId, action)
    }
  }
  return [protocol!, metaData!, ...txns.values(), ...adds.values(), ...removes.values()]
}

const writeCheckpoint = async (fixture: Fixture, version: number) => {
  const state = replay(fixture, version)
  const bytes = encodeCheckpoint(state)
  await writeFile(join(fixture.root, "_delta_log", checkpointFileName(version)), bytes)
  await writeFile(join(fixture.root, "_delta_log", "_last_checkpoint"), encodeLastCheckpoint(lastCheckpointOf(version, state, bytes.length)))
}

// ---------------------------------------------------------------------------------------------------

const plan = [
  { day: 5, partition: 0, count: 120 },
  { day: 5, partition: 1, count: 80 },
  { day: 6, partition: 0, count: 64 },
  { day: 12, partition: 2, count: 200 },
  { day: 6, partition: 1, count: 33 }, // checkpoint here (version 5)
  { day: 12, partition: 0, count: 50 },
  { day: 30, partition: 2, count: 17 }, // version 7: also compacts the first file
]
const checkpointVersion = 5
const totalRows = plan.reduce((n, step) => n + step.count, 0)
const allRows = (fixture: Fixture) => fixture.live.flatMap((file) => file.rows)

describe("Delta Kernel reads the lake's tables", { timeout: 120_000 }, () => {
  let dir: string
  let fixture: Fixture
  let duck: Awaited<ReturnType<DuckDBInstance["connect"]>>
  const duckQuery = async (sql: string) => (await duck.runAndReadAll(sql)).getRowObjectsJson()

  beforeAll(async () => {
    await buildDeltaReader()
    dir = await mkdtemp(join(tmpdir(), "sluice-delta-interop-"))
    fixture = await writeFixture(join(dir, "payments"), plan, { checkpointAt: checkpointVersion })
    duck = await (await DuckDBInstance.create()).connect()
  }, 15 * 60_000)

  afterAll(async () => {
    duck?.closeSync()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it("counts exactly the rows written, as DuckDB does over the Hive folders", async () => {
    const reading = await readDeltaTable(fixture.root, { txns: ["payments@payments/0", "payments@payments/1", "payments@payments/2", "payments@payments/9"] })
    expect(reading).toMatchObject({ version: plan.length, rows: totalRows, files: plan.length, partitionColumns: ["year", "month", "day"] })
    expect(JSON.parse(reading.schema)).toEqual(JSON.parse(schemaString))
    expect(reading.txns).toEqual({ "payments@payments/0": 233, "payments@payments/1": 112, "payments@payments/2": 216, "payments@payments/9": null })
    // `<root>/**/*.parquet` would also match _delta_log/*.checkpoint.parquet and fail on its schema.
    const [duckCount] = await duckQuery(`select count(*) as n from read_parquet('${fixture.root}/*=*/**/*.parquet', hive_partitioning = true)`)
    expect(duckCount).toEqual({ n: String(totalRows) })
  })

  it("decodes every type with its value: timestamp[ms, UTC], decimal(18,2), int64, int32, struct, nulls", async () => {
    const rows = allRows(fixture)
    const cents = rows.reduce((sum, r) => sum + (r.amountCents ?? 0n), 0n)
    const reading = await readDeltaTable(fixture.root, { sumColumns: ["amount", "ts", "seq", "code", "day"] })
    const millis = rows.map((r) => r.ts)
    expect(reading.columns).toEqual({
      amount: {
        type: "Decimal(18, 2)",
        values: rows.filter((r) => r.amountCents !== null).length,
        nulls: rows.filter((r) => r.amountCents === null).length,
        sum: decimalText(cents),
        min: decimalText(rows.reduce((m, r) => (r.amountCents !== null && r.amountCents < m ? r.amountCents : m), 2n ** 100n)),
        max: "9999999999999999.99",
      },
      // Kernel's timestamps are microseconds: milliseconds from the file scaled by 1,000, exactly.
      ts: {
        type: "timestamp",
        values: rows.length,
        nulls: 0,
        sum: String(millis.reduce((s, m) => s + BigInt(m) * 1000n, 0n)),
        min: String(BigInt(Math.min(...millis)) * 1000n),
        max: String(BigInt(Math.max(...millis)) * 1000n),
      },
      seq: expect.objectContaining({ sum: String(rows.reduce((s, r) => s + r.seq, 0n)), nulls: 0 }),
      code: expect.objectContaining({ sum: String(rows.reduce((s, r) => s + (r.code ?? 0), 0)), nulls: rows.filter((r) => r.code === null).length }),
      day: expect.objectContaining({ min: "5", max: "30", nulls: 0 }),
    })
    const [duckSums] = await duckQuery(
      `select sum(amount)::varchar as amount, count(user) as users, count(user.name) as names
       from read_parquet('${fixture.root}/*=*/**/*.parquet', hive_partitioning = true)`,
    )
    expect(duckSums).toEqual({
      amount: decimalText(cents),
      users: String(rows.filter((r) => r.user !== null).length),
      names: String(rows.filter((r) => r.user?.name != null).length),
    })
  })

  it("returns the written rows, field by field", async () => {
    const file = fixture.live.find((f) => f.add.partitionValues.day === "30")!
    const reading = await readDeltaTable(fixture.root, { filter: "day = 30", sample: 100 })
    expect(reading.files).toBe(1)
    expect(reading.sample).toEqual(
      file.rows.map((r) => ({
        id: r.id,
        ts: new Date(r.ts).toISOString().replace(".000Z", "Z"),
        amount: r.amountCents === null ? null : decimalText(r.amountCents),
        seq: String(r.seq),
        code: r.code,
        user: r.user === null ? null : { id: r.user.id, name: r.user.name },
        year: 2026,
        month: 11,
        day: 30,
      })),
    )
  })

  it("prunes files by partition values and by our add.stats (timestamps as ISO-8601 with Z, exact decimals)", async () => {
    const expected: Record<string, number> = {
      "day = 5": 2,
      "month = 11": plan.length,
      "ts >= 2026-11-12T00:00:00Z": 3,
      "ts < 2026-11-05T00:00:00Z": 0,
      "amount > 9999999999999999.98": 1,
      "amount > 9999999999999999.99": 0,
      "seq < 1000000000000": 0,
      "user.id > u99": 0,
    }
    const filters = Object.keys(expected)
    const files: Array<number> = []
    // One JVM at a time: in parallel they only compete for the CPU.
    for (const filter of filters) files.push((await readDeltaTable(fixture.root, { filter })).files)
    expect(Object.fromEntries(filters.map((filter, i) => [filter, files[i]]))).toEqual(expected)
  })

  it("uses the checkpoint once the commits before it are cleaned up", async () => {
    const cleaned = join(dir, "cleaned")
    await cp(fixture.root, cleaned, { recursive: true })
    // Metadata cleanup may delete commits older than the checkpoint — but not the checkpoint's own
    // version: Kernel requires N.json next to N.checkpoint.parquet ("Missing delta file for version N").
    for (let v = 0; v < checkpointVersion; v++) await rm(logFile(cleaned, v))
    const reading = await readDeltaTable(cleaned, { txns: ["payments@payments/0", "payments@payments/1"], sumColumns: ["day"] })
    expect(reading).toMatchObject({ version: plan.length, rows: totalRows, files: plan.length })
    expect(reading.txns).toEqual({ "payments@payments/0": 233, "payments@payments/1": 112 })
    expect(reading.columns?.day?.sum).toBe(String(fixture.live.reduce((s, f) => s + Number(f.add.partitionValues.day) * f.rows.length, 0)))
    // Time travel to the checkpoint itself: only the checkpoint and N.json are left to read it from.
    // (Days after the 5th: the 5th's first file was compacted and vacuumed at the last version.)
    const atCheckpoint = await readDeltaTable(cleaned, { version: checkpointVersion, filter: "day > 5" })
    const laterDays = plan.slice(0, checkpointVersion).filter((s) => s.day > 5)
    expect(atCheckpoint).toMatchObject({
      version: checkpointVersion,
      rows: laterDays.reduce((n, s) => n + s.count, 0),
      files: laterDays.length,
    })

    await rm(logFile(cleaned, checkpointVersion))
    await expect(readDeltaTable(cleaned)).rejects.toThrow(`Missing delta file for version ${checkpointVersion}`)
  })

  it("accepts a zero-padded partition value ('05') in the log as the integer 5", async () => {
    const padded = await writeFixture(join(dir, "padded"), plan.slice(0, 2), { dayValue: pad2 })
    const reading = await readDeltaTable(padded.root, { filter: "day = 5", sumColumns: ["day"] })
    expect(reading).toMatchObject({ rows: 200, files: 2 })
    expect(reading.columns?.day).toMatchObject({ min: "5", max: "5" })
  })

  it("reads timestamp[us, UTC] files to the same values", async () => {
    const micros = await writeFixture(join(dir, "micros"), plan.slice(0, 3), { unit: "us", checkpointAt: 2 })
    const millis = await writeFixture(join(dir, "millis"), plan.slice(0, 3), { unit: "ms", checkpointAt: 2 })
    const [a, b] = await Promise.all([micros, millis].map((f) => readDeltaTable(f.root, { sumColumns: ["ts"], sample: 5 })))
    const millisOf = allRows(millis).map((r) => r.ts)
    // Both readings hold the written instants (microseconds in Kernel), so their equality means something.
    expect(b!.columns?.ts).toMatchObject({ values: millisOf.length, nulls: 0, sum: String(millisOf.reduce((s, m) => s + BigInt(m) * 1000n, 0n)) })
    expect(b!.sample).toHaveLength(5)
    expect(a!.columns).toEqual(b!.columns)
    expect(a!.sample).toEqual(b!.sample)
  })

  it("our checkpoint decoder reads the checkpoint Kernel writes for the same state", async () => {
    const copy = join(dir, "kernel-checkpoint")
    await cp(fixture.root, copy, { recursive: true })
    expect((await readDeltaTable(copy, { writeCheckpoint: true })).checkpointWritten).toBe(plan.length)
    const decoded = decodeCheckpoint(await readFile(join(copy, "_delta_log", checkpointFileName(plan.length))))
    const key = (action: Action) => JSON.stringify(action)
    const sorted = (actions: ReadonlyArray<Action>) => actions.map(key).sort()
    // Kernel keeps the actions as committed (dataChange, lastUpdated…), so compare the file set and the
    // txns field by field and the rest whole.
    const expected = replay(fixture, plan.length)
    const paths = (actions: ReadonlyArray<Action>, kind: "add" | "remove") =>
      actions.flatMap((a) => ("add" in a && kind === "add" ? [a.add.path] : "remove" in a && kind === "remove" ? [a.remove.path] : [])).sort()
    expect(paths(decoded, "add")).toEqual(paths(expected, "add"))
    // The compacted file's tombstone, kept by the fixture's retention.
    expect(paths(expected, "remove")).toHaveLength(1)
    expect(paths(decoded, "remove")).toEqual(paths(expected, "remove"))
    const adds = (actions: ReadonlyArray<Action>) =>
      actions.flatMap((a) => ("add" in a ? [{ path: a.add.path, partitionValues: a.add.partitionValues, size: a.add.size, stats: a.add.stats }] : []))
    expect(sorted(adds(decoded) as never)).toEqual(sorted(adds(expected) as never))
    const txns = (actions: ReadonlyArray<Action>) => actions.flatMap((a) => ("txn" in a ? [[a.txn.appId, a.txn.version]] : [])).sort()
    expect(txns(decoded)).toEqual(txns(expected))
    const header = (actions: ReadonlyArray<Action>) => sorted(actions.filter((a) => "protocol" in a || "metaData" in a))
    expect(header(decoded)).toEqual(header(expected))
  })

  it("rejects with Kernel's message when the path is not a table", async () => {
    await expect(readDeltaTable(join(dir, "nothing-here"))).rejects.toThrow(/TableNotFoundException/)
  })
})
