/**
 * The warehouse sink: a window is aggregated in memory, then written in ONE transaction that
 * locks the partition's `sluice_offsets` row, checks it still holds the window's first offset
 * (fencing any other writer), adds the aggregates and advances the offset. Windows of other
 * partitions waiting meanwhile share the next transaction, each checked and fenced on its own.
 */
import { Clock, Data, Deferred, Effect, Option, Semaphore } from "effect"
import { type Expression, sql, type Transaction as KyselyTransaction } from "kysely"
import { DailyAggregates } from "../../domain/DailyAggregates.ts"
import type { EurTransaction } from "../../domain/ExchangeRate.ts"
import { centsToDecimal } from "../../domain/Money.ts"
import { defaultOutagePolicy, type OutagePolicy, waitOut } from "../../topology/Outage.ts"
import { records } from "../../topology/Processor.ts"
import type { SourcePartition } from "../../topology/Record.ts"
import { type Sink, SinkError, SinkFenced, type SinkPosition, type SinkTarget, type SinkWindow } from "../../topology/Sink.ts"
import { crashNow } from "../CrashPoint.ts"
import type { Database } from "./Database.ts"
import type { UpsertSet, Warehouse, WarehouseError } from "./Warehouse.ts"

export interface WarehouseSinkOptions {
  /** The consumer group: offsets are kept per group, topic, partition and sink. */
  readonly group: string
  /** Rows per multi-row INSERT. */
  readonly chunkSize: number
  /** How long deadlocks, lock waits and a lost or restarting server are retried before the service stops. */
  readonly outage: OutagePolicy
}

export const defaultWarehouseSinkOptions = { chunkSize: 500, outage: defaultOutagePolicy } as const

const SINK = "warehouse"

/** The offsets row held something other than what this writer expected. */
class Fence extends Data.TaggedError("Fence")<{ readonly expected: number | undefined; readonly found: number | undefined }> {}

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC, as DATETIME(3) takes it and as strings sort. */
export const toDateTime = (epochMs: number): string => new Date(epochMs).toISOString().replace("T", " ").slice(0, 23)

const chunks = <A>(rows: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size))
  return out
}

const sortedBy = <A>(rows: Iterable<A>, key: (a: A) => string): Array<A> =>
  // One global order of keys: concurrent windows lock shared rows in the same order.
  [...rows]
    .map((row) => [key(row), row] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, row]) => row)

/** Product-days per recount statement: SQLite allows an expression tree 1,000 deep. */
const RECOUNT_CHUNK = 250

