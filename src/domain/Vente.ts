/**
 * The `ventes_stream` message (a sale of the sales pipeline): its schema, and the decoding of
 * parsed JSON values into it, with the bounds and money rules of a transaction. Pure.
 */
import { Data, Result, Schema } from "effect"
import { enable as compileSchema } from "effect/schema/SchemaJITCompiler"
import { isStorableInstant } from "./CivilDate.ts"
import { dayOf } from "./DailyAggregates.ts"
import { centsToDecimal, numberToCents } from "./Money.ts"
import {
  BoundedText,
  firstIssue,
  Identifier,
  Instant,
  isObject,
  isText,
  MAX_QUANTITY,
  moneyCents,
  parseInstant,
  PositiveMoney,
  Quantity
} from "./Transaction.ts"

/** Business or consumer client. */
export const TypesClient = ["B2B", "B2C"] as const
export type TypeClient = (typeof TypesClient)[number]

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

/** The wire shape of a `ventes_stream` value, as producers send it; amounts are EUR. */
export const VenteWire = Schema.Struct({
  vente_id: Schema.String.pipe(
    Schema.check(Schema.isPattern(UUID, { expected: "a UUID (8-4-4-4-12 hex digits)" }))
  ),
  horodatage: Instant,
  client_id: Identifier,
  client_nom: BoundedText(255),
  pays: BoundedText(64),
  type_client: Schema.Literals(TypesClient),
  produit: BoundedText(255),
  categorie: BoundedText(64),
  quantite: Quantity,
  prix_unitaire: PositiveMoney,
  montant: PositiveMoney
})
export type VenteWire = typeof VenteWire.Type

/** A decoded sale: time in UTC epoch millis and its UTC day, money in integer EUR cents. */
export interface Vente {
  /** Lowercase, so that one UUID has one spelling. */
  readonly venteId: string
  readonly horodatageMs: number
  /** The UTC date of `horodatageMs`, `YYYY-MM-DD`. */
  readonly jour: string
  readonly clientId: string
  readonly clientNom: string
  readonly pays: string
  readonly typeClient: TypeClient
  readonly produit: string
  readonly categorie: string
  readonly quantite: number
  readonly prixUnitaireCents: number
  /** Always `quantite × prixUnitaireCents`. */
  readonly montantCents: number
}

/** Why a value is not a sale: the JSON path of the first offending field, and the reason. */
export class VenteDecodeError extends Data.TaggedError("VenteDecodeError")<{
  readonly field: string
  readonly reason: string
}> {
  override get message(): string {
    return this.field === "" ? this.reason : `${this.field}: ${this.reason}`
  }
}

compileSchema(VenteWire.ast)
const decodeWire = Schema.decodeUnknownResult(VenteWire)

/**
 * `montant` is `quantite × prix_unitaire` to the cent, or the reason it is not. Both are integers of
 * cents below 2^53 (amounts < 10^13, quantities < 2^31), so their product as a double equals the
 * montant exactly when the exact product does; the message shows the exact product.
 */
const montantMismatch = (quantite: number, prixCents: number, montantCents: number): string | undefined => {
  if (quantite * prixCents === montantCents) return undefined
  return `${centsToDecimal(montantCents)} is not quantite × prix_unitaire = ${centsToDecimal(BigInt(quantite) * BigInt(prixCents))}`
}

const TYPES: ReadonlySet<unknown> = new Set(TypesClient)

/**
 * The hand-written check of the common, valid message: the sale, or undefined where it leaves the
 * decision (and the error) to the schema. Exported for the property test that holds it to the schema.
 */
