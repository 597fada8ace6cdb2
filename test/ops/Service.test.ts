/**
 * What `sluice topology` prints for given settings: every lake feed, the warehouse, each output
 * topic under its processor, and each table with its schedule and, when published, its topic.
 */
import { ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { describeService } from "../../src/ops/Service.ts"
import { loadSettings } from "../../src/ops/Settings.ts"

const describeWith = (env: Record<string, string>) =>
  describeService(Effect.runSync(loadSettings.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))))

/** The lines of a description that name a sink or a table, without their locations. */
const targets = (text: string) =>
  text.split("\n").filter((l) => /-->|<--/.test(l) && !/--> processor/.test(l)).map((l) => l.trim().replace(/ \([^()]*(\([^()]*\)[^()]*)*\)$/, ""))

describe("describeService", () => {
  it("names every feed and table of the lake and the warehouse, and no output topic by default", () => {
    expect(targets(describeWith({ SLUICE_LAKE_DIR: "/lake", SLUICE_TOPIC: "tx" }))).toEqual([
      "--> lake streams/transaction_stream",
      "--> lake streams/transaction_flattened",
      expect.stringMatching(/^--> warehouse daily facts and dimensions \[aggregate per window: .*\]$/),
      "--> lake streams/transaction_stream_anonymized",
      "--> lake streams/transaction_stream_blacklisted",
      "--> lake _deadletter/tx",
      "--> lake streams/ventes_stream",
      "--> lake streams/ventes_late",
      "--> lake _deadletter/ventes_stream",
      "tables/user_transaction_summary <-- aggregate of streams/transaction_flattened, every 10 min and at the end of a catch-up run, last 7 kept",
      "tables/user_transaction_summary_eur <-- aggregate of streams/transaction_flattened, every 10 min and at the end of a catch-up run, last 7 kept",
      "tables/payment_method_totals <-- aggregate of streams/transaction_flattened, every 10 min and at the end of a catch-up run, last 7 kept",
      "tables/product_purchase_counts <-- aggregate of streams/transaction_flattened, every 10 min and at the end of a catch-up run, last 7 kept",
      "tables/ventes_clients <-- aggregate of streams/ventes_stream, every 10 min and at the end of a catch-up run, last 7 kept",
      "tables/ventes_pays <-- aggregate of streams/ventes_stream, every 10 min and at the end of a catch-up run, last 7 kept",
      "tables/ventes_type_client <-- aggregate of streams/ventes_stream, every 10 min and at the end of a catch-up run, last 7 kept",
      "streams/ventes_fenetres <-- aggregate of streams/ventes_stream (on-time sales, windows of 60 min per country), appended with the tables, once every partition's watermark has passed a window's end"
    ])
  })

  it("leaves the sales flow out when SLUICE_VENTES_TOPIC is off, and follows its watermark and window settings", () => {
    const without = describeWith({ SLUICE_LAKE_DIR: "/lake", SLUICE_VENTES_TOPIC: "off" })
    expect(without).not.toContain("ventes")
    const text = describeWith({ SLUICE_LAKE_DIR: "/lake", SLUICE_VENTES_TOPIC: "sales", SLUICE_VENTES_WATERMARK: "5 minutes", SLUICE_VENTES_WINDOW: "15 minutes" })
    expect(text).toContain("Source: sales (")
    expect(text).toContain("watermark 5 min behind the largest horodatage")
    expect(text).toContain("windows of 15 min per country")
    expect(text).toContain("--> lake _deadletter/sales (/lake/_deadletter/sales)")
  })

  it("puts each published stream under its processor and names each table's topic, with the prefix", () => {
    const text = describeWith({
      SLUICE_LAKE_DIR: "/lake",
      SLUICE_SINKS: "lake",
      SLUICE_PUBLISH: "anonymized,blacklisted,tables",
      SLUICE_PUBLISH_PREFIX: "eu_",
      SLUICE_SNAPSHOT_EVERY: "30 seconds",
      SLUICE_SNAPSHOT_KEEP: "3"
    })
    const lines = text.split("\n").map((l) => l.trim())
    const after = (processor: string) => lines.slice(lines.findIndex((l) => l.startsWith(`Processor: ${processor} `)) + 1)
    expect(after("anonymize").slice(0, 2)).toEqual([
      "--> lake streams/transaction_stream_anonymized (/lake/streams/transaction_stream_anonymized)",
      "--> kafka eu_transaction_stream_anonymized (on 127.0.0.1:9092, transactional)"
    ])
    expect(after("blacklist").slice(0, 2)).toEqual([
      "--> lake streams/transaction_stream_blacklisted (/lake/streams/transaction_stream_blacklisted)",
      "--> kafka eu_transaction_stream_blacklisted (on 127.0.0.1:9092, transactional)"
    ])
    expect(lines).toContain(
      "tables/payment_method_totals <-- aggregate of streams/transaction_flattened, every 30 s and at the end of a catch-up run, last 3 kept, " +
        "its changes published to topic eu_payment_method_totals (compacted, transactional) (/lake/tables/payment_method_totals)"
    )
    expect(text).not.toContain("warehouse")
  })

  it("names where the decisions come from, without claiming what those topics hold", () => {
    const lines = describeWith({ SLUICE_BLACKLIST_TOPIC: "bl", SLUICE_RATES_TOPIC: "fx", SLUICE_MAX_MESSAGE_BYTES: "2048" }).split("\n")
    expect(lines[2]!.trim()).toBe(
      "decode: JSON value → record, or dead letter with its reason; decisions from fx (or the built-in table while it does not exist), bl (empty while it does not exist) and the size cap of 2048 bytes"
    )
  })
})
