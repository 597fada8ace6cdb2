import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { withDuckDb } from "../../../src/ops/DuckDb.ts"
import { deltaSchemaString, RowGroup, scalar, source, sourcesOf, struct } from "../../../src/sinks/lake/Columns.ts"
import { encodeParquet } from "../../../src/sinks/lake/ParquetFile.ts"

interface Row {
  readonly offset: number
  readonly name: string
  readonly city: string | null
  readonly cents: number
  readonly at: number
  readonly tag: { readonly code: string; readonly weight: number } | null
  readonly raw: Uint8Array | null
}

const s = {
  offset: source.int64<Row>("offset", (r) => r.offset),
  name: source.string<Row>("name", (r) => r.name),
  city: source.string<Row>("city", (r) => r.city, true),
  cents: source.decimal<Row>("cents", (r) => r.cents),
  at: source.timestamp<Row>("at", (r) => r.at),
  hasTag: source.boolean<Row>("tag?", (r) => r.tag !== null),
  tagCode: source.string<Row>("tag.code", (r) => r.tag?.code ?? null, true),
  tagWeight: source.float64<Row>("tag.weight", (r) => r.tag?.weight ?? null, true),
  raw: source.binary<Row>("raw", (r) => r.raw, true)
}
const flat = [scalar("offset", s.offset), scalar("name", s.name), scalar("city", s.city), scalar("cents", s.cents), scalar("tag_code", s.tagCode)]
const nested = [scalar("offset", s.offset), scalar("at", s.at), struct("tag", [scalar("code", s.tagCode), scalar("weight", s.tagWeight)], s.hasTag), scalar("raw", s.raw)]

const row = (i: number): Row => ({
  offset: 2 ** 40 + i,
  // Past 1,024 distinct names the column leaves its dictionary; cities stay few.
  name: `name-${i}-é`,
  city: i % 7 === 0 ? null : ["Paris", "Lyon", "Zürich"][i % 3]!,
  cents: i % 2 === 0 ? 123_456_789_012 + i : -(i + 5),
  at: Date.UTC(2026, 10, 22) + i,
  tag: i % 5 === 0 ? null : { code: `c${i % 4}`, weight: i / 4 },
  raw: i % 3 === 0 ? null : Buffer.from(`raw-${i}`)
})

