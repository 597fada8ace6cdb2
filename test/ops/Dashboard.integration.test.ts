/**
 * `sluice dashboard` in a real headless Chromium (Debian's package, driven by puppeteer-core): the
 * page loads without a console error and shows the figures a seeded producer and a sales fixture
 * make, and the live lag of a running service's partitions; its screenshot is saved (to
 * SLUICE_DASHBOARD_SCREENSHOT when set, e.g. docs/dashboard.png); as a user (`--as`), it shows only
 * the feeds that user's grants let them read, decided again at each load.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import puppeteer, { type Browser } from "puppeteer-core"
import { afterAll, describe, expect, inject, it } from "vitest"
import { formatCount, formatEur } from "../../src/ops/Report.ts"
import { expectedFromProduce, expectedUserTotals } from "../support/Expected.ts"
import { TOP_CLIENTS, writeSalesFixture } from "../support/SalesFixture.ts"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"

const chromium = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find(
  (p): p is string => p !== undefined && p !== "" && existsSync(p)
)
// Under CI the test always runs: a missing browser fails it there instead of skipping it.
const skip = chromium === undefined && !process.env.CI
if (skip) console.warn("Dashboard browser test skipped: no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)")

const MESSAGES = 6_000
const SEED = 23
const BAD = 0.02

const cents = (c: number) => formatEur(`${Math.floor(c / 100)}.${String(c % 100).padStart(2, "0")}`)

describe.skipIf(skip)("the dashboard in a headless Chromium", () => {
  // With a warehouse: the page as a user reads that user's grants there.
  const box = sandbox("dashboard", inject("kafkaBrokers"), {}, inject("mysqlUrl"))
  const profile = mkdtempSync(path.join(tmpdir(), "sluice-chromium-"))
  let browser: Browser | undefined
  afterAll(async () => {
    await browser?.close()
    rmSync(profile, { recursive: true, force: true })
    await box.cleanup()
  })

  it("loads without console errors and shows the seeded transactions, dead letters and the sales fixture", async () => {
    expect(chromium, "no Chromium: apt-get install chromium (CI installs it in .ci/run), or set CHROMIUM_PATH").toBeDefined()
    const produced = await runSluice(["produce", "--topic", box.topic, "--messages", String(MESSAGES), "--seed", String(SEED), "--bad-ratio", String(BAD)], box.env)
    expect(produced.code, produced.output).toBe(0)
    const ran = await runSluice(["run", "--until-idle", "1000"], box.env)
    expect(ran.code, ran.output).toBe(0)
    await Effect.runPromise(writeSalesFixture(box.lake))

    // The service, caught up, for the live section.
    const service = spawnSluice(["run"], box.env)
    let server: ReturnType<typeof spawnSluice> | undefined
    let asUser: ReturnType<typeof spawnSluice> | undefined
    try {
      await service.waitFor(/http: \/healthz .* on http:\/\/127\.0\.0\.1:\d+/)
      await service.waitFor(/(assigned, resuming at offset[^]*){4}/)
      const metrics = `${/on (http:\/\/127\.0\.0\.1:\d+)/.exec(service.output())![1]!}/metrics`
      server = spawnSluice(["dashboard", "--port", "0", "--metrics", metrics], box.env)
      await server.waitFor(/dashboard of .* on http:\/\/127\.0\.0\.1:\d+\//)
      const url = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(server.output())![1]!

      browser = await puppeteer.launch({
        executablePath: chromium!,
        headless: true,
        // A closed network: nothing may try to reach the internet (updates, sync, QUIC probes).
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          `--user-data-dir=${profile}`
        ]
      })
      const page = await browser.newPage()
      const problems: Array<string> = []
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warn") problems.push(`console ${m.type()}: ${m.text()}`)
      })
      page.on("pageerror", (e) => problems.push(`page error: ${(e as Error).message}`))
      page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`))
      await page.setViewport({ width: 1280, height: 900 })
      const response = await page.goto(url, { waitUntil: "networkidle0" })
      expect(response?.status()).toBe(200)
      // The live section read the service's metrics: its four partitions, caught up.
      await page.waitForFunction("document.querySelectorAll('#live-partitions tr').length === 4", { timeout: 10_000 })
      const live = await page.$$eval("#live-partitions tr", (rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent ?? "")))
      expect(live.map((r) => r[0])).toEqual([0, 1, 2, 3].map((p) => `${box.topic}/${p}`))
      expect(live.reduce((n, r) => n + Number(r[1]!.replaceAll(",", "")), 0)).toBe(MESSAGES)
      expect(live.map((r) => [r[1], r[3]])).toEqual(live.map((r) => [r[2], "0"]))
      expect(await page.$eval("#live-status", (e) => e.textContent)).toMatch(/^ready · /)

      const cells = (selector: string) =>
        page.$$eval(`${selector} tbody tr`, (rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent ?? "")))
      const expected = expectedFromProduce(MESSAGES, SEED, BAD)
      const users = expectedUserTotals(MESSAGES, SEED, BAD)
      expect(await page.$eval("#kpi-transactions", (e) => e.textContent)).toBe(formatCount(expected.valid))
      expect(await page.$eval("#kpi-amount", (e) => e.textContent)).toBe(cents(users.reduce((n, u) => n + u.eurCents, 0)))
      expect(await cells("#top-users")).toEqual(
        users.slice(0, 10).map((u, i) => [String(i + 1), u.userId, u.name, u.country, cents(u.eurCents), formatCount(u.transactions)])
      )
      const letters = await cells("#dead-letters")
      expect(letters.reduce((n, [, count]) => n + Number(count!.replaceAll(",", "")), 0)).toBe(expected.malformed)
      expect(await cells("#top-clients")).toEqual(TOP_CLIENTS.map((c) => [c.clientNom, c.pays, c.segment, formatEur(c.totalDep)]))
      // Charts, not only tables: one SVG per chart, each with its bars.
      const charts = await page.$$eval("svg[role=img]", (svgs) => svgs.map((s) => [s.getAttribute("aria-label"), s.querySelectorAll("rect").length]))
      expect(charts.map(([label]) => label)).toEqual([
        "top 10 users by EUR amount",
        "EUR amount by country",
        "EUR amount by payment method",
        "EUR amount per day",
        "dead letters by kind",
        "top 10 clients by revenue",
        "revenue by country",
        "revenue by client type"
      ])
      expect(charts.every(([, bars]) => Number(bars) > 0)).toBe(true)
      expect(problems).toEqual([])

      const file = process.env.SLUICE_DASHBOARD_SCREENSHOT ?? path.join(profile, "dashboard.png")
      await page.screenshot({ path: file as `${string}.png`, fullPage: true })
      expect(statSync(file).size).toBeGreaterThan(20_000)

      // As a user who may read the streams only: the transactions, not the dead letters nor the
      // sales tables; and nothing more once the grant is revoked, without restarting the page.
      const permissions = (...args: Array<string>) => runSluice(["permissions", ...args], box.env)
      const granted = await permissions("grant", "--email", "ann@example.com", "--folder", "streams", "--permission", "read", "--granted-by", "ops@example.com")
      expect(granted.code, granted.output).toBe(0)
      asUser = spawnSluice(["dashboard", "--port", "0", "--metrics", metrics, "--as", "ann@example.com"], box.env)
      await asUser.waitFor(/dashboard of .* as ann@example\.com on http:\/\/127\.0\.0\.1:\d+\//)
      const userUrl = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(asUser.output())![1]!
      const denied = () => page.$$eval(".note.denied", (notes) => notes.map((n) => n.textContent ?? ""))
      await page.goto(userUrl, { waitUntil: "networkidle0" })
      expect(await cells("#top-users")).toHaveLength(10)
      expect(await denied()).toEqual([
        `Not shown: reading _deadletter/${box.topic} is not permitted.`,
        "Not shown: reading tables/ventes_clients is not permitted."
      ])
      const revoked = await permissions("revoke", "--email", "ann@example.com", "--folder", "streams")
      expect(revoked.code, revoked.output).toBe(0)
      await page.reload({ waitUntil: "networkidle0" })
      expect(await page.$("#top-users")).toBeNull()
      expect(await denied()).toContain("Not shown: reading streams/transaction_flattened is not permitted.")
      expect(problems).toEqual([])
    } finally {
      asUser?.child.kill("SIGTERM")
      server?.child.kill("SIGTERM")
      service.child.kill("SIGTERM")
      await Promise.all([server?.exited, asUser?.exited, service.exited])
    }
  })
})
