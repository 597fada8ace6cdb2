/**
 * The silver layer of the sales pipeline as one pure function of bronze: the per-client, per-country
 * and per-client-type totals over every sale (late ones included), and the hour windows per country
 * (on-time sales only) that every partition's watermark has passed since the last emission.
 */
import {
  ClientTotals,
  ClientTypeTotals,
  type ClientSummary,
  type ClientTypeSummary,
  CountryTotals,
  type CountrySummary,
  type CountryWindow,
  CountryWindows,
  Watermarks
} from "./SalesAggregates.ts"
import type { Vente } from "./Vente.ts"

/** A sale as bronze holds it: with whether it was late against its partition's watermark. */
export interface BronzeSale {
  readonly vente: Vente
  readonly late: boolean
}

export interface SilverInput {
  readonly sales: Iterable<BronzeSale>
  /** The topic's partition count: a partition with no sale yet holds every window open. */
  readonly partitions: number
  /** Per partition, the largest `horodatage` bronze has committed (absent: none yet). */
  readonly maxEventMs: ReadonlyMap<number, number>
  readonly watermarkDelayMs: number
  readonly windowMs: number
  /** The end of the last window emitted before (undefined: none). */
  readonly emittedUntilMs: number | undefined
}

export interface Silver {
  readonly clients: ReadonlyArray<ClientSummary>
  readonly countries: ReadonlyArray<CountrySummary>
  readonly clientTypes: ReadonlyArray<ClientTypeSummary>
  /** The lowest watermark over the partitions; undefined while a partition has no sale. */
  readonly watermarkMs: number | undefined
  /** The windows closed now and not emitted before, by start then country. */
  readonly closed: ReadonlyArray<CountryWindow>
}

export const salesSilver = (input: SilverInput): Silver => {
  const clients = new ClientTotals()
  const countries = new CountryTotals()
  const clientTypes = new ClientTypeTotals()
  const windows = new CountryWindows(input.windowMs)
  for (const { vente, late } of input.sales) {
    clients.add(vente)
    countries.add(vente)
    clientTypes.add(vente)
    if (!late) windows.add(vente)
  }
  const partitions = Array.from({ length: input.partitions }, (_, p) => p)
  const seen = new Map([...input.maxEventMs].filter(([p]) => p < input.partitions))
  const watermarks = new Watermarks(partitions, input.watermarkDelayMs, seen)
  const low = watermarks.low()
  const watermarkMs = Number.isFinite(low) ? low : undefined
  // An emitted window is final: a sale that would fall in it is late in its partition, whose watermark is past the window's end.
  const closed = watermarkMs === undefined
    ? []
    : windows.takeComplete(watermarkMs).filter((w) => input.emittedUntilMs === undefined || w.windowEndMs > input.emittedUntilMs)
  return { clients: clients.rows(), countries: countries.rows(), clientTypes: clientTypes.rows(), watermarkMs, closed }
}
