/**
 * The dashboard's page: the lake's figures as tables and inline SVG charts, and a live section
 * that reads the service's metrics every two seconds. One self-contained HTML document.
 */
import { barChart, columnChart, escapeHtml } from "./Charts.ts"
import type { Figures, Section, Share } from "./Figures.ts"
import { formatCount, formatEur } from "./Report.ts"

const amount = (s: string) => Number(s)

const table = (id: string, headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, numeric: ReadonlyArray<number> = []) =>
  `<table id="${id}"><thead><tr>${headers.map((h, i) => `<th${numeric.includes(i) ? " class=\"num\"" : ""}>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>` +
  rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? " class=\"num\"" : ""}>${escapeHtml(c)}</td>`).join("")}</tr>`).join("") +
  `</tbody></table>`

const shareBars = (shares: ReadonlyArray<Share>) => shares.map((s) => ({ label: s.key, value: amount(s.amountEur), text: formatEur(s.amountEur) }))

const unavailable = (section: Section<unknown>): string | undefined =>
  section._tag === "Denied"
    ? `<p class="note denied">Not shown: reading ${escapeHtml(section.feed)} is not permitted.</p>`
    : section._tag === "Empty"
    ? `<p class="note">${escapeHtml(section.reason)}.</p>`
    : undefined

const card = (title: string, body: string, id?: string) =>
  `<section class="card"${id === undefined ? "" : ` id="${id}"`}><h3>${escapeHtml(title)}</h3>${body}</section>`

const transactionsSection = (figures: Figures): string => {
  const t = figures.transactions
  const head = `<h2>Transactions <small>${escapeHtml(figures.topic)}</small></h2>`
  const missing = unavailable(t)
  if (missing !== undefined || t._tag !== "Shown") return `${head}${missing ?? ""}`
  const f = t.value
  const kpis = `<div class="kpis"><div><b id="kpi-transactions">${formatCount(f.transactions)}</b><span>transactions</span></div>` +
    `<div><b id="kpi-amount">${formatEur(f.amountEur)}</b><span>EUR, ${formatCount(f.counted)} not failed</span></div></div>`
  return head + kpis + `<div class="grid">` +
    card(
      "Top 10 users by EUR amount",
      table("top-users", ["#", "user", "name", "country", "amount (EUR)", "transactions"], f.topUsers.map((u, i) => [String(i + 1), u.userId, u.name, u.country, formatEur(u.amountEur), formatCount(u.transactions)]), [0, 4, 5]) +
        barChart("top 10 users by EUR amount", f.topUsers.map((u) => ({ label: u.name, value: amount(u.amountEur), text: formatEur(u.amountEur) }))),
      "card-top-users"
    ) +
    card("Amount by country", barChart("EUR amount by country", shareBars(f.byCountry)), "card-by-country") +
    card("Amount by payment method", barChart("EUR amount by payment method", shareBars(f.byPaymentMethod)), "card-by-method") +
    card("Amount per day (UTC)", columnChart("EUR amount per day", f.perDay.map((d) => ({ label: d.key.slice(5), value: amount(d.amountEur), text: formatEur(d.amountEur) }))), "card-per-day") +
    `</div>`
}

const deadLetterSection = (figures: Figures): string => {
  const d = figures.deadLetters
  const body = unavailable(d) ??
    (d._tag === "Shown"
      ? table("dead-letters", ["kind", "messages"], d.value.map((k) => [k.kind, formatCount(k.count)]), [1]) +
        barChart("dead letters by kind", d.value.map((k) => ({ label: k.kind, value: k.count, text: formatCount(k.count) })))
      : "")
  return card("Dead letters by kind", body, "card-dead-letters")
}

const salesSection = (figures: Figures): string => {
  const s = figures.sales
  if (s._tag === "Empty") return ""
  const head = `<h2>Sales <small>ventes_stream</small></h2>`
  if (s._tag === "Denied") return head + (unavailable(s) ?? "")
  const f = s.value
  return head + `<div class="grid">` +
    card(
      "Top 10 clients by revenue",
      table("top-clients", ["client_nom", "pays", "segment", "total_dep"], f.topClients.map((c) => [c.clientNom, c.pays, c.segment, formatEur(c.totalDep)]), [3]) +
        barChart("top 10 clients by revenue", f.topClients.map((c) => ({ label: c.clientNom, value: amount(c.totalDep), text: formatEur(c.totalDep) }))),
      "card-top-clients"
    ) +
    card("Revenue by country", barChart("revenue by country", shareBars(f.byCountry)), "card-sales-by-country") +
    card(
      "Revenue by client type",
      table("sales-by-type", ["type_client", "nb_ventes", "chiffre_affaires", "panier_moyen"], f.byClientType.map((t) => [t.key, formatCount(t.count), formatEur(t.amountEur), formatEur(t.averageBasket)]), [1, 2, 3]) +
        barChart("revenue by client type", shareBars(f.byClientType)),
      "card-sales-by-type"
    ) +
    `</div>`
}

/** Polls `live.json`, computes throughput from two reads, and draws the partitions' lag. */
const LIVE_SCRIPT = `
(() => {
  const el = (id) => document.getElementById(id);
  const fmt = (n) => n === undefined || n === null ? "–" : Math.round(n).toLocaleString("en-US");
  let previous;
  const draw = (live) => {
    if (!live.available) { el("live-status").textContent = live.reason; return; }
    const rate = previous === undefined || live.at <= previous.at ? undefined : (live.consumed - previous.consumed) / ((live.at - previous.at) / 1000);
    previous = live;
    el("live-status").textContent = (live.ready ? "ready" : "not ready") + " · " + fmt(live.consumed) + " messages consumed";
    el("live-rate").textContent = rate === undefined ? "–" : fmt(rate) + " msg/s";
    const max = Math.max(1, ...live.partitions.map((p) => p.lagMessages || 0));
    el("live-partitions").innerHTML = live.partitions.map((p) =>
      "<tr><td>" + p.topic + "/" + p.partition + "</td><td class=num>" + fmt(p.endOffset) + "</td><td class=num>" + fmt(p.committedOffset) +
      "</td><td class=num>" + fmt(p.lagMessages) + "</td><td class=num>" + (p.lagSeconds === undefined ? "–" : p.lagSeconds.toFixed(1)) +
      "</td><td><svg width=160 height=12><rect width=" + Math.max(1, Math.round(160 * (p.lagMessages || 0) / max)) + " height=12 fill=#c77c2e></rect></svg></td></tr>").join("");
  };
  const poll = () => fetch("live.json", { cache: "no-store" }).then((r) => r.json()).then(draw, () => { el("live-status").textContent = "the dashboard's server does not answer"; });
  poll();
  setInterval(poll, 2000);
})();
`

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #222; }
header { background: #1f3b57; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; } header p { margin: 4px 0 0; opacity: .8; font-size: 13px; }
main { padding: 8px 24px 32px; max-width: 1280px; }
h2 { margin: 24px 0 8px; font-size: 18px; } h2 small { font-weight: normal; color: #666; font-size: 13px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr)); gap: 14px; }
.card { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 10px 14px; overflow-x: auto; }
.card h3 { margin: 0 0 8px; font-size: 14px; color: #1f3b57; }
table { border-collapse: collapse; font-size: 13px; margin-bottom: 8px; }
th, td { padding: 3px 10px 3px 0; text-align: left; border-bottom: 1px solid #eee; } .num { text-align: right; }
.kpis { display: flex; gap: 28px; margin: 4px 0 14px; } .kpis b { font-size: 22px; display: block; } .kpis span { color: #666; font-size: 12px; }
.grid + .grid { margin-top: 14px; }
.note { color: #666; font-style: italic; } .denied { color: #a33; }
`

export interface PageOptions {
  /** Whether the page polls `live.json` (a service's metrics) for the live section. */
  readonly live: boolean
}

/** The whole page for these figures. */
export const dashboardPage = (figures: Figures, options: PageOptions): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sluice dashboard</title>` +
  `<link rel="icon" href="data:,"><meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head><body>` +
  `<header><h1>Sluice</h1><p>lake ${escapeHtml(figures.lake)} · read ${escapeHtml(figures.at)} · reload for newer figures</p></header><main>` +
  (options.live
    ? `<h2>Live</h2><div class="grid">${
      card(
        "Throughput and lag per partition",
        `<p><b id="live-rate">–</b> · <span id="live-status">reading metrics…</span></p>` +
          `<table><thead><tr><th>partition</th><th class="num">end</th><th class="num">committed</th><th class="num">lag (messages)</th><th class="num">lag (s)</th><th></th></tr></thead><tbody id="live-partitions"></tbody></table>`,
        "card-live"
      )
    }</div>`
    : "") +
  transactionsSection(figures) +
  `<div class="grid">${deadLetterSection(figures)}</div>` +
  salesSection(figures) +
  `</main>${options.live ? `<script>${LIVE_SCRIPT}</script>` : ""}</body></html>`
