/**
 * Realistic, reproducible sales for `ventes_stream`: a few dozen clients in several countries, a
 * catalogue of products, event times that advance with the stream, a share of late events and of
 * malformed messages. Deterministic under a seed.
 */
import { makeRandom } from "./Generator.ts"
import { dayOf } from "./DailyAggregates.ts"
import { toVenteWire, type TypeClient, type Vente } from "./Vente.ts"

/** A country as sales name it, its UTC offset in November (minutes), and names of its clients. */
interface Country {
  readonly pays: string
  readonly offsetMinutes: number
  readonly first: ReadonlyArray<string>
  readonly last: ReadonlyArray<string>
  readonly company: string
}

const COUNTRIES: ReadonlyArray<Country> = [
  { pays: "France", offsetMinutes: 60, first: ["Jean", "Marie", "Luc", "Camille", "Sophie", "Hugo"], last: ["Dupont", "Martin", "Lefèvre", "Moreau", "Girard"], company: "SARL" },
  { pays: "Belgique", offsetMinutes: 60, first: ["Lucas", "Emma", "Noah", "Louise"], last: ["Peeters", "Janssens", "Dubois", "Lambert"], company: "SPRL" },
  { pays: "Suisse", offsetMinutes: 60, first: ["Luca", "Mia", "Noé", "Léa"], last: ["Müller", "Meier", "Rochat", "Favre"], company: "SA" },
  { pays: "Canada", offsetMinutes: -300, first: ["Olivier", "Chloé", "William", "Florence"], last: ["Tremblay", "Gagnon", "Roy", "Côté"], company: "Inc." },
  { pays: "Maroc", offsetMinutes: 60, first: ["Youssef", "Fatima", "Mehdi", "Salma"], last: ["Alaoui", "Bennani", "Tazi", "El Idrissi"], company: "SARL" },
  { pays: "Allemagne", offsetMinutes: 60, first: ["Lukas", "Anna", "Felix", "Lena"], last: ["Schmidt", "Schneider", "Fischer", "Weber"], company: "GmbH" },
  { pays: "Espagne", offsetMinutes: 60, first: ["Maria", "Pablo", "Lucía", "Javier"], last: ["Garcia", "Fernández", "López", "Martínez"], company: "S.L." },
  { pays: "Sénégal", offsetMinutes: 0, first: ["Awa", "Moussa", "Aminata", "Ibrahima"], last: ["Diop", "Ndiaye", "Fall", "Sow"], company: "SUARL" }
]

/** The catalogue: product, category, unit price in EUR cents, and how often it sells (accessories far more than computers). */
const CATALOGUE: ReadonlyArray<readonly [produit: string, categorie: string, prixCents: number, weight: number]> = [
  ["Ordinateur portable", "Informatique", 179_998, 1],
  ["Ordinateur de bureau", "Informatique", 129_900, 1],
  ["Tablette", "Informatique", 44_900, 2],
  ["Disque SSD 1 To", "Informatique", 8_999, 4],
  ["Clavier mécanique", "Périphériques", 7_500, 5],
  ["Souris sans fil", "Périphériques", 2_999, 8],
  ["Écran 27 pouces", "Périphériques", 32_900, 2],
  ["Webcam HD", "Périphériques", 5_990, 4],
  ["Imprimante laser", "Périphériques", 19_900, 2],
  ["Casque audio", "Audio", 14_990, 3],
  ["Enceinte Bluetooth", "Audio", 7_990, 4],
  ["Smartphone", "Téléphonie", 89_900, 1],
  ["Coque de protection", "Téléphonie", 1_990, 10],
  ["Chargeur rapide", "Téléphonie", 2_490, 8],
  ["Chaise de bureau", "Mobilier", 24_900, 1],
  ["Bureau assis-debout", "Mobilier", 49_900, 1],
  ["Sac pour ordinateur", "Accessoires", 4_990, 5],
  ["Hub USB-C", "Accessoires", 3_990, 6],
  ["Câble HDMI", "Accessoires", 1_290, 10],
  ["Licence bureautique", "Logiciels", 9_900, 3],
  ["Antivirus 1 an", "Logiciels", 3_999, 5]
]
const CATALOGUE_WEIGHT = CATALOGUE.reduce((sum, p) => sum + p[3], 0)
const PRODUCTS = CATALOGUE.map((p) => [p, p[3] / CATALOGUE_WEIGHT] as const)

