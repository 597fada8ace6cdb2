/**
 * The sales flow of the lakehouse seed (`ventes_stream`), in Sluice's topology: every valid sale to
 * the bronze feed partitioned by `jour`, each one judged late or on time against its partition's
 * watermark (the largest `horodatage` at earlier offsets minus the delay: a rule of offsets alone,
 * kept as the partition's state, so a replay judges the same), the late ones also to `ventes_late`.
 */
import { Result, Schema } from "effect"
import { isLate, watermarkOf } from "../domain/SalesAggregates.ts"
import { decodeVente, type Vente } from "../domain/Vente.ts"
import { type Column, scalar, source } from "../sinks/lake/Columns.ts"
import { deadLetterFeed, type LakeFeed } from "../sinks/lake/Feeds.ts"
import { type Decisions, decisionsVersion, type DecisionSource } from "../topology/Decisions.ts"
import { filterMap, map, type Processor, records } from "../topology/Processor.ts"
import type { Decoded } from "../topology/Record.ts"
import type { PartitionState } from "../topology/Topology.ts"

/** A sale with what the watermark said of it. */
export interface JudgedVente extends Vente {
  /** The watermark before the sale: the largest earlier `horodatage` of its partition minus the delay (null before any). */
  readonly watermarkMs: number | null
  readonly late: boolean
}

/** What decides a sale: the size cap and the watermark's delay. */
export interface VenteState {
  readonly watermarkDelayMs: number
}

/** Before a partition's first sale: no event time seen. */
const NONE = Number.MIN_SAFE_INTEGER

/** The partition state of the sales flow: the largest `horodatage` seen, in offset order. */
export const ventePartitionState: PartitionState<Vente> = {
  initial: NONE,
  next: (state, record) => Math.max(state, record.value.horodatageMs)
}

export interface VenteProcessors {
  readonly valid: Processor<Vente, Vente>
  readonly judged: Processor<Vente, JudgedVente>
  readonly late: Processor<Vente, JudgedVente>
}

export const venteProcessors = (topic: string): VenteProcessors => {
  const valid = records<Vente>(topic)
  const judged = map(valid, "watermark", "late when older than the partition's largest earlier horodatage minus the delay", (v, record, decisions: Decisions<Vente, VenteState>) => {
    const seen = record.stateBefore ?? NONE
    const watermarkMs = seen === NONE ? null : watermarkOf(seen, decisions.state.watermarkDelayMs)
    return { ...v, watermarkMs, late: watermarkMs !== null && isLate(v.horodatageMs, watermarkMs) }
  })
  const late = filterMap(judged, "late", "the late sales, with the watermark they missed", (v) => (v.late ? v : undefined))
  return { valid, judged, late }
}

type J = Decoded<JudgedVente>

const v = {
  venteId: source.string<J>("vente_id", (r) => r.value.venteId),
  horodatage: source.timestamp<J>("horodatage", (r) => r.value.horodatageMs),
  clientId: source.string<J>("client_id", (r) => r.value.clientId),
  clientNom: source.string<J>("client_nom", (r) => r.value.clientNom),
  pays: source.string<J>("pays", (r) => r.value.pays),
  typeClient: source.string<J>("type_client", (r) => r.value.typeClient),
  produit: source.string<J>("produit", (r) => r.value.produit),
  categorie: source.string<J>("categorie", (r) => r.value.categorie),
  quantite: source.int32<J>("quantite", (r) => r.value.quantite),
  prixUnitaire: source.decimal<J>("prix_unitaire", (r) => r.value.prixUnitaireCents),
  montant: source.decimal<J>("montant", (r) => r.value.montantCents),
  late: source.boolean<J>("late", (r) => r.value.late),
  watermark: source.timestamp<J>("watermark", (r) => r.value.watermarkMs, true),
  partition: source.int32<J>("_kafka_partition", (r) => r.partition),
  offset: source.int64<J>("_kafka_offset", (r) => r.offset),
  timestamp: source.timestamp<J>("_kafka_timestamp", (r) => r.timestamp)
}

const saleColumns: ReadonlyArray<Column<J>> = [
  scalar("vente_id", v.venteId),
  scalar("horodatage", v.horodatage),
  scalar("client_id", v.clientId),
  scalar("client_nom", v.clientNom),
  scalar("pays", v.pays),
  scalar("type_client", v.typeClient),
  scalar("produit", v.produit),
  scalar("categorie", v.categorie),
  scalar("quantite", v.quantite),
  scalar("prix_unitaire", v.prixUnitaire),
  scalar("montant", v.montant)
]

const lineage: ReadonlyArray<Column<J>> = [scalar("_kafka_partition", v.partition), scalar("_kafka_offset", v.offset), scalar("_kafka_timestamp", v.timestamp)]

/** `streams/ventes_stream` (bronze) and `streams/ventes_late`, partitioned by `jour`, and the sales' dead letters. */
export const venteFeeds = (topic: string, processors: VenteProcessors = venteProcessors(topic)): Array<LakeFeed<any>> => [
  {
    name: "ventes_stream",
    kind: "streams",
    description: "Every valid sale (bronze), with whether it came later than its partition's watermark, and Kafka lineage",
    input: processors.judged,
    columns: [...saleColumns, scalar("late", v.late), ...lineage],
    offsetOf: (r: J) => r.offset,
    partitionTime: (r: J) => r.value.horodatageMs,
    folders: "jour"
  },
  {
    name: "ventes_late",
    kind: "streams",
    description: "The sales older than their partition's watermark, with the watermark they missed: in bronze, left out of the windows",
    input: processors.late,
    columns: [...saleColumns, scalar("watermark", v.watermark), ...lineage],
    offsetOf: (r: J) => r.offset,
    partitionTime: (r: J) => r.value.horodatageMs,
    folders: "jour"
  },
  deadLetterFeed(topic)
]

const Content = Schema.Struct({ maxMessageBytes: Schema.Int, watermarkDelayMs: Schema.Int })
const decodeContent = Schema.decodeUnknownSync(Schema.fromJsonString(Content))

const build = (maxMessageBytes: number, watermarkDelayMs: number): Decisions<Vente, VenteState> => {
  const content = JSON.stringify({ maxMessageBytes, watermarkDelayMs })
  return {
    version: decisionsVersion(content),
    content,
    decode: (json) => Result.mapError(decodeVente(json), (e) => ({ message: e.message })),
    policy: { maxMessageBytes },
    state: { watermarkDelayMs },
    summary: `watermark ${watermarkDelayMs / 60_000} min behind the largest horodatage, messages up to ${maxMessageBytes} bytes`
  }
}

/** The decisions of the sales flow: fixed by configuration, recorded so a replay judges lateness as before. */
export const venteDecisions = (maxMessageBytes: number, watermarkDelayMs: number): DecisionSource<Vente, VenteState> => {
  const current = build(maxMessageBytes, watermarkDelayMs)
  return {
    current: () => current,
    restore: (text) => {
      const c = decodeContent(text)
      return build(c.maxMessageBytes, c.watermarkDelayMs)
    }
  }
}
