/**
 * `sluice feeds` as an operator types it: a feed declared from a schema file, listed beside the
 * built-in ones, shown, changed, stopped, archived, restored and deleted, every refusal a one-line
 * reason with a non-zero exit.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runSluice } from "../support/Sluice.ts"

const dir = mkdtempSync(path.join(tmpdir(), "sluice-feeds-cli-"))
const lake = path.join(dir, "lake")
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const file = (name: string, content: unknown) => {
  const p = path.join(dir, name)
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content))
  return p
}
const ORDERS = file("orders.json", { fields: { order_id: "string", amount: "decimal(12,2)", placed_at: "timestamp", customer: { id: "string", vip: "boolean?" } } })
const feeds = (...args: Array<string>) => runSluice(["--lake-dir", lake, "feeds", ...args], { SLUICE_TOPIC: "transaction_stream" })

/** The only line of a refusal. */
const refusal = async (...args: Array<string>) => {
  const r = await feeds(...args)
  expect(r.code, r.output).toBe(1)
  expect(r.output.trim().split("\n")).toHaveLength(1)
  return r.output.trim()
}

describe("sluice feeds", () => {
  it("declares, lists, shows, changes and removes a feed", async () => {
    const added = await feeds("add", "--name", "orders", "--type", "stream", "--topic", "orders", "--schema", ORDERS, "--partition-by", "placed_at", "--description", "Orders of the shop")
    expect(added.code, added.output).toBe(0)
    expect(added.output).toBe(`declared streams/orders: topic orders, 5 fields, partitioned by placed_at; entry ${lake}/_feeds/active/orders.json\n`)

    const listed = JSON.parse((await feeds("list", "--json")).output) as { feeds: Array<{ feed: string; origin: string; state: string }>; problems: Array<unknown> }
    expect(listed.feeds.filter((f) => f.origin === "declared")).toEqual([
      { feed: "streams/orders", origin: "declared", state: "enabled", topic: "orders", partitionBy: "placed_at", fields: 5, description: "Orders of the shop" }
    ])
    expect(listed.feeds.filter((f) => f.origin === "built-in").map((f) => f.feed)).toContain("streams/transaction_stream")
    expect(listed.problems).toEqual([])

    const shown = JSON.parse((await feeds("show", "--name", "orders", "--json")).output) as Record<string, unknown>
    expect(shown).toMatchObject({ name: "orders", state: "active", enabled: true, schemaVersion: 1, table: null, schema: { fields: { order_id: "string", amount: "decimal(12,2)", placed_at: "timestamp", customer: { id: "string", vip: "boolean?" } } } })

    const updated = await feeds("update", "--name", "orders", "--schema", file("orders2.json", { fields: { order_id: "string", amount: "decimal(12,2)", placed_at: "timestamp", customer: { id: "string", vip: "boolean?" }, note: "string?" } }))
    expect(updated.output).toBe("updated streams/orders: topic orders, schema version 2, partitioned by placed_at\n")
    expect((await feeds("disable", "--name", "orders")).output).toBe("streams/orders: disabled (not consumed; its data stays)\n")
    expect((await feeds("archive", "--name", "orders")).output).toBe("streams/orders: archived (not consumed; its data kept)\n")
    expect(existsSync(path.join(lake, "_feeds", "archived", "orders.json"))).toBe(true)
    expect((await feeds("restore", "--name", "orders")).output).toBe("streams/orders: restored\n")
    expect(await refusal("delete", "--name", "orders")).toBe("sluice feeds delete: deleting feed orders needs --yes")
    expect((await feeds("delete", "--name", "orders", "--yes", "--purge")).output).toBe("deleted feed orders; it had no data\n")
    expect(await refusal("show", "--name", "orders")).toBe("sluice: feed orders: no such feed (sluice feeds list shows them)")
  })

  it.each([
    [["add", "--name", "x", "--type", "stream", "--topic", "x", "--schema", path.join(dir, "bad.json")], `sluice: --schema ${path.join(dir, "bad.json")}: fields.customer.vip: unknown type "bool"; the types are string`],
    [["add", "--name", "x", "--type", "stream", "--topic", "x", "--schema", path.join(dir, "missing.json")], `sluice: --schema ${path.join(dir, "missing.json")}: ENOENT`],
    [["add", "--name", "transaction_flattened", "--type", "stream", "--topic", "x", "--schema", ORDERS], "sluice: feed transaction_flattened: transaction_flattened is a built-in feed (streams/transaction_flattened)"],
    [["add", "--name", "x", "--type", "stream", "--topic", "transaction_stream", "--schema", ORDERS], "sluice: feed x: topic transaction_stream is read by the transaction flow"],
    [["add", "--name", "x", "--type", "stream", "--topic", "x", "--schema", ORDERS, "--partition-by", "customer.vip"], "sluice: --partition-by customer.vip: customer.vip is boolean, not a timestamp"],
    [["add", "--name", "X-1", "--type", "stream", "--topic", "x", "--schema", ORDERS], "sluice: feed X-1: name: Expected a lowercase letter"],
    [["add", "--name", "x", "--type", "lake", "--topic", "x", "--schema", ORDERS], "sluice feeds add: Invalid value for flag --type"],
    [["update", "--name", "x"], "sluice feeds update: nothing to change"],
    [["enable", "--name", "nothing"], "sluice: feed nothing: no such feed in"]
  ])("refuses %j with a one-line reason", async (args, reason) => {
    file("bad.json", { fields: { customer: { id: "string", vip: "bool" } } })
    expect(await refusal(...args)).toContain(reason)
  })
})
