/**
 * The fixed-width summaries `sluice run` and the demo print: feeds with their log version and
 * committed offsets, tables with their snapshot and the offsets they reflect.
 */
import { describe, expect, it } from "vitest"
import { formatFeeds, formatTables } from "../../src/ops/LakeReport.ts"

describe("formatFeeds", () => {
  it("lines up each feed's rows, files, size, log version and offsets by partition", () => {
    expect(formatFeeds([
      { feed: "transaction_stream", kind: "streams", rows: 98_935, files: 24, bytes: 3.8 * 1024 * 1024, version: 3, offsets: { "1": 25_152, "0": 25_124 } },
      { feed: "t", kind: "_deadletter", rows: 0, files: 0, bytes: 0, version: 0, offsets: {} }
    ])).toBe([
      "feed                        rows    files  size     version  committed offsets (partition:last)",
      "streams/transaction_stream  98,935  24     3.8 MiB  3        0:25124 1:25152",
      "_deadletter/t               0       0      0.0 MiB  0        -"
    ].join("\n"))
  })
})

describe("formatTables", () => {
  it("gives each table's snapshot as vN, and - before its first", () => {
    expect(formatTables([
      { feed: "payment_method_totals", kind: "tables", rows: 30, files: 1, bytes: 2048, version: 4, snapshot: 2, offsets: { "0": 9, "10": 7, "2": 8 } },
      { feed: "product_purchase_counts", kind: "tables", rows: 0, files: 0, bytes: 0, version: -1, snapshot: undefined, offsets: {} }
    ])).toBe([
      "table                           rows  files  size     snapshot  reflects offsets (partition:last)",
      "tables/payment_method_totals    30    1      0.0 MiB  v2        0:9 2:8 10:7",
      "tables/product_purchase_counts  0     0      0.0 MiB  -         -"
    ].join("\n"))
  })
})
