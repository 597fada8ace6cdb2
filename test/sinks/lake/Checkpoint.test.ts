/**
 * Classic Delta checkpoints: round trip of a realistic table state, the file as DuckDB sees it, and
 * the `_last_checkpoint` pointer.
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  checkpointFileName,
  decodeCheckpoint,
  decodeLastCheckpoint,
  encodeCheckpoint,
  encodeLastCheckpoint,
  lastCheckpointOf,
} from "../../../src/sinks/lake/Checkpoint.ts"
import type { Action } from "../../../src/sinks/lake/DeltaAction.ts"

const schemaString = JSON.stringify({
  type: "struct",
  fields: [
    { name: "transactionId", type: "string", nullable: false, metadata: {} },
    { name: "eventTime", type: "timestamp", nullable: false, metadata: {} },
    { name: "amount", type: "decimal(18,2)", nullable: true, metadata: {} },
    { name: "year", type: "integer", nullable: true, metadata: {} },
    { name: "month", type: "integer", nullable: true, metadata: {} },
    { name: "day", type: "integer", nullable: true, metadata: {} },
  ],
})

const pad = (n: number) => String(n).padStart(2, "0")

/** A table state as the lake would checkpoint it: 1,000 files over 10 days, 8 partitions' txns. */
const state = (): Array<Action> => {
  const actions: Array<Action> = [
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    {
      metaData: {
        id: "5f0c8a4e-7d1b-4c39-9a52-3b2f0e6d9c11",
        name: "payments",
        format: { provider: "parquet", options: {} },
        schemaString,
        partitionColumns: ["year", "month", "day"],
        configuration: { "delta.checkpointInterval": "10", "delta.logRetentionDuration": "interval 30 days" },
        createdTime: 1_793_836_800_000,
      },
    },
  ]
  for (let i = 0; i < 1000; i++) {
    const day = 1 + (i % 10)
    const partition = i % 8
    const first = i * 1000
    actions.push({
      add: {
        path: `year=2026/month=11/day=${pad(day)}/part-${partition}-${first}-${first + 999}-0.parquet`,
        partitionValues: { year: "2026", month: "11", day: String(day) },
        size: 50_000 + i,
        modificationTime: 1_793_836_800_000 + i * 1000,
        dataChange: true,
        stats: JSON.stringify({
          numRecords: 1000,
          minValues: { transactionId: `t-${first}`, eventTime: "2026-11-05T10:15:30.123Z", amount: 0.01 },
          maxValues: { transactionId: `t-${first + 999}`, eventTime: "2026-11-05T11:15:30.123Z", amount: 9999.99 },
          nullCount: { transactionId: 0, eventTime: 0, amount: i % 3 },
        }),
        ...(i % 100 === 0 ? { tags: { compacted: "false", "a key with spaces": "é" } } : {}),
      },
    })
  }
  for (let p = 0; p < 8; p++) {
    actions.push({ txn: { appId: `payments@payments/${p}`, version: 999_000 + p, ...(p % 2 === 0 ? { lastUpdated: 1_793_900_000_000 } : {}) } })
  }
  actions.push({
    remove: {
      path: "year=2026/month=11/day=01/part-0-0-999-0.old.parquet",
      deletionTimestamp: 1_793_900_000_000,
      dataChange: true,
      extendedFileMetadata: true,
      partitionValues: { year: "2026", month: "11", day: "1" },
      size: 1234,
    },
  })
  actions.push({ remove: { path: "year=2026/month=11/day=02/gone.parquet", deletionTimestamp: 1_793_900_000_001, dataChange: false } })
  return actions
}

describe("checkpointFileName", () => {
  it("zero-pads the version to 20 digits", () => {
    expect(checkpointFileName(10)).toBe("00000000000000000010.checkpoint.parquet")
    expect(checkpointFileName(0)).toBe("00000000000000000000.checkpoint.parquet")
  })

  it("rejects what is not a version", () => {
    expect(() => checkpointFileName(-1)).toThrow(/not a table version/)
    expect(() => checkpointFileName(1.5)).toThrow(/not a table version/)
  })
})