const dir = mkdtempSync(path.join(tmpdir(), "sluice-columns-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const readBack = (file: string, sql: string) => Effect.runPromise(withDuckDb((db) => db.query(sql.replaceAll("$file", `'${file}'`))))

describe("RowGroup", () => {
  const N = 3_000
  const group = new RowGroup(sourcesOf([...flat, ...nested]))
  for (let i = 0; i < N; i++) group.add(row(i))

  it("builds each source once for every feed that reads it, and Parquet holds the exact values", async () => {
    const file = path.join(dir, "flat.parquet")
    writeFileSync(file, encodeParquet(group.table(flat)))
    const [r] = await readBack(file, `SELECT count(*) AS n, count(city) AS cities, count(DISTINCT name) AS names, sum(cents)::VARCHAR AS total,
      min("offset") AS lo, max("offset") AS hi, count(tag_code) AS tags FROM $file`)
    const rows = Array.from({ length: N }, (_, i) => row(i))
    const total = rows.reduce((t, x) => t + BigInt(x.cents), 0n)
    expect(r).toEqual({
      n: BigInt(N),
      cities: BigInt(rows.filter((x) => x.city !== null).length),
      names: BigInt(N),
      total: `${total / 100n}.${String(total % 100n).padStart(2, "0")}`,
      lo: BigInt(2 ** 40),
      hi: BigInt(2 ** 40 + N - 1),
      tags: BigInt(rows.filter((x) => x.tag !== null).length)
    })
  })

  it("makes a struct null where its presence source says so, and keeps binary bytes", async () => {
    const file = path.join(dir, "nested.parquet")
    writeFileSync(file, encodeParquet(group.table(nested)))
    const rows = await readBack(file, `SELECT "offset", tag, raw, "at" FROM $file ORDER BY "offset" LIMIT 6`)
    expect(rows[0]).toMatchObject({ tag: null, raw: null })
    expect(rows[1]!.tag).toEqual({ code: "c1", weight: 0.25 })
    expect(Buffer.from(rows[1]!.raw as Uint8Array).toString()).toBe("raw-1")
  })

  it("slices the rows from an index, with statistics over the slice only", async () => {
    const file = path.join(dir, "slice.parquet")
    writeFileSync(file, encodeParquet(group.table(flat, 2_990)))
    const [r] = await readBack(file, `SELECT count(*) AS n, min("offset") AS lo, min(name) AS first FROM $file`)
    expect(r).toEqual({ n: 10n, lo: BigInt(2 ** 40 + 2_990), first: "name-2990-é" })
    const stats = group.stats(flat, 2_990)
    expect(stats).toMatchObject({ numRecords: 10, minValues: { offset: 2 ** 40 + 2_990 }, maxValues: { offset: 2 ** 40 + 2_999 } })
    expect(stats.nullCount.city).toBe(Array.from({ length: 10 }, (_, i) => 2_990 + i).filter((i) => i % 7 === 0).length)
    expect(group.stats(flat).nullCount.city).toBe(Math.ceil(N / 7))
  })

  it("keeps every string exactly past its dictionary: nulls, empty, accents, pairs, a lone surrogate", () => {
    interface T {
      readonly v: string | null
    }
    const text = (i: number): string | null =>
      i % 11 === 0 ? null : i % 13 === 0 ? "" : i % 5 === 0 ? `Zoé-${i}-🙂` : i === 1_500 ? `odd-\ud800-${i}` : `tx-${i}`
    const col = [scalar("v", source.string<T>("v", (r) => r.v, true))]
    for (const n of [1_000, 1_025, 3_000]) {
      const g = new RowGroup(sourcesOf(col))
      for (let i = 0; i < n; i++) g.add({ v: text(i) })
      const expected = Array.from({ length: n }, (_, i) => text(i)?.replace("\ud800", "\ufffd") ?? null)
      expect([...g.table(col).getChild("v")!]).toEqual(expected)
      expect([...g.table(col, n - 7).getChild("v")!]).toEqual(expected.slice(n - 7))
    }
  })

  it("starts a source's next files as plain strings once its dictionary overflowed, and tries one again later", () => {
    interface T {
      readonly v: string
    }
    const v = source.string<T>("v", (r) => r.v)
    const col = [scalar("v", v)]
    const file = (n: number, distinct: number) => {
      const g = new RowGroup(sourcesOf(col))
      for (let i = 0; i < n; i++) g.add({ v: `v-${i % distinct}` })
      const child = g.table(col).getChild("v")!
      expect([...child]).toEqual(Array.from({ length: n }, (_, i) => `v-${i % distinct}`))
      return String(child.type)
    }
    expect(file(2_000, 3)).toMatch(/^Dictionary/)
    expect(file(2_000, 2_000)).toBe("Utf8")
    // Few values now, but the source overflowed a file ago: plain, until the 16th file retries.
    const types = Array.from({ length: 16 }, () => file(2_000, 3))
    expect(types.slice(0, 15).every((t) => t === "Utf8")).toBe(true)
    expect(types[15]).toMatch(/^Dictionary/)
    expect(file(2_000, 3)).toMatch(/^Dictionary/)
  })

  it("refuses a missing value in a column that is not nullable", () => {
    const g = new RowGroup(sourcesOf(flat))
    expect(() => g.add({ ...row(1), name: null as unknown as string })).toThrow(/name is not nullable/)
  })

  it("declares the Delta schema from the same definitions", () => {
    const schema = JSON.parse(deltaSchemaString(nested, [{ name: "year", type: "integer" }]))
    expect(schema.fields.map((f: { name: string }) => f.name)).toEqual(["offset", "at", "tag", "raw", "year"])
    expect(schema.fields[2]).toMatchObject({ nullable: true, type: { type: "struct", fields: [{ name: "code", type: "string" }, { name: "weight", type: "double" }] } })
    expect(schema.fields[1].type).toBe("timestamp")
  })

  it("writes a timestamp's min and max only where ISO-8601 writes them, whatever a producer's Kafka timestamp", async () => {
    const at = [scalar("offset", s.offset), scalar("at", s.at)]
    const g = new RowGroup(sourcesOf(at))
    for (const [i, t] of [-9e15, -1, Date.UTC(2026, 10, 22), Date.UTC(10_000, 0, 1), 9e15].entries()) g.add({ ...row(i), at: t })
    const all = g.stats(at)
    expect(all.minValues).toEqual({ offset: 2 ** 40 })
    expect(all.maxValues).toEqual({ offset: 2 ** 40 + 4 })
    expect(all.nullCount).toEqual({ offset: 0, at: 0 })
    // From the second row: min -1 is 1969's last millisecond; max 9e15 is past what a Date holds.
    expect(g.stats(at, 1)).toMatchObject({ numRecords: 4, minValues: { at: "1969-12-31T23:59:59.999Z" }, maxValues: { offset: 2 ** 40 + 4 } })
    expect(g.stats(at, 1).maxValues).not.toHaveProperty("at")
    expect(g.stats(at, 2)).toMatchObject({ minValues: { at: "2026-11-22T00:00:00.000Z" } })
    // Year 10000: a Date holds it, but not as ISO-8601's four-digit year.
    expect(g.stats(at, 3).minValues).not.toHaveProperty("at")
    // The values themselves are kept as they are.
    const file = path.join(dir, "timestamps.parquet")
    writeFileSync(file, encodeParquet(g.table(at)))
    const rows = await readBack(file, `SELECT epoch_ms("at") AS ms FROM $file ORDER BY "offset"`)
    expect(rows.map((r) => Number(r.ms))).toEqual([-9e15, -1, Date.UTC(2026, 10, 22), Date.UTC(10_000, 0, 1), 9e15])
  })
})
