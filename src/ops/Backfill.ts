/**
 * `sluice backfill`: writes to the lake what it lacks of UTC days of the transaction topic, one day
 * at a time (a day's records are what it holds in memory). For each day: the
 * day's offsets come from Kafka's ListOffsets by timestamp; each feed takes from those records the
 * rows the service would have written (decoded and decided with the decisions its last commit
 * recorded), and the offsets at or below what the feed committed that its files do not hold are
 * written as one commit per feed and partition. Offsets past the commit are the running service's.
 * The commit re-checks the log as it lands: a file committed meanwhile that may hold those offsets
 * (another backfill's) refuses it, and the gaps are read again; so nothing is ever doubled.
 */
import { Data, Effect, Option, Result } from "effect"
import { civilFromDays, DAY_MS, daysFromCivil, isoDay } from "../domain/CivilDate.ts"
import type { Add } from "../sinks/lake/DeltaAction.ts"
import type { DeltaSnapshot } from "../sinks/lake/DeltaLog.ts"
import { decisionsFile, feedRows } from "../sinks/lake/LakeSink.ts"
import { type LakeTable, openLakeTable, TOPIC_ID_TAG } from "../sinks/lake/LakeTable.ts"
import { makeParquetEncoder } from "../sinks/lake/ParquetEncoder.ts"
import { joinKey, textOf } from "../sinks/lake/store/Store.ts"
import { decisionsAppId, offsetsAppId } from "../sinks/lake/TxnAppId.ts"
import type { Decisions } from "../topology/Decisions.ts"
import { formatVersion } from "../topology/Decisions.ts"
import { decodeRecord } from "../topology/Decode.ts"
import type { DeadLetter, Decoded, SourcePartition, SourceRecord } from "../topology/Record.ts"
import { offsetsForTimes, type OffsetRange, readOffsetRanges } from "../topology/TopicReader.ts"
import type { EurTransaction } from "../domain/ExchangeRate.ts"
import { loadAnonymizationKey } from "./AnonymizationKey.ts"
import { withDuckDb } from "./DuckDb.ts"
import { topicId as currentTopicId } from "./KafkaAdmin.ts"
import { openLake } from "./LakeChoice.ts"
import { lakeFiles } from "./LakeFiles.ts"
import { followProgress } from "./Progress.ts"
import type { SettingsShape } from "./Settings.ts"
import { formatCount, formatTable } from "./TextTable.ts"
import { restoreTransactionDecisions, transactionFeeds, transactionProcessors, type TransactionState } from "./TransactionFlow.ts"
import { lakeOffsets } from "./Verify.ts"

/** The command was given what it cannot backfill: a malformed date, a stream it does not cover. */
export class BackfillInputError extends Data.TaggedError("BackfillInputError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** What one feed was given. */
export interface FeedBackfill {
  /** The table, relative to the lake (`streams/transaction_stream`). */
  readonly table: string
  /** Rows the day's records make for this feed at offsets it committed. */
  readonly rows: number
  /** Of those, the rows its files already held. */
  readonly present: number
  /** The rows written now: `rows - present`. */
  readonly written: number
  readonly files: number
  readonly commits: number
  /** Commits refused because rows of theirs were committed meanwhile, and read again. */
  readonly conflicts: number
  /** The day's records past the feed's committed offsets: the running service writes them. */
  readonly leftToService: number
}

export interface BackfillReport {
  readonly topic: string
  readonly topicId: string
  readonly date: string
  /** Per partition, the offsets ListOffsets gave for the day (to excluded). */
  readonly ranges: ReadonlyArray<OffsetRange>
  /** Records read in those ranges whose Kafka timestamp lies in the day. */
  readonly records: number
  readonly feeds: ReadonlyArray<FeedBackfill>
  readonly elapsedMs: number
}

/** The start (epoch ms, UTC) of a `YYYY-MM-DD` day; a reason, naming `flag`, when the text is not a calendar date. */
export const parseDay = (text: string, flag = "--date"): Result.Result<number, string> => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (m === null) return Result.fail(`${flag} ${text}: expected a UTC day as YYYY-MM-DD`)
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const days = daysFromCivil(year, month, day)
  const back = civilFromDays(days)
  if (back.year !== year || back.month !== month || back.day !== day) return Result.fail(`${flag} ${text}: no such day`)
  return Result.succeed(days * DAY_MS)
}

