import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Option, Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { parseFeedSchema } from "../../src/domain/FeedSchema.ts"
import { encodeFeedEntry, type FeedEntry } from "../../src/feeds/FeedEntry.ts"
import { type FeedRegistry, makeFeedRegistry } from "../../src/feeds/FeedRegistry.ts"
import { lakeRegistryStore } from "../../src/feeds/RegistryStore.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const schema = (fields: unknown) => Result.getOrThrow(parseFeedSchema({ fields }))
const ORDERS = { order_id: "string", qty: "integer", placed_at: "timestamp" }

const declared = (name = "orders", topic = "orders_topic") => ({
  name,
  type: "stream" as const,
  topic,
  description: "orders of the shop",
  schema: schema(ORDERS),
  partitionBy: "placed_at"
})

const fresh = () => {
  const lake = mkdtempSync(path.join(tmpdir(), "sluice-registry-"))
  dirs.push(lake)
  return { lake, registry: makeFeedRegistry(lakeRegistryStore(makeLocalStore(lake))) }
}

/** Folders of the lake that hold something, as a table's folders do: a file in each. */
const holding = (lake: string, ...folders: ReadonlyArray<string>) => {
  for (const folder of folders) {
    mkdirSync(path.join(lake, folder), { recursive: true })
    writeFileSync(path.join(lake, folder, "00000000000000000000.json"), "{}\n")
  }
}

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
/** The error an effect fails with. */
const refusal = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(e))

const found = async (registry: FeedRegistry, name: string) => Option.getOrUndefined(await run(registry.find(name)))

