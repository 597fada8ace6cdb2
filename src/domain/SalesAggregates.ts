/**
 * The silver layer of the sales pipeline as pure, mergeable accumulators (per client, per country,
 * per client type, per country and event-time window) and the watermark that says which sales are
 * late and which windows are complete. Money in EUR cents, exact past 2^53 (see `ExactSum`).
 *
 * Each accumulator takes sales one by one (`add`) and absorbs another (`merge`), in any order and
 * grouping with the same result, so that a runtime can keep one per partition and combine them for
 * a snapshot. Which sales to give them is the runtime's choice; the intended one: every valid sale
 * counts in the totals per client, country and client type (running totals, as the batch silver job
 * computed them over the whole bronze table, late sales included), while the windows take only the
 * sales that are not late, a late one going to the late-data feed instead: a window once complete
 * never changes.
 */
import { addExact, type ExactSum } from "./Money.ts"
import type { TypeClient, Vente } from "./Vente.ts"

/** A client's spending segment. */
export type Segment = "Premium" | "Standard" | "Basic"

/** Premium from 500.00 EUR spent, Standard from 100.00 EUR, Basic below. */
export const PREMIUM_FROM_CENTS = 50_000
export const STANDARD_FROM_CENTS = 10_000

/** A client is loyal (`fidele`) from two purchases. */
export const LOYAL_FROM_PURCHASES = 2

/** The segment of a total spent: `Premium` (>= 500.00), `Standard` (>= 100.00), else `Basic`. */
export const segmentOf = (totalCents: ExactSum): Segment =>
  totalCents >= PREMIUM_FROM_CENTS ? "Premium" : totalCents >= STANDARD_FROM_CENTS ? "Standard" : "Basic"

/** `total / count` rounded half away from zero to the cent, exactly (a bigint past 2^53). */
export const roundedAverage = (total: ExactSum, count: number): ExactSum => {
  if (!(Number.isSafeInteger(count) && count > 0)) throw new RangeError(`an average of ${count} values`)
  const t = BigInt(total)
  const c = BigInt(count)
  const magnitude = ((t < 0n ? -t : t) * 2n + c) / (2n * c)
  const result = t < 0n ? -magnitude : magnitude
  return result <= BigInt(Number.MAX_SAFE_INTEGER) && result >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(result) : result
}

const sumExact = (a: ExactSum, b: ExactSum): ExactSum => {
  if (typeof a === "number" && typeof b === "number") return addExact(a, b)
  const s = BigInt(a) + BigInt(b)
  return s <= BigInt(Number.MAX_SAFE_INTEGER) && s >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(s) : s
}

// ---------------------------------------------------------------------------------------------
// Per client

/** A client's row of the silver layer. */
export interface ClientSummary {
  readonly clientId: string
  readonly clientNom: string
  readonly pays: string
  readonly typeClient: TypeClient
  readonly nbAchats: number
  readonly totalDepCents: ExactSum
  /** `nbAchats >= 2`. */
  readonly fidele: boolean
  readonly segment: Segment
}

interface ClientState {
  clientNom: string
  pays: string
  typeClient: TypeClient
  /** The sale the attributes come from: the latest by (horodatage, vente_id), an order every merge agrees on. */
  seenAtMs: number
  seenVenteId: string
  nbAchats: number
  totalDepCents: ExactSum
}

const isLaterSale = (atMs: number, venteId: string, s: { seenAtMs: number; seenVenteId: string }): boolean =>
  atMs > s.seenAtMs || (atMs === s.seenAtMs && venteId > s.seenVenteId)

/**
 * Purchases and spending per client. A client's name, country and type are those of its latest sale
 * (by `horodatage`, then `vente_id`), whatever order the sales came in.
 */
export class ClientTotals {
  readonly #clients = new Map<string, ClientState>()