/** The longest range one command backfills: a year, so that a mistyped year is refused, not read for hours. */
export const MAX_DAYS = 366

/** The `YYYY-MM-DD` days from `from` to `to`, both included; a one-line reason when the range is not one. */
export const dayRange = (from: string, to: string): Result.Result<ReadonlyArray<string>, string> => {
  const start = parseDay(from, "--from")
  if (Result.isFailure(start)) return Result.fail(start.failure)
  const end = parseDay(to, "--to")
  if (Result.isFailure(end)) return Result.fail(end.failure)
  if (end.success < start.success) return Result.fail(`--to ${to} is before --from ${from}`)
  const count = (end.success - start.success) / DAY_MS + 1
  if (count > MAX_DAYS) return Result.fail(`--from ${from} --to ${to}: ${count} days, more than ${MAX_DAYS} in one run`)
  return Result.succeed(Array.from({ length: count }, (_, i) => isoDay(start.success / DAY_MS + i)))
}

/** Whether a live file may hold offsets `lo..hi` of a partition of this topic incarnation, by its tag and statistics. */
const mayHold = (add: Add, topicId: string, partition: number, lo: number, hi: number): boolean => {
  const tag = add.tags?.[TOPIC_ID_TAG]
  if (tag !== undefined && tag !== topicId) return false
  if (!add.stats) return true
  const stats = JSON.parse(add.stats) as { minValues?: Record<string, unknown>; maxValues?: Record<string, unknown> }
  const num = (v: unknown) => (typeof v === "number" ? v : undefined)
  const pMin = num(stats.minValues?._kafka_partition)
  const pMax = num(stats.maxValues?._kafka_partition)
  const oMin = num(stats.minValues?._kafka_offset)
  const oMax = num(stats.maxValues?._kafka_offset)
  // Without statistics a file may hold anything.
  if (pMin === undefined || pMax === undefined || oMin === undefined || oMax === undefined) return true
  return pMin <= partition && partition <= pMax && oMin <= hi && oMax >= lo
}

const MAX_ATTEMPTS = 10

interface Row {
  readonly offset: number
  readonly row: unknown
}