/** Writes the aggregates of one window (every statement but the offsets'). */
const writeAggregates = async (
  w: Warehouse,
  trx: KyselyTransaction<Database>,
  a: DailyAggregates,
  chunkSize: number
): Promise<void> => {
  const ref = (c: string) => sql.ref(c)
  // Type-1 attributes follow the latest event; MySQL evaluates left to right, so last_seen goes last.
  const dimensionUpdate = (attributes: ReadonlyArray<string>): UpsertSet => (inserted) => {
    const isNewer = sqlGe(inserted("last_seen"), ref("last_seen"))
    return {
      ...Object.fromEntries(attributes.map((c) => [c, w.choose(isNewer, inserted(c), ref(c))])),
      first_seen: w.least(ref("first_seen"), inserted("first_seen")),
      last_seen: w.greatest(ref("last_seen"), inserted("last_seen"))
    }
  }
  for (const rows of chunks(sortedBy(a.users.values(), (u) => u.userId), chunkSize)) {
    await w.upsert(
      trx.insertInto("dim_users").values(rows.map((u) => ({
        user_id: u.userId,
        name: u.name,
        email: u.email,
        country: u.country,
        city: u.city,
        first_seen: toDateTime(u.firstSeen),
        last_seen: toDateTime(u.lastSeen)
      }))),
      ["user_id"],
      dimensionUpdate(["name", "email", "country", "city"])
    ).execute()
  }
  for (const rows of chunks(sortedBy(a.paymentMethods.values(), (p) => p.paymentMethodId), chunkSize)) {
    await w.upsert(
      trx.insertInto("dim_payment_methods").values(rows.map((p) => ({
        payment_method_id: p.paymentMethodId,
        name: p.name,
        category: p.category,
        first_seen: toDateTime(p.firstSeen),
        last_seen: toDateTime(p.lastSeen)
      }))),
      ["payment_method_id"],
      dimensionUpdate(["name", "category"])
    ).execute()
  }
  const add = (inserted: (c: string) => Expression<any>, ...columns: ReadonlyArray<string>) =>
    Object.fromEntries(columns.map((c) => [c, sqlAdd(ref(c), inserted(c))]))
  const addMoney = (inserted: (c: string) => Expression<any>, column: string) => ({ [column]: w.addMoney(ref(column), inserted(column)) })
  const userDays = sortedBy(a.userDays(), (f) => `${f.userId}\u0000${f.transactionType}\u0000${f.day}`)
  for (const rows of chunks(userDays, chunkSize)) {
    await w.upsert(
      trx.insertInto("fact_user_transaction_summary").values(rows.map((f) => ({
        user_id: f.userId,
        transaction_type: f.transactionType,
        snapshot_date: f.day,
        total_amount: centsToDecimal(f.totalCents),
        transaction_count: f.count
      }))),
      ["user_id", "transaction_type", "snapshot_date"],
      (inserted) => ({ ...addMoney(inserted, "total_amount"), ...add(inserted, "transaction_count") })
    ).execute()
    await w.upsert(
      trx.insertInto("fact_user_transaction_summary_eur").values(rows.map((f) => ({
        user_id: f.userId,
        transaction_type: f.transactionType,
        snapshot_date: f.day,
        total_amount_eur: centsToDecimal(f.totalEurCents),
        transaction_count: f.count
      }))),
      ["user_id", "transaction_type", "snapshot_date"],
      (inserted) => ({ ...addMoney(inserted, "total_amount_eur"), ...add(inserted, "transaction_count") })
    ).execute()
  }
  for (const rows of chunks(sortedBy(a.paymentMethodDays(), (f) => `${f.paymentMethodId}\u0000${f.day}`), chunkSize)) {
    await w.upsert(
      trx.insertInto("fact_payment_method_totals").values(rows.map((f) => ({
        payment_method_id: f.paymentMethodId,
        snapshot_date: f.day,
        total_amount_eur: centsToDecimal(f.totalEurCents),
        transaction_count: f.count
      }))),
      ["payment_method_id", "snapshot_date"],
      (inserted) => ({ ...addMoney(inserted, "total_amount_eur"), ...add(inserted, "transaction_count") })
    ).execute()
  }
  const productDays = sortedBy(a.productDays(), (f) => `${f.productId}\u0000${f.day}`)
  for (const rows of chunks(productDays, chunkSize)) {
    await w.upsert(
      trx.insertInto("fact_product_purchase_counts").values(rows.map((f) => ({
        product_id: f.productId,
        snapshot_date: f.day,
        product_name: f.name,
        product_category: f.category,
        purchase_count: f.purchases,
        units_sold: typeof f.units === "bigint" ? f.units.toString() : f.units,
        total_revenue_eur: centsToDecimal(f.revenueEurCents)
      }))),
      ["product_id", "snapshot_date"],
      (inserted) => ({
        product_name: inserted("product_name"),
        product_category: inserted("product_category"),
        ...add(inserted, "purchase_count", "units_sold"),
        ...addMoney(inserted, "total_revenue_eur")
      })
    ).execute()
  }
  for (const rows of chunks(sortedBy(a.buyers(), (b) => `${b.productId}\u0000${b.day}\u0000${b.userId}`), chunkSize)) {
    await w.insertIgnore(
      trx.insertInto("product_buyers").values(rows.map((b) => ({ product_id: b.productId, snapshot_date: b.day, user_id: b.userId }))),
      ["product_id", "snapshot_date", "user_id"]
    ).execute()
  }
  // unique_buyers is recounted from product_buyers for every product and day this window touched.
  for (const rows of chunks(productDays, Math.min(chunkSize, RECOUNT_CHUNK))) {
    await trx.updateTable("fact_product_purchase_counts as f")
      .set((eb) => ({
        unique_buyers: eb.selectFrom("product_buyers as b")
          .select((s) => s.fn.countAll<number>().as("n"))
          .whereRef("b.product_id", "=", "f.product_id")
          .whereRef("b.snapshot_date", "=", "f.snapshot_date")
      }))
      .where((eb) => eb.or(rows.map((r) => eb.and([eb("f.product_id", "=", r.productId), eb("f.snapshot_date", "=", r.day)]))))
      .execute()
  }
  for (const rows of chunks(sortedBy(a.rates, (r) => `${r.currency}\u0000${r.validFrom}`), chunkSize)) {
    await w.insertIgnore(
      trx.insertInto("dim_exchange_rates").values(rows.map((r) => ({ currency: r.currency, valid_from: toDateTime(r.validFrom), rate_to_eur: r.rateToEur }))),
      ["currency", "valid_from"]
    ).execute()
  }
}