describe("encodeCheckpoint / decodeCheckpoint", () => {
  it("round-trips a realistic state exactly, absent optional fields staying absent", () => {
    const actions = state()
    expect(decodeCheckpoint(encodeCheckpoint(actions))).toEqual(actions)
  })

  it("round-trips with Snappy as well", () => {
    const actions = state()
    expect(decodeCheckpoint(encodeCheckpoint(actions, { compression: "snappy" }))).toEqual(actions)
  })

  it("keeps null partition values and empty maps apart", () => {
    const actions: Array<Action> = [
      { protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: [], writerFeatures: ["appendOnly"] } },
      { metaData: { id: "x", format: { provider: "parquet", options: {} }, schemaString, partitionColumns: [], configuration: {} } },
      { add: { path: "a.parquet", partitionValues: { year: null }, size: 1, modificationTime: 2, dataChange: false, tags: {} } },
      { add: { path: "b.parquet", partitionValues: {}, size: 1, modificationTime: 2, dataChange: true } },
    ]
    expect(decodeCheckpoint(encodeCheckpoint(actions))).toEqual(actions)
  })

  it("refuses what is not table state", () => {
    const [protocol, metaData] = state()
    expect(() => encodeCheckpoint([protocol!, metaData!, { commitInfo: { timestamp: 1, operation: "WRITE" } }])).toThrow(/commitInfo/)
    expect(() => encodeCheckpoint([protocol!, protocol!, metaData!])).toThrow(/exactly one protocol/)
    expect(() => encodeCheckpoint([protocol!])).toThrow(/exactly one protocol and one metaData/)
    expect(() =>
      encodeCheckpoint([protocol!, metaData!, { txn: { appId: "a", version: 2 ** 60 } }]),
    ).toThrow(/txn.version = .* is not an integer/)
  })
})

describe("the checkpoint file, read by DuckDB", () => {
  let dir: string
  let file: string
  let connection: Awaited<ReturnType<DuckDBInstance["connect"]>>
  const query = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJson()

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-checkpoint-"))
    file = join(dir, checkpointFileName(42))
    await writeFile(file, encodeCheckpoint(state()))
    connection = await (await DuckDBInstance.create()).connect()
  })

  afterAll(async () => {
    connection.closeSync()
    await rm(dir, { recursive: true, force: true })
  })

  it("has one non-null action column per row", async () => {
    const [counts] = await query(
      `select count(*) as rows, count(add) as adds, count(txn) as txns, count(remove) as removes,
              count(metaData) as metaDatas, count(protocol) as protocols,
              count(*) filter (where (add is not null)::int + (txn is not null)::int + (remove is not null)::int
                                   + (metaData is not null)::int + (protocol is not null)::int <> 1) as bad
       from read_parquet('${file}')`,
    )
    expect(counts).toEqual({ rows: "1012", adds: "1000", txns: "8", removes: "2", metaDatas: "1", protocols: "1", bad: "0" })
  })

  it("exposes txn versions, partition value maps, metaData and protocol as Delta readers expect", async () => {
    const txns = await query(`select txn.appId as appId, txn.version as version from read_parquet('${file}') where txn is not null order by 1`)
    expect(txns.map((row) => row.version)).toEqual(["999000", "999001", "999002", "999003", "999004", "999005", "999006", "999007"])
    const [days] = await query(
      `select count(distinct add.partitionValues['day']) as days, min(add.size) as minSize, sum(add.size) as totalSize
       from read_parquet('${file}') where add is not null`,
    )
    expect(days).toEqual({ days: "10", minSize: "50000", totalSize: String(50_000 * 1000 + (999 * 1000) / 2) })
    const [meta] = await query(
      `select metaData.partitionColumns as cols, metaData.format.provider as provider,
              metaData.configuration['delta.checkpointInterval'] as interval, protocol_row.minWriterVersion as writer
       from read_parquet('${file}') m,
            (select protocol as protocol_row from read_parquet('${file}') where protocol is not null)
       where metaData is not null`,
    )
    expect(meta).toEqual({ cols: ["year", "month", "day"], provider: "parquet", interval: "10", writer: 2 })
  })

  it("is ZSTD-compressed by default", async () => {
    const [codec] = await query(`select distinct compression from parquet_metadata('${file}')`)
    expect(codec).toEqual({ compression: "ZSTD" })
  })
})

describe("_last_checkpoint", () => {
  it("describes the checkpoint and round-trips", () => {
    const actions = state()
    const last = lastCheckpointOf(42, actions, 12_345)
    expect(last).toEqual({ version: 42, size: 1012, sizeInBytes: 12_345, numOfAddFiles: 1000 })
    expect(decodeLastCheckpoint(encodeLastCheckpoint(last), "_last_checkpoint")).toEqual(last)
  })

  it("ignores fields it does not use and names the file on bad input", () => {
    expect(decodeLastCheckpoint('{"version":7,"size":3,"parts":1,"checksum":"abc"}', "t/_last_checkpoint")).toEqual({ version: 7, size: 3 })
    expect(() => decodeLastCheckpoint("{", "t/_delta_log/_last_checkpoint")).toThrow(/t\/_delta_log\/_last_checkpoint: not JSON/)
    expect(() => decodeLastCheckpoint('{"version":"7"}', "x")).toThrow(/x: expected/)
  })
})