describe("the feed registry", () => {
  it("adds a feed as an active, enabled entry file that reads back as written", async () => {
    const { lake, registry } = fresh()
    const entry = await run(registry.add(declared()))
    expect(entry).toMatchObject({ name: "orders", enabled: true, schemaVersion: 1, archivedAt: null })
    expect(entry.createdAt).toBe(entry.updatedAt)
    const file = path.join(lake, "_feeds", "active", "orders.json")
    expect(readFileSync(file, "utf8")).toBe(encodeFeedEntry(entry))
    expect(JSON.parse(readFileSync(file, "utf8")).schema).toEqual({ fields: ORDERS })
    expect(await found(registry, "orders")).toEqual({ entry, state: "active" })
    expect(await run(registry.list)).toEqual({ active: [entry], archived: [], problems: [] })
    expect(await found(registry, "nothing")).toBeUndefined()
  })

  it.each([
    ["a name already declared", async (r: FeedRegistry) => { await run(r.add(declared())) }, declared("orders", "other"), "feed orders: already declared (active)"],
    ["a topic another feed reads", async (r: FeedRegistry) => { await run(r.add(declared("first", "orders_topic"))) }, declared(), "feed orders: topic orders_topic already feeds first"],
    ["a topic an archived feed reads", async (r: FeedRegistry) => {
      await run(r.add(declared("first", "orders_topic")))
      await run(r.archive("first"))
    }, declared(), "feed orders: topic orders_topic already feeds first"],
    ["a name that is no folder name", async () => {}, declared("Orders"), "feed Orders: name: Expected a lowercase letter, then lowercase letters, digits or _, at most 100 characters"],
    ["a topic Kafka would refuse", async () => {}, declared("orders", "bad topic"), "feed orders: topic: Expected a Kafka topic name (letters, digits, . _ -, at most 249)"]
  ])("refuses %s", async (_, before, entry, message) => {
    const { registry } = fresh()
    await before(registry)
    const e = await refusal(registry.add(entry))
    expect(e._tag).toBe("FeedRegistryError")
    expect(e.message).toBe(message)
  })

  it("refuses a feed whose table or dead letters the lake already holds", async () => {
    const { lake, registry } = fresh()
    holding(lake, "streams/transaction_stream/_delta_log", "_deadletter/payments")
    expect((await refusal(registry.add(declared("transaction_stream", "t")))).message).toMatch(/the lake already holds streams\/transaction_stream/)
    expect((await refusal(registry.add(declared("pay", "payments")))).message).toMatch(/the lake already holds _deadletter\/payments/)
    expect(await run(registry.list)).toEqual({ active: [], archived: [], problems: [] })
  })

  it("updates a feed without data freely, and bumps the schema version only when the schema changes", async () => {
    const { registry } = fresh()
    await run(registry.add(declared()))
    const described = await run(registry.update("orders", { description: "all orders" }))
    expect(described).toMatchObject({ description: "all orders", schemaVersion: 1 })
    const moved = await run(registry.update("orders", { topic: "orders_v2", partitionBy: null, schema: schema({ id: "integer" }) }))
    expect(moved).toMatchObject({ topic: "orders_v2", partitionBy: null, schemaVersion: 2, schema: schema({ id: "integer" }) })
    expect((await found(registry, "orders"))?.entry).toEqual(moved)
  })

  it("keeps a feed with data readable: compatible schemas only, same topic, same partitioning", async () => {
    const { lake, registry } = fresh()
    await run(registry.add(declared()))
    holding(lake, "streams/orders/_delta_log")
    const grown = await run(registry.update("orders", { schema: schema({ ...ORDERS, note: "string?" }) }))
    expect(grown.schemaVersion).toBe(2)
    expect((await refusal(registry.update("orders", { schema: schema({ order_id: "string", placed_at: "timestamp" }) }))).message).toBe(
      "feed orders: its table holds data, and qty is removed (rows already written have it)"
    )
    expect((await refusal(registry.update("orders", { schema: schema({ ...ORDERS, qty: "string" }) }))).message).toMatch(/qty changes from integer to string/)
    expect((await refusal(registry.update("orders", { schema: schema({ ...ORDERS, note: "string?", extra: "integer" }) }))).message).toMatch(/extra is new and required/)
    expect((await refusal(registry.update("orders", { topic: "elsewhere" }))).message).toMatch(/holds data read from orders_topic/)
    expect((await refusal(registry.update("orders", { partitionBy: null }))).message).toMatch(/filed by the current partitioning/)
    expect((await found(registry, "orders"))?.entry).toEqual(grown)
  })

  it("checks an update as it checks an entry: a partitioning field the new schema lacks is refused", async () => {
    const { registry } = fresh()
    await run(registry.add(declared()))
    expect((await refusal(registry.update("orders", { schema: schema({ id: "string" }) }))).message).toBe("feed orders: partitionBy: no field placed_at in the schema")
  })

  it("enables and disables, archives and restores, keeping the entry otherwise as it was", async () => {
    const { lake, registry } = fresh()
    const added = await run(registry.add(declared()))
    const disabled = await run(registry.setEnabled("orders", false))
    expect(disabled.enabled).toBe(false)
    const archived = await run(registry.archive("orders"))
    expect(archived.archivedAt).not.toBeNull()
    expect(existsSync(path.join(lake, "_feeds", "active", "orders.json"))).toBe(false)
    expect(existsSync(path.join(lake, "_feeds", "archived", "orders.json"))).toBe(true)
    expect(await found(registry, "orders")).toEqual({ entry: archived, state: "archived" })
    expect((await refusal(registry.setEnabled("orders", true))).message).toBe("feed orders: it is archived: restore it first (sluice feeds restore)")
    expect((await refusal(registry.archive("orders"))).message).toMatch(/it is archived/)
    const restored = await run(registry.restore("orders"))
    expect(restored).toEqual({ ...added, enabled: false, updatedAt: restored.updatedAt })
    expect((await refusal(registry.restore("orders"))).message).toBe("feed orders: it is not archived")
    expect((await run(registry.list)).active).toEqual([restored])
  })

  it("reads a move interrupted between its two steps as done, and completes it at the next change", async () => {
    const { lake, registry } = fresh()
    const entry = await run(registry.add(declared()))
    const later = { ...entry, archivedAt: "2999-01-01T00:00:00.000Z", updatedAt: "2999-01-01T00:00:00.000Z" }
    mkdirSync(path.join(lake, "_feeds", "archived"), { recursive: true })
    writeFileSync(path.join(lake, "_feeds", "archived", "orders.json"), encodeFeedEntry(later))
    expect(await found(registry, "orders")).toEqual({ entry: later, state: "archived" })
    expect(await run(registry.list)).toEqual({ active: [], archived: [later], problems: [] })
    await run(registry.restore("orders"))
    expect(existsSync(path.join(lake, "_feeds", "archived", "orders.json"))).toBe(false)
    expect((await found(registry, "orders"))?.state).toBe("active")
  })

  it("deletes only disabled or archived feeds, and their data only with purge", async () => {
    const { lake, registry } = fresh()
    await run(registry.add(declared()))
    expect((await refusal(registry.remove("orders", { purge: true }))).message).toBe(
      "feed orders: it is enabled: disable or archive it first (a running service may be writing it)"
    )
    await run(registry.setEnabled("orders", false))
    holding(lake, "streams/orders/year=2026", "_deadletter/orders_topic")
    expect(await run(registry.remove("orders", { purge: false }))).toEqual([])
    expect(await found(registry, "orders")).toBeUndefined()
    expect(existsSync(path.join(lake, "streams", "orders"))).toBe(true)

    const { lake: other, registry: second } = fresh()
    await run(second.add(declared()))
    await run(second.archive("orders"))
    holding(other, "streams/orders/year=2026", "_deadletter/orders_topic", "streams/kept")
    expect(await run(second.remove("orders", { purge: true }))).toEqual(["streams/orders", "_deadletter/orders_topic"])
    expect(existsSync(path.join(other, "streams", "orders"))).toBe(false)
    expect(existsSync(path.join(other, "_deadletter", "orders_topic"))).toBe(false)
    expect(existsSync(path.join(other, "streams", "kept"))).toBe(true)
    expect((await refusal(second.remove("orders", { purge: true }))).message).toMatch(/feed orders: no such feed/)
  })

  it("lists the entry files it cannot read as problems, with their path and reason, and refuses to act on them", async () => {
    const { lake, registry } = fresh()
    const good = await run(registry.add(declared()))
    const active = path.join(lake, "_feeds", "active")
    writeFileSync(path.join(active, "broken.json"), "{ not json")
    writeFileSync(path.join(active, "renamed.json"), encodeFeedEntry({ ...good, name: "other", topic: "t2" } satisfies FeedEntry))
    writeFileSync(path.join(active, "typo.json"), encodeFeedEntry({ ...good, name: "typo", topic: "t3" }).replace('"qty": "integer"', '"qty": "int"'))
    writeFileSync(path.join(active, ".orders.json.0123.tmp"), "half-written")
    const listing = await run(registry.list)
    expect(listing.active).toEqual([good])
    expect(listing.problems).toEqual([
      { file: path.join(lake, "_feeds", "active", "broken.json"), reason: expect.stringMatching(/^not JSON/) },
      { file: path.join(lake, "_feeds", "active", "renamed.json"), reason: "names the feed other, but its file is renamed.json" },
      { file: path.join(lake, "_feeds", "active", "typo.json"), reason: expect.stringMatching(/^schema\.fields\.qty: unknown type "int"/) }
    ])
    const e = await refusal(registry.setEnabled("typo", false))
    expect(e._tag).toBe("FeedRegistryError")
    expect(e.message).toMatch(/^feed typo: .*typo\.json: schema\.fields\.qty: unknown type "int"/)
  })
})