const sqlGe = (a: Expression<any>, b: Expression<any>) => sql`${a} >= ${b}`
const sqlAdd = (a: Expression<any>, b: Expression<any>) => sql`${a} + ${b}`

/** What the warehouse sink of a topic writes, and where. */
export const warehouseTargets = (topic: string, where: string): Array<SinkTarget> => [{
  name: "daily facts and dimensions",
  location: where,
  input: records<EurTransaction>(topic),
  aggregation: "per window: users and payment methods (latest attributes), facts per user, type and day, per payment method and day, per product and day (exact buyers)"
}]

export const makeWarehouseSink = (
  warehouse: Warehouse,
  topic: string,
  options: WarehouseSinkOptions
): Sink<EurTransaction> => {
  // The next offset per source partition (`<topic id>/<partition>`), as this writer last saw it.
  const next = new Map<string, number | undefined>()
  const db = warehouse.db
  const keyOf = (sp: SourcePartition) => `${sp.topicId}/${sp.partition}`
  const row = (sp: SourcePartition) => ({ consumer_group: options.group, topic, topic_id: sp.topicId, partition: sp.partition, sink: SINK })

  const fail = (partition: number) => (e: WarehouseError) =>
    new SinkError({ sink: SINK, topic, partition, reason: e.message, cause: e })

  /** Deadlocks, lock waits and a lost server are waited out; anything else stops the service. */
  const patiently = <A, E extends { readonly _tag: string; readonly message: string }>(what: string, effect: Effect.Effect<A, E>) =>
    waitOut(what, effect, (e) => e._tag === "WarehouseError" && (e as unknown as WarehouseError).retryable, options.outage)

  const position: Sink<EurTransaction>["position"] = (sp) =>
    patiently(
      `warehouse: read offsets of ${topic}/${sp.partition}`,
      Effect.tryPromise({
        try: () => {
          const k = row(sp)
          return db.selectFrom("sluice_offsets").select(["next_offset", "decisions_version"])
            .where("consumer_group", "=", k.consumer_group).where("topic", "=", k.topic).where("topic_id", "=", k.topic_id)
            .where("partition", "=", k.partition).where("sink", "=", k.sink)
            .executeTakeFirst()
        },
        catch: (cause) => warehouse.toError(`read offsets of ${topic}/${sp.partition}`, cause)
      })
    ).pipe(
      Effect.map((r): SinkPosition => {
        if (r === undefined) return { next: undefined, furthest: undefined }
        const offset = Number(r.next_offset)
        return { next: offset, furthest: { next: offset, decisions: r.decisions_version === null ? undefined : Number(r.decisions_version) } }
      }),
      Effect.mapError(fail(sp.partition))
    )

  const recover: Sink<EurTransaction>["recover"] = (sp) =>
    Effect.tap(position(sp), (p) => Effect.sync(() => next.set(keyOf(sp), p.next)))

  /** A window's transaction waiting for its turn, and where its outcome goes. */
  interface Pending {
    readonly sp: SourcePartition
    readonly expected: number | undefined
    readonly from: number
    readonly to: number
    readonly decisions: number
    readonly aggregates: DailyAggregates
    readonly outcome: Deferred.Deferred<void, Fence | WarehouseError>
  }
  // Windows waiting for the transaction in progress to end: the next transaction carries them all.
  const waiting: Array<Pending> = []
  const turn = Semaphore.makeUnsafe(1)

  /**
   * One transaction for the windows of `group` (one per partition): it locks their offsets rows,
   * leaves out (fenced) each window whose row is not what its writer expected, adds the others'
   * aggregates together, advances their offsets and commits. A failed ROLLBACK (the connection is
   * gone) never hides the error that caused it.
   */
  const commitGroup = (group: ReadonlyArray<Pending>) =>
    Effect.gen(function*() {
      const now = toDateTime(yield* Clock.currentTimeMillis)
      const span = group.length === 1
        ? `${topic}/${group[0]!.sp.partition} offsets ${group[0]!.from}..${group[0]!.to}`
        : `${topic}: ${group.map((w) => `${w.sp.partition}:${w.from}..${w.to}`).join(", ")}`
      const accepted = yield* Effect.tryPromise({
        try: async () => {
          const trx = await db.startTransaction().setIsolationLevel("read committed").execute()
          try {
            const rows = await warehouse.forUpdate(
              trx.selectFrom("sluice_offsets").select(["topic_id", "partition", "next_offset"])
                .where("consumer_group", "=", options.group).where("topic", "=", topic).where("sink", "=", SINK)
                .where((eb) => eb.or(group.map((w) => eb.and([eb("topic_id", "=", w.sp.topicId), eb("partition", "=", w.sp.partition)]))))
            ).execute()
            const found = new Map(rows.map((r) => [`${r.topic_id}/${r.partition}`, Number(r.next_offset)]))
            const accepted: Array<Pending> = []
            for (const w of group) {
              const current = found.get(keyOf(w.sp))
              if (current !== w.expected) {
                Deferred.doneUnsafe(w.outcome, Effect.fail(new Fence({ expected: w.expected, found: current })))
                continue
              }
              if (current === undefined) {
                // Claims the partition: of two first writers, the second fails on the primary key.
                const claimed = await trx.insertInto("sluice_offsets").values({ ...row(w.sp), next_offset: w.from, decisions_version: w.decisions, updated_at: now }).execute()
                  .then(() => true, (e: unknown) => (warehouse.isDuplicateKey(e) ? false : Promise.reject(e)))
                if (!claimed) {
                  Deferred.doneUnsafe(w.outcome, Effect.fail(new Fence({ expected: w.expected, found: w.from })))
                  continue
                }
              }
              accepted.push(w)
            }
            if (accepted.length > 0) {
              let aggregates = accepted[0]!.aggregates
              if (accepted.length > 1) {
                aggregates = new DailyAggregates()
                for (const w of accepted) aggregates.absorb(w.aggregates)
              }
              await writeAggregates(warehouse, trx, aggregates, options.chunkSize)
              crashNow("warehouse:before-commit")
              for (const w of accepted) {
                const k = row(w.sp)
                await trx.updateTable("sluice_offsets").set({ next_offset: w.to + 1, decisions_version: w.decisions, updated_at: now })
                  .where("consumer_group", "=", k.consumer_group).where("topic", "=", k.topic).where("topic_id", "=", k.topic_id)
                  .where("partition", "=", k.partition).where("sink", "=", k.sink)
                  .execute()
              }
            }
            await trx.commit().execute()
            return accepted
          } catch (e) {
            await trx.rollback().execute().catch(() => undefined)
            throw e
          }
        },
        catch: (cause) => warehouse.toError(`write ${span}`, cause)
      })
      for (const w of accepted) Deferred.doneUnsafe(w.outcome, Effect.void)
    }).pipe(
      // A failed transaction fails every window it carried: each is retried (or stops the service) on its own.
      Effect.onExit((exit) =>
        Effect.sync(() => {
          for (const w of group) {
            if (!Deferred.isDoneUnsafe(w.outcome)) Deferred.doneUnsafe(w.outcome, exit._tag === "Failure" ? Effect.failCause(exit.cause) : Effect.die("warehouse commit ended without an outcome"))
          }
        })
      )
    )

  /**
   * One attempt at a window's transaction. Windows of other partitions that wait meanwhile share
   * the next transaction: one commit and no row-lock waits between partitions, however many there
   * are. Not interrupted once queued: a revoked partition's commit either lands before the revoke
   * returns or never starts.
   */
  const commit = (sp: SourcePartition, expected: number | undefined, from: number, to: number, decisions: number, aggregates: DailyAggregates) =>
    Effect.uninterruptible(Effect.gen(function*() {
      const mine: Pending = { sp, expected, from, to, decisions, aggregates, outcome: yield* Deferred.make<void, Fence | WarehouseError>() }
      waiting.push(mine)
      yield* turn.withPermits(1)(Effect.suspend(() => {
        // Another window's transaction carried this one while it waited.
        if (Deferred.isDoneUnsafe(mine.outcome)) return Effect.void
        // At most one window per partition in a transaction: a second one checks against the first.
        waiting.splice(waiting.indexOf(mine), 1)
        const group = [mine]
        const partitions = new Set([keyOf(sp)])
        for (let i = 0; i < waiting.length; i++) {
          const w = waiting[i]!
          if (partitions.has(keyOf(w.sp))) continue
          partitions.add(keyOf(w.sp))
          group.push(w)
          waiting.splice(i--, 1)
        }
        return commitGroup(group)
      }))
      return yield* Deferred.await(mine.outcome)
    }))

  const open: Sink<EurTransaction>["open"] = (sp, from, decisions) =>
    Effect.gen(function*() {
      if (!next.has(keyOf(sp))) {
        return yield* new SinkError({ sink: SINK, topic, partition: sp.partition, reason: "window opened before recover" })
      }
      // While the previous window's commit is in flight, `next` still lags behind `from`; it is
      // only ahead of it right after recovery, when nothing is in flight.
      const opened = next.get(keyOf(sp))
      const start = opened === undefined ? from : Math.max(from, opened)
      // Aggregated as records arrive: the window never holds the transactions themselves.
      const aggregates = new DailyAggregates()
      const window: SinkWindow<EurTransaction> = {
        add: (record) => {
          if (record.offset >= start) aggregates.add(record.value)
        },
        addDeadLetter: () => undefined,
        commit: (to) =>
          Effect.suspend(() => {
            // Read now: the windows before this one have committed by the time it commits.
            const expected = next.get(keyOf(sp))
            if (expected !== undefined && start > expected) {
              return Effect.fail(new SinkError({ sink: SINK, topic, partition: sp.partition, reason: `offsets ${expected}..${start - 1} were never written (window starts at ${start})` }))
            }
            if (to < start) return Effect.void
            let attempts = 0
            const attempt = Effect.suspend(() => {
              attempts++
              return commit(sp, expected, start, to, decisions.version, aggregates)
            })
            return patiently(`warehouse: commit ${topic}/${sp.partition} ${start}..${to}`, attempt).pipe(
              Effect.catchTag("Fence", (f) =>
                // After a failed attempt, an offsets row at exactly this window's end means that
                // attempt's COMMIT landed though its answer was lost.
                attempts > 1 && f.found === to + 1
                  ? Effect.void
                  : Effect.fail(
                    new SinkFenced({
                      sink: SINK,
                      topic,
                      partition: sp.partition,
                      detail: f.found === undefined && f.expected !== undefined
                        ? `its offsets row is gone (expected ${f.expected})`
                        : `sluice_offsets holds ${f.found ?? "no row"}, this writer expected ${f.expected ?? "no row"}`
                    })
                  )),
              Effect.mapError((e) => (e._tag === "WarehouseError" ? fail(sp.partition)(e) : e)),
              Effect.andThen(Effect.sync(() => {
                crashNow("warehouse:after-commit")
                next.set(keyOf(sp), to + 1)
              }))
            )
          })
      }
      return window
    })

  const saveDecisions: Sink<EurTransaction>["saveDecisions"] = (version, content) =>
    Effect.gen(function*() {
      const now = toDateTime(yield* Clock.currentTimeMillis)
      yield* patiently(
        "warehouse: save decisions",
        Effect.tryPromise({
          try: () => warehouse.insertIgnore(db.insertInto("sluice_decisions").values({ version, content, created_at: now }), ["version"]).execute(),
          catch: (cause) => warehouse.toError("save decisions", cause)
        })
      )
    }).pipe(Effect.mapError(fail(-1)))

  const loadDecisions: Sink<EurTransaction>["loadDecisions"] = (version) =>
    patiently(
      "warehouse: read decisions",
      Effect.tryPromise({
        try: () => db.selectFrom("sluice_decisions").select("content").where("version", "=", version).executeTakeFirst(),
        catch: (cause) => warehouse.toError("read decisions", cause)
      })
    ).pipe(
      Effect.map((r) => Option.fromNullishOr(r?.content)),
      Effect.mapError(fail(-1))
    )

  const targets = warehouseTargets(topic, warehouse.description)

  return { name: SINK, targets, position, recover, open, saveDecisions, loadDecisions }
}
