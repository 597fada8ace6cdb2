/**
 * Calendar arithmetic in UTC without Date objects: days since the epoch from a civil date and
 * back (Howard Hinnant's algorithms), for the hot paths of decoding and partitioning.
 */

export interface CivilDate {
  readonly year: number
  readonly month: number
  readonly day: number
}

export const DAY_MS = 86_400_000

/**
 * The instants every sink stores: MySQL's DATETIME(3) and DATE hold the years 1000 to 9999, and
 * dates of those years are written with four digits (a year 99 written `99-06-15` reads as 1999).
 */
export const FIRST_STORABLE_MS = -30_610_224_000_000 // 1000-01-01T00:00:00.000Z
export const LAST_STORABLE_MS = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z

/** Whether an instant (epoch millis) lies in the years 1000 to 9999, UTC. */
export const isStorableInstant = (epochMs: number): boolean => epochMs >= FIRST_STORABLE_MS && epochMs <= LAST_STORABLE_MS

/** Days from 1970-01-01 to the given proleptic Gregorian date. */
export const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** The civil date of a count of days since 1970-01-01. */
export const civilFromDays = (days: number): CivilDate => {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day }
}

/** `YYYY-MM-DD` of a count of days since 1970-01-01. */
export const isoDay = (days: number): string => {
  const d = civilFromDays(days)
  return `${d.year}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}`
}

/** The UTC calendar date of an instant. */
export const utcDate = (epochMs: number): CivilDate => civilFromDays(Math.floor(epochMs / DAY_MS))

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0

export const daysInMonth = (year: number, month: number): number =>
  month === 2 ? (isLeap(year) ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