/** Consumers buy one to three; businesses sometimes buy by the ten. */
const QUANTITIES: Record<TypeClient, ReadonlyArray<readonly [number, number]>> = {
  B2C: [[1, 0.7], [2, 0.2], [3, 0.1]],
  B2B: [[1, 0.4], [2, 0.25], [3, 0.15], [5, 0.1], [10, 0.07], [20, 0.03]]
}

/**
 * How often a client buys: regulars, occasional buyers, and rare ones who buy once in a few
 * thousand sales, so that spending segments and loyalty stay varied over thousands of sales.
 */
const ACTIVITY: ReadonlyArray<number> = [1, 0.08, 0.08, 0.004, 0.004]

export interface VenteGeneratorOptions {
  readonly seed: number
  readonly clients: number
  /** Event time of the first sale. */
  readonly startMs: number
  /** Event time advances by a uniform gap in [minGapMs, maxGapMs) per sale. */
  readonly minGapMs: number
  readonly maxGapMs: number
  /** Share of sales whose `horodatage` lies 15 to 90 minutes behind the latest event time so far. */
  readonly lateRatio: number
}

export const defaultVenteGeneratorOptions: VenteGeneratorOptions = {
  seed: 42,
  clients: 40,
  startMs: Date.UTC(2026, 10, 22, 8, 0, 0),
  minGapMs: 2_000,
  maxGapMs: 10_000,
  lateRatio: 0
}

/** A generated sale, the UTC offset its `horodatage` is written at, and whether it was made late. */
export interface GeneratedVente {
  readonly vente: Vente
  readonly offsetMinutes: number
  readonly late: boolean
}

const weighted = <A>(random: () => number, table: ReadonlyArray<readonly [A, number]>): A => {
  let r = random()
  for (const [value, weight] of table) {
    r -= weight
    if (r < 0) return value
  }
  return table[table.length - 1]![0]
}

