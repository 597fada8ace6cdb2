import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { dashboardPage } from "../../src/ops/DashboardPage.ts"
import { readFigures } from "../../src/ops/Figures.ts"
import { lakeFiles } from "../../src/ops/LakeFiles.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { formatEur, formatReport, textTable } from "../../src/ops/Report.ts"
import { PAYS, TOP_CLIENTS, TYPES, writeSalesFixture } from "../support/SalesFixture.ts"

const lake = mkdtempSync(path.join(tmpdir(), "sluice-figures-"))
afterAll(() => rmSync(lake, { recursive: true, force: true }))

/** The figures of the test's lake, read in place. */
const figuresOf = (topic: string, canRead?: (feed: string) => boolean) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const store = makeLocalStore(lake)
    return yield* readFigures({ store, files: yield* lakeFiles(store) }, topic, canRead)
  })))

const euros = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`

describe("the dashboard's figures", () => {
  it("read the sales tables through their Delta logs, and say what the lake does not hold yet", async () => {
    await Effect.runPromise(writeSalesFixture(lake))
    const figures = await figuresOf("transaction_stream")
    expect(figures.transactions).toEqual({ _tag: "Empty", reason: "streams/transaction_flattened holds no rows yet" })
    expect(figures.deadLetters).toEqual({ _tag: "Empty", reason: "_deadletter/transaction_stream holds no dead letters" })
    expect(figures.sales._tag).toBe("Shown")
    if (figures.sales._tag !== "Shown") return
    expect(figures.sales.value.snapshot).toBe(1)
    expect(figures.sales.value.topClients).toEqual(TOP_CLIENTS)
    expect(figures.sales.value.byCountry.map((p) => [p.key, p.amountEur, p.count])).toEqual(
      [...PAYS].sort((a, b) => b.chiffreAffairesCents - a.chiffreAffairesCents).map((p) => [p.pays, euros(p.chiffreAffairesCents), p.nbVentes])
    )
    expect(figures.sales.value.byClientType).toEqual(TYPES.map((t) => ({ key: t.type, amountEur: euros(t.chiffreAffairesCents), count: t.nbVentes, averageBasket: euros(t.panierMoyenCents) })))
  })

  it("leave out a section whose feed the reader may not read, naming it", async () => {
    await Effect.runPromise(writeSalesFixture(lake))
    const figures = await figuresOf("transaction_stream", (feed) => feed !== "tables/ventes_pays")
    expect(figures.sales).toEqual({ _tag: "Denied", feed: "tables/ventes_pays" })
    const page = dashboardPage(figures, { live: false })
    expect(page).toContain("Not shown: reading tables/ventes_pays is not permitted.")
    expect(formatReport(figures)).toContain("not shown: reading tables/ventes_pays is not permitted")
  })

  it("read the latest snapshot only", async () => {
    // Snapshot 2 or later of the same rows: the figures are those of one version, never a mix.
    await Effect.runPromise(writeSalesFixture(lake))
    const figures = await figuresOf("transaction_stream")
    expect(figures.sales._tag === "Shown" && figures.sales.value.topClients).toEqual(TOP_CLIENTS)
    expect(figures.sales._tag === "Shown" && figures.sales.value.snapshot).toBeGreaterThan(1)
  })
})

describe("the page and the report", () => {
  it("escape names and show the seeds' top 10 clients with exact amounts", async () => {
    const figures = await figuresOf("transaction_stream")
    const page = dashboardPage(figures, { live: true })
    expect(page).toContain("Tom &lt;Smith&gt; &amp; Co")
    expect(page).not.toContain("Tom <Smith>")
    expect(page).toContain("<svg")
    expect(page).toContain("fetch(\"live.json\"")
    const report = formatReport(figures)
    expect(report).toContain("Top 10 Clients by Revenue")
    expect(report).toContain("Acme SARL         France     premium   €12,500.00")
  })

  it("format amounts exactly", () => {
    expect(formatEur("1234567.5")).toBe("€1,234,567.50")
    expect(formatEur("0.07")).toBe("€0.07")
    expect(formatEur("-12.30")).toBe("-€12.30")
    expect(formatEur("999")).toBe("€999.00")
    expect(formatEur("12345678901234567.89")).toBe("€12,345,678,901,234,567.89")
  })

  it("align text tables, numbers to the right", () => {
    expect(textTable(["a", "n"], [["x", "1"], ["yy", "100"]], [1])).toBe(["a     n", "--  ---", "x     1", "yy  100"].join("\n"))
  })
})