export const decodeVenteFastPath = (j: unknown): Vente | undefined => {
  if (!isObject(j)) return undefined
  if (typeof j.vente_id !== "string" || !UUID.test(j.vente_id) || typeof j.horodatage !== "string") return undefined
  if (!isText(j.client_id, 128, true) || !isText(j.client_nom, 255, false) || !isText(j.pays, 64, false)) return undefined
  if (!TYPES.has(j.type_client) || !isText(j.produit, 255, false) || !isText(j.categorie, 64, false)) return undefined
  const q = j.quantite
  if (!(typeof q === "number" && Number.isInteger(q) && q >= 1 && q <= MAX_QUANTITY)) return undefined
  const prixUnitaireCents = moneyCents(j.prix_unitaire)
  const montantCents = moneyCents(j.montant)
  if (Number.isNaN(prixUnitaireCents) || Number.isNaN(montantCents) || q * prixUnitaireCents !== montantCents) return undefined
  const horodatageMs = parseInstant(j.horodatage)
  if (!isStorableInstant(horodatageMs)) return undefined
  return {
    venteId: j.vente_id.toLowerCase(),
    horodatageMs,
    jour: dayOf(horodatageMs),
    clientId: j.client_id,
    clientNom: j.client_nom,
    pays: j.pays,
    typeClient: j.type_client as TypeClient,
    produit: j.produit,
    categorie: j.categorie,
    quantite: q,
    prixUnitaireCents,
    montantCents
  }
}

/** Decodes a parsed JSON value; extra fields are ignored so that producers can add some. */
export const decodeVente = (value: unknown): Result.Result<Vente, VenteDecodeError> => {
  const fast = decodeVenteFastPath(value)
  return fast === undefined ? decodeVenteWithSchema(value) : Result.succeed(fast)
}

/** The schema's decoding, then the rule that `montant` is `quantite × prix_unitaire`: the reference, and the source of errors. */
export const decodeVenteWithSchema = (value: unknown): Result.Result<Vente, VenteDecodeError> => {
  const wire = decodeWire(value)
  if (Result.isFailure(wire)) return Result.fail(new VenteDecodeError(firstIssue(wire.failure.issue, "not a sale")))
  const w = wire.success
  const mismatch = montantMismatch(w.quantite, numberToCents(w.prix_unitaire), numberToCents(w.montant))
  if (mismatch !== undefined) return Result.fail(new VenteDecodeError({ field: "montant", reason: mismatch }))
  return Result.succeed(venteFromWire(w))
}

/** The domain value of a validated wire message. */
export const venteFromWire = (w: VenteWire): Vente => {
  const horodatageMs = parseInstant(w.horodatage)
  return {
    venteId: w.vente_id.toLowerCase(),
    horodatageMs,
    jour: dayOf(horodatageMs),
    clientId: w.client_id,
    clientNom: w.client_nom,
    pays: w.pays,
    typeClient: w.type_client,
    produit: w.produit,
    categorie: w.categorie,
    quantite: w.quantite,
    prixUnitaireCents: numberToCents(w.prix_unitaire),
    montantCents: numberToCents(w.montant)
  }
}

const pad2 = (n: number) => String(n).padStart(2, "0")

/**
 * An instant written in local time at a UTC offset, `2026-11-22T11:15:30.000+01:00` (`Z` at offset 0),
 * as producers in other zones write `horodatage`.
 */
export const formatInstantAtOffset = (epochMs: number, offsetMinutes: number): string => {
  const local = new Date(epochMs + offsetMinutes * 60_000).toISOString().slice(0, 23)
  if (offsetMinutes === 0) return `${local}Z`
  const abs = Math.abs(offsetMinutes)
  return `${local}${offsetMinutes < 0 ? "-" : "+"}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`
}

/** The wire form of a sale, `horodatage` written at the given UTC offset in minutes (default UTC). */
export const toVenteWire = (v: Vente, offsetMinutes = 0): VenteWire => ({
  vente_id: v.venteId,
  horodatage: formatInstantAtOffset(v.horodatageMs, offsetMinutes),
  client_id: v.clientId,
  client_nom: v.clientNom,
  pays: v.pays,
  type_client: v.typeClient,
  produit: v.produit,
  categorie: v.categorie,
  quantite: v.quantite,
  prix_unitaire: v.prixUnitaireCents / 100,
  montant: v.montantCents / 100
})
