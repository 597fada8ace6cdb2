/**
 * The silver layer of the sales flow, computed from the bronze feed's committed rows by the
 * domain's accumulators (src/domain/SalesAggregates.ts): the versioned tables `ventes_clients`,
 * `ventes_pays` and `ventes_type_client` (every sale, late ones included), and the stream
 * `ventes_fenetres` of hour windows per country (on-time sales only), each window appended once,
 * when the watermark of every partition of the topic has passed its end.
 */
import { writeFileSync } from "node:fs"
import { Effect } from "effect"
import type { ExactSum } from "../domain/Money.ts"
import type { ClientSummary, ClientTypeSummary, CountrySummary, CountryWindow } from "../domain/SalesAggregates.ts"
import { type BronzeSale, salesSilver } from "../domain/SalesSilver.ts"
import type { TypeClient } from "../domain/Vente.ts"
import { appendRows, type AppendTable, readAppendTable } from "../sinks/lake/Append.ts"
import { type Column, RowGroup, scalar, source, sourcesOf } from "../sinks/lake/Columns.ts"
import { type DeltaLogError, type Fenced, readSnapshot } from "../sinks/lake/DeltaLog.ts"
import { datePartition } from "../sinks/lake/HivePartition.ts"
import { tableRoot } from "../sinks/lake/LakeTable.ts"
import { joinKey, LakeIOError, type Store } from "../sinks/lake/store/Store.ts"
import { inlineEncoder, type ParquetEncodeError } from "../sinks/lake/ParquetEncoder.ts"
import { type SnapshotTable, type SnapshotWritten, writeSnapshot } from "../sinks/lake/Snapshot.ts"
import { parseOffsetsAppId } from "../sinks/lake/TxnAppId.ts"
import type { KafkaError } from "../topology/Fetch.ts"
import { type DuckDbError, parquetRelation, withDuckDb } from "./DuckDb.ts"
import { topicId as currentTopicId, topicPartitions } from "./KafkaAdmin.ts"
import { lakeFiles } from "./LakeFiles.ts"

export interface VenteTablesOptions {
  readonly brokers: ReadonlyArray<string>
  readonly store: Store
  readonly topic: string
  readonly keep: number
  readonly watermarkDelayMs: number
  readonly windowMs: number
}

const BRONZE = { kind: "streams", name: "ventes_stream" } as const
const cents = (x: ExactSum): number => Number(x)

/** A versioned table of rows built with the lake's columns. */
interface RowsTable<R> extends SnapshotTable {
  readonly rowColumns: ReadonlyArray<Column<R>>
}

const clients: RowsTable<ClientSummary> = {
  name: "ventes_clients",
  description: "Per client, every sale counted (late ones too): purchases, spend, loyal from 2 purchases, segment Premium (≥ 500 €), Standard (≥ 100 €) or Basic",
  columns: [
    { name: "client_id", type: "string" },
    { name: "client_nom", type: "string" },
    { name: "pays", type: "string" },
    { name: "type_client", type: "string" },
    { name: "nb_achats", type: "long" },
    { name: "total_dep", type: "decimal(18,2)" },
    { name: "fidele", type: "boolean" },
    { name: "segment", type: "string" }
  ],
  rowColumns: [
    scalar("client_id", source.string<ClientSummary>("client_id", (r) => r.clientId)),
    scalar("client_nom", source.string<ClientSummary>("client_nom", (r) => r.clientNom)),
    scalar("pays", source.string<ClientSummary>("pays", (r) => r.pays)),
    scalar("type_client", source.string<ClientSummary>("type_client", (r) => r.typeClient)),
    scalar("nb_achats", source.int64<ClientSummary>("nb_achats", (r) => r.nbAchats)),
    scalar("total_dep", source.decimal<ClientSummary>("total_dep", (r) => cents(r.totalDepCents))),
    scalar("fidele", source.boolean<ClientSummary>("fidele", (r) => r.fidele)),
    scalar("segment", source.string<ClientSummary>("segment", (r) => r.segment))
  ]
}

const countries: RowsTable<CountrySummary> = {
  name: "ventes_pays",
  description: "Per country, every sale counted: sales and revenue",
  columns: [{ name: "pays", type: "string" }, { name: "nb_ventes", type: "long" }, { name: "chiffre_affaires", type: "decimal(18,2)" }],
  rowColumns: [
    scalar("pays", source.string<CountrySummary>("pays", (r) => r.pays)),
    scalar("nb_ventes", source.int64<CountrySummary>("nb_ventes", (r) => r.nbVentes)),
    scalar("chiffre_affaires", source.decimal<CountrySummary>("chiffre_affaires", (r) => cents(r.chiffreAffairesCents)))
  ]
}