const pick = <A>(random: () => number, items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!

const hex32 = (random: () => number): string => Math.floor(random() * 0x1_0000_0000).toString(16).padStart(8, "0")

/** A version-4 UUID from the generator's random numbers (reproducible, so not for secrets). */
const uuid = (random: () => number): string => {
  const h = hex32(random) + hex32(random) + hex32(random) + hex32(random)
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

const LATE_MIN_MS = 15 * 60_000
const LATE_MAX_MS = 90 * 60_000
// An on-time sale may lie up to two minutes behind the stream: out of order, far inside a 10-minute watermark.
const JITTER_MAX_MS = 120_000

/**
 * An endless, seeded sequence of sales. The stream's clock advances by a few seconds of event time
 * per sale, so hour windows close as it runs; one sale in five lies up to two minutes behind it, and
 * a share `lateRatio` lies 15 to 90 minutes behind the latest event time so far. The sales
 * themselves (clients, products, quantities) do not depend on `lateRatio`: only their times do.
 */
export const makeVenteGenerator = (options: Partial<VenteGeneratorOptions> = {}): (() => GeneratedVente) => {
  const o = { ...defaultVenteGeneratorOptions, ...options }
  const random = makeRandom(o.seed)
  const timing = makeRandom(o.seed ^ 0x2c1b3c6d)
  const clients = Array.from({ length: o.clients }, (_, i) => {
    const country = pick(random, COUNTRIES)
    const typeClient: TypeClient = random() < 0.3 ? "B2B" : "B2C"
    const first = pick(random, country.first)
    const last = pick(random, country.last)
    const client = {
      clientId: `c-${String(i + 1).padStart(4, "0")}`,
      clientNom: typeClient === "B2B" ? `${last} ${country.company}` : `${first} ${last}`,
      pays: country.pays,
      typeClient,
      offsetMinutes: country.offsetMinutes
    }
    return [client, pick(random, ACTIVITY)] as const
  })
  const activity = clients.reduce((sum, c) => sum + c[1], 0)
  const byActivity = clients.map(([client, weight]) => [client, weight / activity] as const)
  let clock = o.startMs
  let latest = Number.NEGATIVE_INFINITY
  return () => {
    const client = weighted(random, byActivity)
    const [produit, categorie, prixUnitaireCents] = weighted(random, PRODUCTS)
    const quantite = weighted(random, QUANTITIES[client.typeClient])
    const venteId = uuid(random)
    // Always four draws, so that the times of later sales do not depend on which ones were late.
    const gap = timing()
    const lateDraw = timing()
    const behind = timing()
    const jitter = timing()
    clock += o.minGapMs + Math.floor(gap * (o.maxGapMs - o.minGapMs))
    const late = lateDraw < o.lateRatio
    const horodatageMs = late
      ? (latest === Number.NEGATIVE_INFINITY ? clock : latest) - LATE_MIN_MS - Math.floor(behind * (LATE_MAX_MS - LATE_MIN_MS))
      : clock - (jitter < 0.2 ? Math.floor(behind * JITTER_MAX_MS) : 0)
    if (horodatageMs > latest) latest = horodatageMs
    return {
      vente: {
        venteId,
        horodatageMs,
        jour: dayOf(horodatageMs),
        clientId: client.clientId,
        clientNom: client.clientNom,
        pays: client.pays,
        typeClient: client.typeClient,
        produit,
        categorie,
        quantite,
        prixUnitaireCents,
        montantCents: quantite * prixUnitaireCents
      },
      offsetMinutes: client.offsetMinutes,
      late
    }
  }
}

/** The kinds of malformed sale message, each one a different reason to dead-letter. */
export const VenteBadKinds = [
  "not-json", "not-utf8", "empty", "missing-field", "bad-type", "bad-enum", "negative-amount", "bad-date", "wrong-total"
] as const
export type VenteBadKind = (typeof VenteBadKinds)[number]

/** A malformed value of the given kind, derived from a valid sale. */
export const malformedVente = (kind: VenteBadKind, g: GeneratedVente): Buffer => {
  const wire = toVenteWire(g.vente, g.offsetMinutes) as Record<string, unknown>
  switch (kind) {
    case "not-json":
      return Buffer.from(JSON.stringify(wire).slice(0, 40))
    case "not-utf8":
      return Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])
    case "empty":
      return Buffer.alloc(0)
    case "missing-field": {
      const { vente_id: _, ...rest } = wire
      return Buffer.from(JSON.stringify(rest))
    }
    case "bad-type":
      return Buffer.from(JSON.stringify({ ...wire, prix_unitaire: String(wire.prix_unitaire) }))
    case "bad-enum":
      return Buffer.from(JSON.stringify({ ...wire, type_client: "B2X" }))
    case "negative-amount":
      return Buffer.from(JSON.stringify({ ...wire, montant: -(g.vente.montantCents / 100) }))
    case "bad-date":
      return Buffer.from(JSON.stringify({ ...wire, horodatage: "2026-13-45 25:61" }))
    case "wrong-total":
      return Buffer.from(JSON.stringify({ ...wire, montant: (g.vente.montantCents - 1) / 100 }))
  }
}

export interface VenteMessage {
  /** The client id: a client's sales stay in one partition, in order. */
  readonly key: string
  readonly value: Buffer
  /** Set when the message is deliberately malformed. */
  readonly bad: VenteBadKind | undefined
  /** Whether the sale was made late (15 to 90 minutes behind the stream). */
  readonly late: boolean
}

/** Messages for `ventes_stream`: valid sales, a share `badRatio` malformed, keyed by client id. */
export const makeVenteMessageGenerator = (options: Partial<VenteGeneratorOptions> & { readonly badRatio?: number } = {}): (() => VenteMessage) => {
  const next = makeVenteGenerator(options)
  const random = makeRandom((options.seed ?? defaultVenteGeneratorOptions.seed) ^ 0x5bd1e995)
  const badRatio = options.badRatio ?? 0
  return () => {
    const g = next()
    const key = g.vente.clientId
    if (badRatio > 0 && random() < badRatio) {
      const bad = pick(random, VenteBadKinds)
      return { key, value: malformedVente(bad, g), bad, late: g.late }
    }
    return { key, value: Buffer.from(JSON.stringify(toVenteWire(g.vente, g.offsetMinutes))), bad: undefined, late: g.late }
  }
}