/** Backfills `options.date` of `options.stream`; the stream must be the settings' transaction topic. */
export const backfill = (settings: SettingsShape, options: { readonly stream: string; readonly date: string; readonly progress: boolean }) =>
  Effect.gen(function*() {
    const started = Date.now()
    const topic = settings.topic
    if (options.stream !== topic) {
      return yield* new BackfillInputError({
        reason: `--stream ${options.stream}: only the transaction topic's feeds are backfilled, and it is ${topic} here (SLUICE_TOPIC)`
      })
    }
    const dayStart = parseDay(options.date)
    if (Result.isFailure(dayStart)) return yield* new BackfillInputError({ reason: dayStart.failure })
    const id = yield* currentTopicId(settings.brokers, topic)
    if (id === undefined) return yield* new BackfillInputError({ reason: `--stream ${topic}: no such topic on ${settings.brokers.join(",")}` })
    const key = yield* loadAnonymizationKey({ key: settings.anonymizationKey, file: settings.anonymizationKeyFile })
    const feeds = transactionFeeds(topic, transactionProcessors(topic, key.key))

    // The day's records, per partition, in offset order.
    const ranges = yield* offsetsForTimes(settings.brokers, topic, dayStart.success, dayStart.success + DAY_MS)
    const byPartition = new Map<number, Array<SourceRecord>>(ranges.map((r) => [r.partition, []]))
    let passed = 0
    const total = ranges.reduce((n, r) => n + r.to - r.from, 0)
    yield* Effect.scoped(Effect.gen(function*() {
      yield* followProgress(`backfill ${options.date}: read`, () => ({ done: passed, total }), options.progress)
      yield* readOffsetRanges(settings.brokers, topic, ranges, (partition, records) => {
        const list = byPartition.get(partition)!
        for (const r of records) if (r.timestamp >= dayStart.success && r.timestamp < dayStart.success + DAY_MS) list.push(r)
        passed += records.length
      })
      passed = total
    }))
    const records = [...byPartition.values()].reduce((n, l) => n + l.length, 0)

    const reports = yield* withDuckDb((db) =>
      Effect.scoped(Effect.gen(function*() {
        const store = yield* openLake(settings, { writes: true })
        const files = yield* lakeFiles(store)
        const encoder = yield* makeParquetEncoder(settings.encodeWorkers)
        const tables: Array<LakeTable<any>> = yield* Effect.forEach(feeds, (feed) =>
          openLakeTable<any>(feed, { store, compression: settings.compression, checkpointInterval: settings.checkpointInterval, encoder }))

        // Decisions by version, and each partition's records decoded with them, read once for every feed.
        const decisionsByVersion = new Map<number, Decisions<EurTransaction, TransactionState>>()
        const decisionsOf = (version: number) =>
          Effect.gen(function*() {
            const known = decisionsByVersion.get(version)
            if (known !== undefined) return known
            const content = yield* store.get(decisionsFile(version))
            if (Option.isNone(content)) {
              return yield* new BackfillInputError({ reason: `${store.locate(decisionsFile(version))} is missing: the decisions of ${topic}'s commits cannot be rebuilt` })
            }
            const decisions = restoreTransactionDecisions(textOf(content.value))
            decisionsByVersion.set(version, decisions)
            return decisions
          })
        const decoded = new Map<string, Array<Decoded<EurTransaction> | DeadLetter>>()
        const decodedOf = (partition: number, decisions: Decisions<EurTransaction, TransactionState>) => {
          const cacheKey = `${partition}/${decisions.version}`
          let list = decoded.get(cacheKey)
          if (list === undefined) {
            list = byPartition.get(partition)!.map((r) => decodeRecord(topic, partition, r, decisions.decode, decisions.policy))
            decoded.set(cacheKey, list)
          }
          return list
        }

        // Progress in records checked against a table: each record once per table.
        let filled = 0
        yield* followProgress(`backfill ${options.date}: fill`, () => ({ done: filled, total: records * tables.length }), options.progress)

        return yield* Effect.forEach(tables, (table) =>
          Effect.gen(function*() {
            const rowsOf = feedRows<EurTransaction>(table.feed)
            const report = { table: table.root, rows: 0, present: 0, written: 0, files: 0, commits: 0, conflicts: 0, leftToService: 0 }
            for (const { partition } of ranges) {
              const sp: SourcePartition = { topic, topicId: id, partition }
              for (let attempt = 1;; attempt++) {
                const snapshot: DeltaSnapshot = yield* table.snapshot
                const last = snapshot.txns.get(offsetsAppId(table.feed.name, sp))
                const version = snapshot.txns.get(decisionsAppId(table.feed.name, sp))
                const records = byPartition.get(partition)!
                const past = last === undefined ? records.length : records.filter((r) => r.offset > last).length
                if (last === undefined || version === undefined || past === records.length) {
                  report.leftToService += past
                  break
                }
                const decisions = yield* decisionsOf(version)
                const rows: Array<Row> = []
                for (const item of decodedOf(partition, decisions)) {
                  if (item.offset > last) break
                  const row = rowsOf.rowOf(item, decisions)
                  if (row !== undefined) rows.push({ offset: item.offset, row })
                }
                if (rows.length === 0) {
                  report.leftToService += past
                  break
                }
                const lo = rows[0]!.offset
                const hi = rows[rows.length - 1]!.offset
                const candidates = [...snapshot.files.values()].filter((a) => mayHold(a, id, partition, lo, hi))
                const present = new Set(yield* lakeOffsets(db, yield* files.paths(candidates.map((a) => joinKey(table.root, a.path))), partition, lo, hi))
                const gaps = rows.filter((r) => !present.has(r.offset))
                if (gaps.length === 0) {
                  report.rows += rows.length
                  report.present += rows.length
                  report.leftToService += past
                  break
                }
                const from = gaps[0]!.offset
                const to = gaps[gaps.length - 1]!.offset
                // At the commit: any file committed since this snapshot that may hold these offsets refuses it.
                const known = new Set(snapshot.files.keys())
                const check = (now: DeltaSnapshot) => {
                  for (const [path, add] of now.files) {
                    if (!known.has(path) && mayHold(add, id, partition, from, to)) {
                      return `${path}, committed since the gaps of ${topic}/${partition} ${from}..${to} were read, may hold some of them`
                    }
                  }
                  return undefined
                }
                const parts = rowsOf.parts(gaps.map((g) => g.row))
                const landed = yield* table.fill({ sp, from, to, parts, check }).pipe(
                  Effect.as(true),
                  Effect.catchTag("Conflict", (e) =>
                    attempt < MAX_ATTEMPTS
                      ? Effect.logInfo(`backfill: ${e.message}; reading the gaps again`).pipe(Effect.as(false))
                      : Effect.fail(e))
                )
                if (!landed) {
                  report.conflicts++
                  continue
                }
                report.rows += rows.length
                report.present += rows.length - gaps.length
                report.written += gaps.length
                report.files += parts.length
                report.commits++
                report.leftToService += past
                yield* Effect.logInfo(`backfill: ${table.root} ${topic}/${partition}: ${gaps.length} rows of offsets ${from}..${to} written (decisions ${formatVersion(version)})`)
                break
              }
              filled += byPartition.get(partition)!.length
            }
            return report satisfies FeedBackfill
          }))
      }))
    )
    return { topic, topicId: id, date: options.date, ranges, records, feeds: reports, elapsedMs: Date.now() - started } satisfies BackfillReport
  })