const clientTypes: RowsTable<ClientTypeSummary> = {
  name: "ventes_type_client",
  description: "Per client type (B2B, B2C), every sale counted: sales, revenue, average basket",
  columns: [
    { name: "type_client", type: "string" },
    { name: "nb_ventes", type: "long" },
    { name: "chiffre_affaires", type: "decimal(18,2)" },
    { name: "panier_moyen", type: "decimal(18,2)" }
  ],
  rowColumns: [
    scalar("type_client", source.string<ClientTypeSummary>("type_client", (r) => r.typeClient)),
    scalar("nb_ventes", source.int64<ClientTypeSummary>("nb_ventes", (r) => r.nbVentes)),
    scalar("chiffre_affaires", source.decimal<ClientTypeSummary>("chiffre_affaires", (r) => cents(r.chiffreAffairesCents))),
    scalar("panier_moyen", source.decimal<ClientTypeSummary>("panier_moyen", (r) => cents(r.panierMoyenCents)))
  ]
}

/** The names of the sales tables, for the commands that list tables. */
export const VENTE_TABLES: ReadonlyArray<SnapshotTable> = [clients, countries, clientTypes]

/** `streams/ventes_fenetres`: a row per country and closed hour window, partitioned by the window's `jour`. */
export const fenetresTable: AppendTable<CountryWindow> = {
  name: "ventes_fenetres",
  description: "Tumbling event-time windows per country (on-time sales), each appended once every partition's watermark has passed its end",
  folders: "jour",
  columns: [
    scalar("window_start", source.timestamp<CountryWindow>("window_start", (r) => r.windowStartMs)),
    scalar("window_end", source.timestamp<CountryWindow>("window_end", (r) => r.windowEndMs)),
    scalar("pays", source.string<CountryWindow>("pays", (r) => r.pays)),
    scalar("nb_ventes", source.int64<CountryWindow>("nb_ventes", (r) => r.nbVentes)),
    scalar("chiffre_affaires", source.decimal<CountryWindow>("chiffre_affaires", (r) => cents(r.chiffreAffairesCents)))
  ]
}

/** The app id of `ventes_fenetres`' progress: its version is the end (epoch ms) of the last window emitted. */
const EMITTED = "emitted"

const writeRows = <R>(table: RowsTable<R>, rows: ReadonlyArray<R>) => (file: string) =>
  Effect.gen(function*() {
    const group = new RowGroup(sourcesOf(table.rowColumns))
    for (const r of rows) group.add(r)
    const bytes = yield* inlineEncoder.encode(group.table(table.rowColumns), "zstd").pipe(
      Effect.mapError((e) => new LakeIOError({ op: "encode", path: file, cause: e, transient: false }))
    )
    yield* Effect.try({ try: () => writeFileSync(file, bytes), catch: (cause) => new LakeIOError({ op: "write", path: file, cause, transient: false }) })
    return rows.length
  })

