/**
 * The sales pipeline's lake tables, written by the project's own snapshot writer (one Delta commit
 * each, as the pipeline writes them), from known rows: the dashboard's and the report's fixture.
 */
import { Effect } from "effect"
import { type DuckDb, sqlString, withDuckDb } from "../../src/ops/DuckDb.ts"
import { SALES_TABLES } from "../../src/ops/Figures.ts"
import { tableRoot } from "../../src/sinks/lake/LakeTable.ts"
import { makeLocalStore } from "../../src/sinks/lake/store/LocalStore.ts"
import { LakeIOError } from "../../src/sinks/lake/store/Store.ts"
import { writeSnapshot } from "../../src/sinks/lake/Snapshot.ts"

/** 12 clients: two fall outside the top 10, and two share a country so that per-country sums add up. */
export const CLIENTS = [
  ["c-01", "Jean Dupont", "France", "B2C", 9, "4210.50", true, "premium"],
  ["c-02", "Maria Garcia", "Espagne", "B2C", 4, "1799.98", true, "premium"],
  ["c-03", "Acme SARL", "France", "B2B", 12, "12500.00", true, "premium"],
  ["c-04", "Hans Müller", "Allemagne", "B2C", 1, "75.00", false, "basic"],
  ["c-05", "Giulia Rossi", "Italie", "B2C", 3, "640.20", true, "premium"],
  ["c-06", "Nordic AB", "Suède", "B2B", 6, "8020.00", true, "premium"],
  ["c-07", "Ana Silva", "Portugal", "B2C", 2, "310.40", true, "standard"],
  ["c-08", "Tom <Smith> & Co", "Belgique", "B2B", 5, "2999.95", true, "premium"],
  ["c-09", "Lena Wagner", "Allemagne", "B2C", 1, "120.00", false, "standard"],
  ["c-10", "Pierre Martin", "France", "B2C", 2, "450.00", true, "standard"],
  ["c-11", "Sofia Costa", "Portugal", "B2C", 1, "99.99", false, "basic"],
  ["c-12", "Luc Bernard", "Belgique", "B2C", 1, "45.50", false, "basic"]
] as const

/** The top 10 by `total_dep`, as `client_nom, pays, segment, total_dep`. */
export const TOP_CLIENTS = [...CLIENTS]
  .sort((a, b) => Number(b[5]) - Number(a[5]))
  .slice(0, 10)
  .map((c) => ({ clientNom: c[1], pays: c[2], segment: c[7], totalDep: c[5] }))

const cents = (s: string) => Math.round(Number(s) * 100)

/** Per country: sales and revenue, from the clients above. */
export const PAYS = [...new Set(CLIENTS.map((c) => c[2]))].map((pays) => {
  const of = CLIENTS.filter((c) => c[2] === pays)
  return { pays, nbVentes: of.reduce((n, c) => n + c[4], 0), chiffreAffairesCents: of.reduce((n, c) => n + cents(c[5]), 0) }
})

export const TYPES = (["B2B", "B2C"] as const).map((type) => {
  const of = CLIENTS.filter((c) => c[3] === type)
  const nb = of.reduce((n, c) => n + c[4], 0)
  const ca = of.reduce((n, c) => n + cents(c[5]), 0)
  return { type, nbVentes: nb, chiffreAffairesCents: ca, panierMoyenCents: Math.round(ca / nb) }
})

const money = (c: number) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, "0")}`

const copy = (db: DuckDb, select: string) => (file: string) =>
  db.query(`COPY (${select}) TO ${sqlString(file)} (FORMAT parquet)`).pipe(
    Effect.map((rows) => Number(Object.values(rows[0] ?? {})[0] ?? 0)),
    Effect.mapError((cause) => new LakeIOError({ op: "write fixture", path: file, cause, transient: false }))
  )

const valuesOf = (rows: ReadonlyArray<ReadonlyArray<string | number | boolean>>) =>
  rows.map((r) => `(${r.map((v) => (typeof v === "string" ? sqlString(v) : String(v))).join(", ")})`).join(", ")

/** Writes snapshot 1 of the three sales tables under `lakeDir`. */
export const writeSalesFixture = (lakeDir: string) =>
  withDuckDb((db) =>
    Effect.gen(function*() {
      const snapshot = (name: string, columns: ReadonlyArray<{ name: string; type: "string" | "integer" | "long" | "decimal(18,2)" | "decimal(38,2)" }>, select: string) =>
        writeSnapshot(makeLocalStore(lakeDir), tableRoot({ kind: "tables", name }), { name, description: `${name} (fixture)`, columns: [...columns] }, {
          reflects: new Map(),
          keep: 3,
          write: copy(db, select)
        })
      yield* snapshot(
        SALES_TABLES.clients,
        [
          { name: "client_id", type: "string" },
          { name: "client_nom", type: "string" },
          { name: "pays", type: "string" },
          { name: "type_client", type: "string" },
          { name: "nb_achats", type: "long" },
          { name: "total_dep", type: "decimal(18,2)" },
          { name: "segment", type: "string" }
        ],
        `SELECT client_id, client_nom, pays, type_client, nb_achats::BIGINT AS nb_achats, total_dep::DECIMAL(18,2) AS total_dep, segment
         FROM (VALUES ${valuesOf(CLIENTS)}) v(client_id, client_nom, pays, type_client, nb_achats, total_dep, fidele, segment)`
      )
      yield* snapshot(
        SALES_TABLES.pays,
        [{ name: "pays", type: "string" }, { name: "nb_ventes", type: "long" }, { name: "chiffre_affaires", type: "decimal(38,2)" }],
        `SELECT pays, nb_ventes::BIGINT AS nb_ventes, chiffre_affaires::DECIMAL(38,2) AS chiffre_affaires
         FROM (VALUES ${valuesOf(PAYS.map((p) => [p.pays, p.nbVentes, money(p.chiffreAffairesCents)]))}) v(pays, nb_ventes, chiffre_affaires)`
      )
      yield* snapshot(
        SALES_TABLES.typeClient,
        [{ name: "type_client", type: "string" }, { name: "nb_ventes", type: "long" }, { name: "chiffre_affaires", type: "decimal(38,2)" }, { name: "panier_moyen", type: "decimal(18,2)" }],
        `SELECT type_client, nb_ventes::BIGINT AS nb_ventes, chiffre_affaires::DECIMAL(38,2) AS chiffre_affaires, panier_moyen::DECIMAL(18,2) AS panier_moyen
         FROM (VALUES ${valuesOf(TYPES.map((t) => [t.type, t.nbVentes, money(t.chiffreAffairesCents), money(t.panierMoyenCents)]))}) v(type_client, nb_ventes, chiffre_affaires, panier_moyen)`
      )
    })
  )
