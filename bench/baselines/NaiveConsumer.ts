/**
 * The baseline: what the seeds do, written the straightforward way. A consumer with autocommit
 * JSON-parses each message, writes a Parquet file per 1,000 (apache-arrow `tableFromJSON` +
 * parquet-wasm) and, with `--mysql-url`, INSERTs each message into MySQL; no exactly-once.
 *
 * Run as its own process by bench/scenarios/Baseline.ts:
 *   node bench/baselines/NaiveConsumer.ts --brokers B --topic T --messages N --group G --out DIR [--mysql-url URL]
 * and prints one line `baseline: {json}` with what it did and its own rate.
 */
import { writeFileSync } from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Consumer } from "@platformatic/kafka"
import { tableFromJSON, tableToIPC } from "apache-arrow"
import { createConnection } from "mysql2/promise"
import { Compression, Table as WasmTable, writeParquet, WriterPropertiesBuilder } from "parquet-wasm"

const { values: args } = parseArgs({
  options: {
    brokers: { type: "string", default: "127.0.0.1:9092" },
    topic: { type: "string" },
    messages: { type: "string" },
    group: { type: "string" },
    out: { type: "string" },
    "mysql-url": { type: "string" }
  }
})
if (args.topic === undefined || args.messages === undefined || args.group === undefined || args.out === undefined) {
  throw new Error("usage: NaiveConsumer.ts --topic T --messages N --group G --out DIR [--brokers B] [--mysql-url URL]")
}
const topic = args.topic
const target = Number(args.messages)
const outDir = args.out
const FILE_ROWS = 1_000

// The flat row the seeds' consumer builds from a message (json_normalize-style), nulls for what is missing.
const flatten = (t: any) => ({
  transaction_id: t.transaction_id ?? null,
  event_time: t.event_time ?? null,
  transaction_type: t.transaction_type ?? null,
  status: t.status ?? null,
  amount: Number(t.amount),
  currency: t.currency ?? null,
  user_id: t.user?.id ?? null,
  user_name: t.user?.name ?? null,
  user_email: t.user?.email ?? null,
  user_country: t.user?.country ?? null,
  user_city: t.user?.city ?? null,
  payment_method_id: t.payment_method?.id ?? null,
  payment_method_name: t.payment_method?.name ?? null,
  payment_method_category: t.payment_method?.category ?? null,
  product_id: t.product?.id ?? null,
  product_name: t.product?.name ?? null,
  product_category: t.product?.category ?? null,
  product_price: t.product?.price ?? null,
  quantity: t.quantity ?? 1,
  ip_address: t.ip_address ?? null,
  card_last4: t.card_last4 ?? null
})
type Row = ReturnType<typeof flatten>

const INSERT = `INSERT INTO transactions (transaction_id, event_time, transaction_type, status, amount, currency,
  user_id, user_name, user_email, user_country, user_city, payment_method_id, payment_method_name, payment_method_category,
  product_id, product_name, product_category, product_price, quantity, ip_address, card_last4)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const mysql = args["mysql-url"] === undefined ? undefined : await createConnection(args["mysql-url"])

const consumer = new Consumer({
  clientId: `naive-${process.pid}`,
  groupId: args.group,
  bootstrapBrokers: args.brokers.split(","),
  autocommit: true
})
const stream = await consumer.consume({ topics: [topic], mode: "earliest" })

let consumed = 0
let parseErrors = 0
let insertErrors = 0
let files = 0
let firstAt: number | undefined
let rows: Array<Row> = []

const writeFile = () => {
  const table = tableFromJSON(rows)
  const bytes = writeParquet(
    WasmTable.fromIPCStream(tableToIPC(table, "stream")),
    new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build()
  )
  writeFileSync(path.join(outDir, `part-${files}.parquet`), bytes)
  files++
  rows = []
}

for await (const message of stream) {
  firstAt ??= Date.now()
  consumed++
  let row: Row | undefined
  try {
    row = flatten(JSON.parse(message.value.toString()))
  } catch {
    parseErrors++
  }
  if (row !== undefined) {
    rows.push(row)
    if (mysql !== undefined) {
      try {
        await mysql.execute(INSERT, [
          row.transaction_id, row.event_time === null ? null : new Date(row.event_time), row.transaction_type, row.status,
          Number.isFinite(row.amount) ? row.amount : null, row.currency, row.user_id, row.user_name, row.user_email,
          row.user_country, row.user_city, row.payment_method_id, row.payment_method_name, row.payment_method_category,
          row.product_id, row.product_name, row.product_category, row.product_price, row.quantity, row.ip_address, row.card_last4
        ])
      } catch {
        insertErrors++
      }
    }
    if (rows.length === FILE_ROWS) writeFile()
  }
  if (consumed === target) break
}
if (rows.length > 0) writeFile()
const lastAt = Date.now()

await stream.close()
await consumer.close(true)
await mysql?.end()

const busyMs = lastAt - (firstAt ?? lastAt)
console.log(
  `baseline: ${JSON.stringify({ consumed, parseErrors, insertErrors, files, busyMs, msgPerSec: consumed / Math.max(busyMs / 1000, 0.001) })}`
)