  add(v: Vente): void {
    const s = this.#clients.get(v.clientId)
    if (s === undefined) {
      this.#clients.set(v.clientId, {
        clientNom: v.clientNom,
        pays: v.pays,
        typeClient: v.typeClient,
        seenAtMs: v.horodatageMs,
        seenVenteId: v.venteId,
        nbAchats: 1,
        totalDepCents: v.montantCents
      })
      return
    }
    s.nbAchats += 1
    s.totalDepCents = typeof s.totalDepCents === "number" ? addExact(s.totalDepCents, v.montantCents) : s.totalDepCents + BigInt(v.montantCents)
    if (isLaterSale(v.horodatageMs, v.venteId, s)) {
      s.clientNom = v.clientNom
      s.pays = v.pays
      s.typeClient = v.typeClient
      s.seenAtMs = v.horodatageMs
      s.seenVenteId = v.venteId
    }
  }

  /** Adds the other's clients to these (the other is left as it was). */
  merge(other: ClientTotals): void {
    for (const [id, o] of other.#clients) {
      const s = this.#clients.get(id)
      if (s === undefined) {
        this.#clients.set(id, { ...o })
        continue
      }
      s.nbAchats += o.nbAchats
      s.totalDepCents = sumExact(s.totalDepCents, o.totalDepCents)
      if (isLaterSale(o.seenAtMs, o.seenVenteId, s)) {
        s.clientNom = o.clientNom
        s.pays = o.pays
        s.typeClient = o.typeClient
        s.seenAtMs = o.seenAtMs
        s.seenVenteId = o.seenVenteId
      }
    }
  }

  /** One row per client, by client id. */
  rows(): Array<ClientSummary> {
    return [...this.#clients.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([clientId, s]) => ({
        clientId,
        clientNom: s.clientNom,
        pays: s.pays,
        typeClient: s.typeClient,
        nbAchats: s.nbAchats,
        totalDepCents: s.totalDepCents,
        fidele: s.nbAchats >= LOYAL_FROM_PURCHASES,
        segment: segmentOf(s.totalDepCents)
      }))
  }
}

// ---------------------------------------------------------------------------------------------
// Per country and per client type

/** Sales and revenue of a group. */
interface Totals {
  nbVentes: number
  chiffreAffairesCents: ExactSum
}

const addSale = (map: Map<string, Totals>, key: string, montantCents: number): void => {
  const t = map.get(key)
  if (t === undefined) map.set(key, { nbVentes: 1, chiffreAffairesCents: montantCents })
  else {
    t.nbVentes += 1
    t.chiffreAffairesCents = typeof t.chiffreAffairesCents === "number"
      ? addExact(t.chiffreAffairesCents, montantCents)
      : t.chiffreAffairesCents + BigInt(montantCents)
  }
}

const mergeTotals = (into: Map<string, Totals>, from: ReadonlyMap<string, Totals>): void => {
  for (const [key, o] of from) {
    const t = into.get(key)
    if (t === undefined) into.set(key, { ...o })
    else {
      t.nbVentes += o.nbVentes
      t.chiffreAffairesCents = sumExact(t.chiffreAffairesCents, o.chiffreAffairesCents)
    }
  }
}

