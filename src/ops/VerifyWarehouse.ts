/**
 * The warehouse half of `sluice verify`: its committed offsets per partition, and its daily facts
 * against the same facts recomputed by DuckDB from the lake's rows below those offsets.
 */
import { Effect } from "effect"
import { centsToDecimal, decimalToCents, type ExactSum } from "../domain/Money.ts"
import type { Warehouse } from "../sinks/warehouse/Warehouse.ts"
import { type DuckDb, parquetRelation, sqlString } from "./DuckDb.ts"

export interface FactComparison {
  /** Which fact table against which lake feed. */
  readonly fact: string
  /** Keys (entity, day) compared, and the transactions they count. */
  readonly keys: number
  readonly transactions: number
  /** The first differences, as lines. */
  readonly mismatches: ReadonlyArray<string>
}

/** The warehouse's next offset per topic id (one per incarnation of the topic) and partition (absent: nothing committed). */
export const warehouseOffsets = (warehouse: Warehouse, group: string, topic: string) =>
  Effect.tryPromise({
    try: () =>
      warehouse.db.selectFrom("sluice_offsets").select(["topic_id", "partition", "next_offset"])
        .where("consumer_group", "=", group).where("topic", "=", topic).where("sink", "=", "warehouse")
        .execute(),
    catch: (cause) => warehouse.toError("read sluice_offsets", cause)
  }).pipe(Effect.map((rows) => {
    const byId = new Map<string, Map<number, number>>()
    for (const r of rows) {
      const next = byId.get(r.topic_id) ?? new Map<number, number>()
      next.set(Number(r.partition), Number(r.next_offset))
      byId.set(r.topic_id, next)
    }
    return byId
  }))

/** The lake's files of one incarnation of the topic, and the warehouse's offsets for it. */
export interface LakeIncarnation {
  readonly streamFiles: ReadonlyArray<string>
  readonly flattenedFiles: ReadonlyArray<string>
  readonly committed: ReadonlyMap<number, number>
}

interface Fact {
  readonly count: number
  /** Exact: a day's total may pass 2^53 cents. */
  readonly cents: ExactSum
}

/** Cents of a money value as a database returns it: exact DECIMAL text, or a number. */
const moneyToCents = (v: unknown): ExactSum => (typeof v === "number" ? Math.round(v * 100) : decimalToCents(String(v)))

const keyOf = (r: Record<string, unknown>) => `${r.user_id}|${r.transaction_type}|${r.day}`

const compare = (fact: string, lake: Map<string, Fact>, warehouse: Map<string, Fact>): FactComparison => {
  const mismatches: Array<string> = []
  let transactions = 0
  for (const [key, l] of lake) {
    transactions += l.count
    const w = warehouse.get(key)
    if (w === undefined) mismatches.push(`${key}: in the lake (${l.count} transactions) but not in ${fact}`)
    else if (w.count !== l.count || w.cents !== l.cents) {
      mismatches.push(`${key}: ${fact} has ${w.count} / ${centsToDecimal(w.cents)}, the lake ${l.count} / ${centsToDecimal(l.cents)}`)
    }
  }
  for (const key of warehouse.keys()) if (!lake.has(key)) mismatches.push(`${key}: in ${fact} but not in the lake`)
  return { fact, keys: lake.size, transactions, mismatches: mismatches.slice(0, 10).concat(mismatches.length > 10 ? [`… ${mismatches.length - 10} more`] : []) }
}

/**
 * Recomputes (count, sum) by user, type and UTC day from the lake rows whose offsets the
 * warehouse has committed (every incarnation of the topic it counted), and compares them with the
 * warehouse's facts, exactly, in cents.
 */
export const compareFacts = (db: DuckDb, warehouse: Warehouse, incarnations: ReadonlyArray<LakeIncarnation>) =>
  Effect.gen(function*() {
    const below = (committed: ReadonlyMap<number, number>) =>
      committed.size === 0
        ? "false"
        : `(${[...committed].map(([p, next]) => `(_kafka_partition = ${p} AND _kafka_offset < ${next})`).join(" OR ")})`
    // `AT TIME ZONE 'UTC'` makes the day UTC's whatever DuckDB's session time zone is.
    const lakeFacts = (filesOf: (i: LakeIncarnation) => ReadonlyArray<string>, userId: string, amount: string) => {
      const parts = incarnations.filter((i) => filesOf(i).length > 0).map((i) => `
            SELECT ${userId} AS user_id, transaction_type, strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%d') AS day, ${amount} AS amount
            FROM ${parquetRelation(filesOf(i), "")}
            WHERE status <> ${sqlString("failed")} AND ${below(i.committed)}`)
      return parts.length === 0
        ? Effect.succeed(new Map<string, Fact>())
        : db.query(`
            SELECT user_id, transaction_type, day, count(*) AS n, sum(amount)::VARCHAR AS total
            FROM (${parts.join(" UNION ALL ")})
            GROUP BY ALL`).pipe(
            Effect.map((rows) => new Map(rows.map((r) => [keyOf(r), { count: Number(r.n), cents: decimalToCents(String(r.total)) }])))
          )
    }
    const warehouseFacts = (table: "fact_user_transaction_summary" | "fact_user_transaction_summary_eur", amount: string) =>
      Effect.tryPromise({
        try: () =>
          warehouse.db.selectFrom(table).select(["user_id", "transaction_type", "snapshot_date as day", "transaction_count as n", `${amount} as total` as never]).execute(),
        catch: (cause) => warehouse.toError(`read ${table}`, cause)
      }).pipe(
        Effect.map((rows) =>
          new Map((rows as Array<Record<string, unknown>>).map((r) => [keyOf(r), { count: Number(r.n), cents: moneyToCents(r.total) }]))
        )
      )
    return [
      compare("fact_user_transaction_summary", yield* lakeFacts((i) => i.streamFiles, "user.id", "amount"), yield* warehouseFacts("fact_user_transaction_summary", "total_amount")),
      compare("fact_user_transaction_summary_eur", yield* lakeFacts((i) => i.flattenedFiles, "user_id", "amount_eur"), yield* warehouseFacts("fact_user_transaction_summary_eur", "total_amount_eur"))
    ]
  })

/** One line on what the warehouse holds: facts, transactions counted, EUR total, offsets. */
export const describeWarehouse = (warehouse: Warehouse, group: string, topic: string, topicId: string | undefined) =>
  Effect.gen(function*() {
    const offsets = (yield* warehouseOffsets(warehouse, group, topic)).get(topicId ?? "") ?? new Map<number, number>()
    const totals = yield* Effect.tryPromise({
      try: () =>
        warehouse.db.selectFrom("fact_user_transaction_summary_eur")
          .select((eb) => [eb.fn.countAll<number>().as("facts"), eb.fn.sum<string>("transaction_count").as("n"), eb.fn.sum<string>("total_amount_eur").as("eur")])
          .executeTakeFirst(),
      catch: (cause) => warehouse.toError("read fact_user_transaction_summary_eur", cause)
    })
    const n = Number(totals?.n ?? 0)
    const eur = Number(totals?.eur ?? 0)
    const committed = [...offsets].sort((a, b) => a[0] - b[0]).map(([p, next]) => `${p}:${next - 1}`).join(" ") || "-"
    return `warehouse: ${Number(totals?.facts ?? 0).toLocaleString("en-US")} user-day facts, ${n.toLocaleString("en-US")} transactions counted (failed ones excluded), EUR ${eur.toLocaleString("en-US", { maximumFractionDigits: 2 })}; committed offsets ${committed}`
  })