/** Every committed bronze sale, in offset order per partition, and each partition's state (largest horodatage). */
const readBronze = (store: Store, topic: string, topicId: string) =>
  withDuckDb((db) =>
    Effect.scoped(Effect.gen(function*() {
      const root = tableRoot(BRONZE)
      const snapshot = yield* readSnapshot(store, root)
      const files = yield* (yield* lakeFiles(store)).paths([...snapshot.files.keys()].map((f) => joinKey(root, f)))
      const rows = yield* db.query(`
        SELECT vente_id, epoch_ms(horodatage) AS h, client_id, client_nom, pays, type_client, produit, categorie, quantite,
               (prix_unitaire * 100)::BIGINT AS p, (montant * 100)::BIGINT AS m, late
        FROM ${parquetRelation(files, "NULL::VARCHAR AS vente_id, NULL::TIMESTAMP AS horodatage, NULL::VARCHAR AS client_id, NULL::VARCHAR AS client_nom, NULL::VARCHAR AS pays, NULL::VARCHAR AS type_client, NULL::VARCHAR AS produit, NULL::VARCHAR AS categorie, 0::INTEGER AS quantite, 0::DECIMAL(18,2) AS prix_unitaire, 0::DECIMAL(18,2) AS montant, false AS late, 0::INTEGER AS _kafka_partition, 0::BIGINT AS _kafka_offset")}
        ORDER BY _kafka_partition, _kafka_offset`)
      const sales = rows.map((r): BronzeSale => ({
        vente: {
          venteId: String(r.vente_id),
          horodatageMs: Number(r.h),
          jour: "",
          clientId: String(r.client_id),
          clientNom: String(r.client_nom),
          pays: String(r.pays),
          typeClient: String(r.type_client) as TypeClient,
          produit: String(r.produit),
          categorie: String(r.categorie),
          quantite: Number(r.quantite),
          prixUnitaireCents: Number(r.p),
          montantCents: Number(r.m)
        },
        late: r.late === true
      }))
      // What these rows are: bronze's committed offsets, which every table snapshot records it reflects.
      const reflects = new Map([...snapshot.txns].filter(([appId]) => parseOffsetsAppId(appId)?.feed === BRONZE.name))
      // Each partition's largest horodatage at what bronze committed, for this incarnation of the topic.
      const states = new Map<number, number>()
      for (const [appId, version] of snapshot.txns) {
        const parsed = parseOffsetsAppId(appId.replace(/:state$/, ""))
        if (!appId.endsWith(":state") || parsed === undefined || parsed.topic !== topic || parsed.topicId !== topicId) continue
        if (version !== Number.MIN_SAFE_INTEGER) states.set(parsed.partition, version)
      }
      return { sales, states, reflects }
    }))
  )

export interface VenteTablesWritten {
  readonly snapshots: ReadonlyArray<SnapshotWritten>
  /** Windows appended to `ventes_fenetres` now, and the watermark they were closed at. */
  readonly windows: number
  readonly watermarkMs: number | undefined
}

/** Snapshots the sales tables and appends the windows that closed, from the bronze feed as committed now. */
export const updateVenteTables = (
  options: VenteTablesOptions
): Effect.Effect<VenteTablesWritten, DuckDbError | LakeIOError | DeltaLogError | Fenced | ParquetEncodeError | KafkaError> =>
  Effect.gen(function*() {
    const topicId = yield* currentTopicId(options.brokers, options.topic)
    const partitions = yield* topicPartitions(options.brokers, options.topic)
    if (topicId === undefined || partitions === undefined) return { snapshots: [], windows: 0, watermarkMs: undefined }
    const bronze = yield* readBronze(options.store, options.topic, topicId)
    const root = tableRoot({ kind: "streams", name: fenetresTable.name })
    const emitted = (yield* readAppendTable(options.store, root, fenetresTable)).txns.get(EMITTED)
    const silver = salesSilver({
      sales: bronze.sales,
      partitions,
      maxEventMs: bronze.states,
      watermarkDelayMs: options.watermarkDelayMs,
      windowMs: options.windowMs,
      emittedUntilMs: emitted
    })
    const snapshot = <R>(table: RowsTable<R>, rows: ReadonlyArray<R>) =>
      writeSnapshot(options.store, tableRoot({ kind: "tables", name: table.name }), table, { reflects: bronze.reflects, keep: options.keep, write: writeRows(table, rows) })
    const snapshots = [
      yield* snapshot(clients, silver.clients),
      yield* snapshot(countries, silver.countries),
      yield* snapshot(clientTypes, silver.clientTypes)
    ]
    const closed = silver.closed
    if (closed.length === 0) return { snapshots, windows: 0, watermarkMs: silver.watermarkMs }
    const byDay = new Map<number, Array<CountryWindow>>()
    for (const w of closed) {
      const day = Math.floor(w.windowStartMs / 86_400_000)
      byDay.set(day, [...(byDay.get(day) ?? []), w])
    }
    const sources = sourcesOf(fenetresTable.columns)
    const parts = [...byDay].sort(([a], [b]) => a - b).map(([day, rows]) => {
      const group = new RowGroup(sources)
      for (const r of rows) group.add(r)
      return { date: datePartition(day * 86_400_000), table: group.table(fenetresTable.columns), stats: group.stats(fenetresTable.columns) }
    })
    const until = Math.max(...closed.map((w) => w.windowEndMs))
    yield* appendRows(options.store, root, fenetresTable, { parts, progress: { appId: EMITTED, expected: emitted, version: until }, encoder: inlineEncoder, compression: "zstd" })
    return { snapshots, windows: closed.length, watermarkMs: silver.watermarkMs }
  })