export interface BackfillRangeReport {
  readonly topic: string
  readonly from: string
  readonly to: string
  /** One report per day, in order. */
  readonly days: ReadonlyArray<BackfillReport>
  readonly elapsedMs: number
}

/** Backfills the days `from` to `to` (both included) one after the other, each as `backfill` does one. */
export const backfillRange = (settings: SettingsShape, options: { readonly stream: string; readonly from: string; readonly to: string; readonly progress: boolean }) =>
  Effect.gen(function*() {
    const started = Date.now()
    const dates = dayRange(options.from, options.to)
    if (Result.isFailure(dates)) return yield* new BackfillInputError({ reason: dates.failure })
    const days = yield* Effect.forEach(dates.success, (date) => backfill(settings, { stream: options.stream, date, progress: options.progress }))
    return { topic: settings.topic, from: options.from, to: options.to, days, elapsedMs: Date.now() - started } satisfies BackfillRangeReport
  })

/** Each day's report in turn (a day without records in one line), and a line of totals. */
export const formatBackfillRange = (r: BackfillRangeReport): string => {
  const written = r.days.reduce((n, d) => n + d.feeds.reduce((m, f) => m + f.written, 0), 0)
  const commits = r.days.reduce((n, d) => n + d.feeds.reduce((m, f) => m + f.commits, 0), 0)
  const records = r.days.reduce((n, d) => n + d.records, 0)
  return [
    ...r.days.map((d) => d.records === 0 ? `backfill ${d.topic} ${d.date}: no record stamped on the day` : formatBackfill(d)),
    `backfill ${r.topic} ${r.from}..${r.to}: ${r.days.length} days, ${formatCount(records)} records, ${formatCount(written)} rows written in ${commits} commits in ${(r.elapsedMs / 1000).toFixed(1)} s`
  ].join("\n")
}

/** The report as a table, one row per feed, and a line of totals. */
export const formatBackfill = (r: BackfillReport): string => {
  const written = r.feeds.reduce((n, f) => n + f.written, 0)
  const offsets = r.ranges.filter((x) => x.to > x.from).map((x) => `${x.partition}:${x.from}..${x.to - 1}`).join(" ") || "none"
  return [
    `backfill ${r.topic} ${r.date}: ${formatCount(r.records)} records of the day (offsets ${offsets})`,
    formatTable(
      ["table", "rows", "present", "written", "files", "commits", "conflicts", "left to the service"],
      r.feeds.map((f) => [f.table, formatCount(f.rows), formatCount(f.present), formatCount(f.written), String(f.files), String(f.commits), String(f.conflicts), formatCount(f.leftToService)])
    ),
    r.records === 0
      ? `nothing to write: ${r.topic} holds no record stamped on ${r.date} (${(r.elapsedMs / 1000).toFixed(1)} s)`
      : written === 0
      ? `nothing to write: the lake holds every row of ${r.date} below its committed offsets (${(r.elapsedMs / 1000).toFixed(1)} s)`
      : `wrote ${formatCount(written)} rows in ${r.feeds.reduce((n, f) => n + f.commits, 0)} commits in ${(r.elapsedMs / 1000).toFixed(1)} s`
  ].join("\n")
}