const sortedEntries = <V>(map: ReadonlyMap<string, V>): Array<[string, V]> => [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/** A country's row. */
export interface CountrySummary {
  readonly pays: string
  readonly nbVentes: number
  readonly chiffreAffairesCents: ExactSum
}

/** Sales and revenue per country (`pays` as sent). */
export class CountryTotals {
  readonly #countries = new Map<string, Totals>()

  add(v: Vente): void {
    addSale(this.#countries, v.pays, v.montantCents)
  }

  merge(other: CountryTotals): void {
    mergeTotals(this.#countries, other.#countries)
  }

  /** One row per country, by name. */
  rows(): Array<CountrySummary> {
    return sortedEntries(this.#countries).map(([pays, t]) => ({ pays, nbVentes: t.nbVentes, chiffreAffairesCents: t.chiffreAffairesCents }))
  }
}

/** A client type's row. */
export interface ClientTypeSummary {
  readonly typeClient: TypeClient
  readonly nbVentes: number
  readonly chiffreAffairesCents: ExactSum
  /** The average basket: revenue / sales, rounded half away from zero to the cent. */
  readonly panierMoyenCents: ExactSum
}

/** Sales, revenue and average basket per client type (B2B, B2C). */
export class ClientTypeTotals {
  readonly #types = new Map<string, Totals>()

  add(v: Vente): void {
    addSale(this.#types, v.typeClient, v.montantCents)
  }

  merge(other: ClientTypeTotals): void {
    mergeTotals(this.#types, other.#types)
  }

  /** One row per client type seen, B2B before B2C. */
  rows(): Array<ClientTypeSummary> {
    return sortedEntries(this.#types).map(([typeClient, t]) => ({
      typeClient: typeClient as TypeClient,
      nbVentes: t.nbVentes,
      chiffreAffairesCents: t.chiffreAffairesCents,
      panierMoyenCents: roundedAverage(t.chiffreAffairesCents, t.nbVentes)
    }))
  }
}

// ---------------------------------------------------------------------------------------------
// Tumbling event-time windows per country

export const HOUR_MS = 3_600_000

/** A country's sales in one window `[windowStartMs, windowEndMs)`. */
export interface CountryWindow {
  readonly windowStartMs: number
  readonly windowEndMs: number
  readonly pays: string
  readonly nbVentes: number
  readonly chiffreAffairesCents: ExactSum
}

/** The start of the tumbling window of size `sizeMs` holding an instant; windows are aligned on the epoch (UTC hours for an hour). */
export const windowStart = (atMs: number, sizeMs: number): number => Math.floor(atMs / sizeMs) * sizeMs

/**
 * Sales and revenue per country in tumbling event-time windows of `sizeMs` (default one hour),
 * `[start, start + size)`, aligned on the epoch as Spark's `window()` aligns them.
 */
export class CountryWindows {
  /** Window start → country → totals. */
  readonly #windows = new Map<number, Map<string, Totals>>()
  readonly sizeMs: number

  constructor(sizeMs: number = HOUR_MS) {
    if (!(Number.isSafeInteger(sizeMs) && sizeMs > 0)) throw new RangeError(`a window of ${sizeMs} ms`)
    this.sizeMs = sizeMs
  }

  add(v: Vente): void {
    const start = windowStart(v.horodatageMs, this.sizeMs)
    let countries = this.#windows.get(start)
    if (countries === undefined) {
      countries = new Map()
      this.#windows.set(start, countries)
    }
    addSale(countries, v.pays, v.montantCents)
  }

  /** Adds the other's windows to these; both must have the same size. */
  merge(other: CountryWindows): void {
    if (other.sizeMs !== this.sizeMs) throw new RangeError(`merging windows of ${other.sizeMs} ms into windows of ${this.sizeMs} ms`)
    for (const [start, countries] of other.#windows) {
      let mine = this.#windows.get(start)
      if (mine === undefined) {
        mine = new Map()
        this.#windows.set(start, mine)
      }
      mergeTotals(mine, countries)
    }
  }

  /** Every window held, by start then country. */
  rows(): Array<CountryWindow> {
    return this.#rowsOf([...this.#windows.keys()])
  }

  /**
   * Removes and returns the windows that are complete at a watermark (their end at or before it:
   * see `Watermarks.isComplete`), by start then country: what append mode emits, once.
   */
  takeComplete(watermarkMs: number): Array<CountryWindow> {
    const complete = [...this.#windows.keys()].filter((start) => start + this.sizeMs <= watermarkMs)
    const rows = this.#rowsOf(complete)
    for (const start of complete) this.#windows.delete(start)
    return rows
  }

  #rowsOf(starts: Array<number>): Array<CountryWindow> {
    return starts
      .sort((a, b) => a - b)
      .flatMap((start) =>
        sortedEntries(this.#windows.get(start)!).map(([pays, t]) => ({
          windowStartMs: start,
          windowEndMs: start + this.sizeMs,
          pays,
          nbVentes: t.nbVentes,
          chiffreAffairesCents: t.chiffreAffairesCents
        }))
      )
  }
}

// ---------------------------------------------------------------------------------------------
// The watermark

/** How far behind the latest event time a partition's watermark lies by default: 10 minutes. */
export const DEFAULT_WATERMARK_DELAY_MS = 600_000

/** A partition's watermark: the largest event time of its earlier records minus the delay; -Infinity before any record. */
export const watermarkOf = (maxEventMs: number, delayMs: number): number => maxEventMs - delayMs

/**
 * Whether a record is late: its event time strictly older than the watermark before it. A record
 * exactly at the watermark (exactly `delay` behind the latest) is on time: the delay is the
 * lateness tolerated, bounds included. Spark drops a row whose time is `<=` the watermark; this rule
 * keeps that one.
 */
export const isLate = (eventMs: number, watermarkMs: number): boolean => eventMs < watermarkMs

/**
 * The rule as a pure function of one partition's records, in offset order: for each, whether it is
 * late. The watermark before a record is the largest event time of the records at earlier offsets
 * (late ones included, which never raise it) minus the delay, so the decision for an offset depends
 * only on the records before it: a replay decides it the same.
 */
export const lateness = (eventTimesInOffsetOrder: ReadonlyArray<number>, delayMs: number = DEFAULT_WATERMARK_DELAY_MS): Array<boolean> => {
  let max = Number.NEGATIVE_INFINITY
  return eventTimesInOffsetOrder.map((t) => {
    const late = isLate(t, watermarkOf(max, delayMs))
    if (t > max) max = t
    return late
  })
}

/**
 * The watermarks of a topic's partitions, each advanced by that partition's records in offset
 * order. A window is complete once every partition's watermark has reached its end (Spark's append
 * mode): a partition that has seen no record holds every window open, as an idle source does in
 * Spark and Flink. Kept per partition (the state to record with a partition's commit is its
 * `maxEventMs`) and mergeable, so instances owning different partitions can be combined.
 */
export class Watermarks {
  readonly delayMs: number
  readonly #maxEventMs = new Map<number, number>()

  /**
   * The partitions of the topic, each at the largest event time it has seen (absent: none, -Infinity).
   */
  constructor(partitions: Iterable<number>, delayMs: number = DEFAULT_WATERMARK_DELAY_MS, maxEventMs: ReadonlyMap<number, number> = new Map()) {
    this.delayMs = delayMs
    for (const p of partitions) this.#maxEventMs.set(p, maxEventMs.get(p) ?? Number.NEGATIVE_INFINITY)
    if (this.#maxEventMs.size === 0) throw new RangeError("watermarks of no partition")
    for (const p of maxEventMs.keys()) if (!this.#maxEventMs.has(p)) throw new RangeError(`partition ${p} is not one of the topic's`)
  }

  #max(partition: number): number {
    const m = this.#maxEventMs.get(partition)
    if (m === undefined) throw new RangeError(`partition ${partition} is not one of the topic's`)
    return m
  }

  /** The largest event time partition `p` has seen, -Infinity before any: the state a commit records. */
  maxEventMs(partition: number): number {
    return this.#max(partition)
  }

  /** The watermark of a partition before its next record. */
  watermark(partition: number): number {
    return watermarkOf(this.#max(partition), this.delayMs)
  }

  /** Takes the partition's next record: whether it is late (then advances the partition's watermark if it raises it). */
  observe(partition: number, eventMs: number): boolean {
    const max = this.#max(partition)
    if (eventMs > max) this.#maxEventMs.set(partition, eventMs)
    return isLate(eventMs, watermarkOf(max, this.delayMs))
  }

  /** The lowest watermark over the partitions: what every partition has passed. */
  low(): number {
    let low = Number.POSITIVE_INFINITY
    for (const m of this.#maxEventMs.values()) low = Math.min(low, m)
    return watermarkOf(low, this.delayMs)
  }

  /** Whether the window ending at `windowEndMs` (exclusive) is complete: every partition's watermark at or past its end. */
  isComplete(windowEndMs: number): boolean {
    return this.low() >= windowEndMs
  }

  /** Takes, per partition, the larger of the two: what both have seen. Same partitions and delay only. */
  merge(other: Watermarks): void {
    if (other.delayMs !== this.delayMs) throw new RangeError(`merging watermarks of delay ${other.delayMs} ms into ${this.delayMs} ms`)
    for (const [p, m] of other.#maxEventMs) {
      const mine = this.#max(p)
      if (m > mine) this.#maxEventMs.set(p, m)
    }
  }
}
