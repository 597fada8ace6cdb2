/**
 * `sluice report`: the dashboard's figures as text tables in the terminal (the seeds'
 * `query_utils.py --batch`), with exact amounts.
 */
import type { Figures, Section, Share } from "./Figures.ts"

/** `1234567.5` as decimal text → `€1,234,567.50`, digits kept exactly as given. */
export const formatEur = (amount: string): string => {
  const negative = amount.startsWith("-")
  const [whole = "0", fraction = ""] = (negative ? amount.slice(1) : amount).split(".")
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")
  return `${negative ? "-" : ""}€${grouped}.${fraction.padEnd(2, "0").slice(0, 2)}`
}

export const formatCount = (n: number): string => n.toLocaleString("en-US")

/** A fixed-width table, numeric columns (by index) aligned right. */
export const textTable = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, numeric: ReadonlyArray<number> = []): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => (numeric.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

const shareRows = (shares: ReadonlyArray<Share>) => shares.map((s) => [s.key, formatEur(s.amountEur), formatCount(s.count)])

const section = <A>(title: string, s: Section<A>, body: (a: A) => string): string =>
  `${title}\n${s._tag === "Shown" ? body(s.value) : s._tag === "Denied" ? `  not shown: reading ${s.feed} is not permitted` : `  ${s.reason}`}`

/** The report as text. */
export const formatReport = (figures: Figures): string => {
  const parts = [
    `lake ${figures.lake}, read ${figures.at}`,
    section(`\nTransactions (${figures.topic})`, figures.transactions, (t) =>
      [
        `${formatCount(t.transactions)} transactions, ${formatCount(t.counted)} not failed, ${formatEur(t.amountEur)} in EUR`,
        "\nTop 10 users by EUR amount",
        textTable(["#", "user", "name", "country", "amount (EUR)", "transactions"], t.topUsers.map((u, i) => [String(i + 1), u.userId, u.name, u.country, formatEur(u.amountEur), formatCount(u.transactions)]), [0, 4, 5]),
        "\nAmount by country",
        textTable(["country", "amount (EUR)", "transactions"], shareRows(t.byCountry), [1, 2]),
        "\nAmount by payment method",
        textTable(["payment method", "amount (EUR)", "transactions"], shareRows(t.byPaymentMethod), [1, 2]),
        "\nAmount per day (UTC)",
        textTable(["day", "amount (EUR)", "transactions"], shareRows(t.perDay), [1, 2])
      ].join("\n")),
    section("\nDead letters by kind", figures.deadLetters, (d) => textTable(["kind", "messages"], d.map((k) => [k.kind, formatCount(k.count)]), [1])),
    section("\nSales (ventes_stream)", figures.sales, (s) =>
      [
        `Top 10 Clients by Revenue (tables/ventes_clients, snapshot ${s.snapshot})`,
        textTable(["client_nom", "pays", "segment", "total_dep"], s.topClients.map((c) => [c.clientNom, c.pays, c.segment, formatEur(c.totalDep)]), [3]),
        "\nRevenue by country",
        textTable(["pays", "chiffre_affaires", "nb_ventes"], shareRows(s.byCountry), [1, 2]),
        "\nRevenue by client type",
        textTable(["type_client", "chiffre_affaires", "nb_ventes", "panier_moyen"], s.byClientType.map((t) => [t.key, formatEur(t.amountEur), formatCount(t.count), formatEur(t.averageBasket)]), [1, 2, 3])
      ].join("\n"))
  ]
  return parts.join("\n")
}
