/**
 * `sluice compact [--feed F] [--target-file-mb 128] [--dry-run] [--json]` and `sluice retention
 * (--stream S --days D | --table T --keep-versions K) [--dry-run] [--json]`: the lake's compaction
 * and retention (src/sinks/lake/Compaction.ts, Retention.ts), each safe while the service writes.
 */
import { Clock, Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { readSnapshot } from "../sinks/lake/DeltaLog.ts"
import { expireSnapshots, expireStream } from "../sinks/lake/Retention.ts"
import { describeLake, openLake } from "./LakeChoice.ts"
import { chooseTables, compactLake, formatCompaction, formatStreamRetention, formatTableRetention, lakeTables } from "./Maintenance.ts"
import { followProgress } from "./Progress.ts"
import type { SettingsShape } from "./Settings.ts"

const json = Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON"), Flag.withDefault(false))
const dryRun = (what: string) => Flag.Boolean("dry-run").pipe(Flag.withDescription(what), Flag.withDefault(false))

export const compactCommand = <E, R>(settings: Effect.Effect<SettingsShape, E, R>) =>
  Command.make(
    "compact",
    {
      feed: Flag.String("feed").pipe(Flag.withDescription("Only this feed: its name, or its folder (streams/transaction_stream, _deadletter/<topic>)"), Flag.optional),
      targetFileMb: Flag.Finite("target-file-mb").pipe(
        Flag.withDescription("Files below this size are packed into files of up to this size"),
        Flag.filter((mb: number) => mb > 0, (mb) => `must be > 0, got ${mb}`),
        Flag.withDefault(128)
      ),
      dryRun: dryRun("Say what would be rewritten, write nothing"),
      json
    },
    (f) =>
      Effect.gen(function*() {
        const s = yield* settings
        const started = yield* Clock.currentTimeMillis
        const reports = yield* Effect.scoped(Effect.gen(function*() {
          const store = yield* openLake(s, { writes: !f.dryRun })
          const roots = chooseTables(yield* lakeTables(store), Option.getOrUndefined(f.feed))
          if (roots.length === 0) {
            return yield* Effect.fail(new Error(`--feed ${Option.getOrElse(f.feed, () => "")}: no such table in ${describeLake(s.lake, s.s3)} (sluice metadata report lists them)`))
          }
          let progress: { done: number; total: number } | undefined
          yield* followProgress("compact", () => progress)
          return yield* compactLake(store, roots, {
            targetBytes: Math.round(f.targetFileMb * 1024 * 1024),
            compression: s.compression,
            checkpointInterval: s.checkpointInterval,
            dryRun: f.dryRun
          }, (done, total) => {
            progress = { done, total }
          })
        }))
        const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
        yield* Console.log(f.json ? JSON.stringify(reports, null, 2) : formatCompaction(reports, f.dryRun, seconds))
      })
  ).pipe(Command.withDescription("Rewrite each partition's small files into few large ones, one Delta commit (OPTIMIZE, dataChange=false) per partition"))

export const retentionCommand = <E, R>(settings: Effect.Effect<SettingsShape, E, R>) =>
  Command.make(
    "retention",
    {
      stream: Flag.String("stream").pipe(Flag.withDescription("A stream (its name, or a folder such as _deadletter/<topic>) whose old day partitions go"), Flag.optional),
      days: Flag.Int("days").pipe(
        Flag.withDescription("With --stream: remove the day partitions dated before today (UTC) minus this many days"),
        Flag.filter((d: number) => d >= 0, (d) => `must be >= 0, got ${d}`),
        Flag.optional
      ),
      table: Flag.String("table").pipe(Flag.withDescription("A versioned table (tables/<name>) whose older snapshots' files go"), Flag.optional),
      keepVersions: Flag.Int("keep-versions").pipe(
        Flag.withDescription("With --table: the last snapshots whose files stay"),
        Flag.filter((k: number) => k >= 1, (k) => `must be >= 1, got ${k}`),
        Flag.optional
      ),
      dryRun: dryRun("Print what would go, with sizes; change nothing"),
      json
    },
    (f) =>
      Effect.gen(function*() {
        if (Option.isSome(f.stream) === Option.isSome(f.table)) return yield* Effect.fail(new Error("give --stream S --days D, or --table T --keep-versions K"))
        if (Option.isSome(f.stream) && Option.isNone(f.days)) return yield* Effect.fail(new Error("--stream needs --days D"))
        if (Option.isSome(f.table) && Option.isNone(f.keepVersions)) return yield* Effect.fail(new Error("--table needs --keep-versions K"))
        if (Option.isSome(f.stream) && Option.isSome(f.keepVersions)) return yield* Effect.fail(new Error("--keep-versions applies to --table; a stream's retention is --days"))
        if (Option.isSome(f.table) && Option.isSome(f.days)) return yield* Effect.fail(new Error("--days applies to --stream; a table's retention is --keep-versions"))
        const s = yield* settings
        const named = Option.isSome(f.stream) ? f.stream.value : Option.getOrElse(f.table, () => "")
        const flag = Option.isSome(f.stream) ? "--stream" : "--table"
        const text = yield* Effect.scoped(Effect.gen(function*() {
          const store = yield* openLake(s, { writes: !f.dryRun })
          const trimmed = named.replace(/^\/+|\/+$/g, "")
          const root = trimmed.includes("/") ? trimmed : `${Option.isSome(f.stream) ? "streams" : "tables"}/${trimmed}`
          if (Option.isSome(f.stream) ? root.startsWith("tables/") : !root.startsWith("tables/")) {
            return yield* Effect.fail(new Error(`${flag} ${named}: ${Option.isSome(f.stream) ? "a versioned table's retention is --table T --keep-versions K" : "a stream's retention is --stream S --days D"}`))
          }
          if ((yield* readSnapshot(store, root)).version < 0) {
            return yield* Effect.fail(new Error(`${flag} ${named}: no Delta table at ${root} in ${describeLake(s.lake, s.s3)}`))
          }
          if (Option.isSome(f.stream)) {
            const report = yield* expireStream(store, root, { days: Option.getOrElse(f.days, () => 0), dryRun: f.dryRun, checkpointInterval: s.checkpointInterval })
            return f.json ? JSON.stringify(report, null, 2) : formatStreamRetention(report, f.dryRun)
          }
          const report = yield* expireSnapshots(store, root, { keep: Option.getOrElse(f.keepVersions, () => 1), dryRun: f.dryRun })
          return f.json ? JSON.stringify(report, null, 2) : formatTableRetention(report, f.dryRun)
        }))
        yield* Console.log(text)
      })
  ).pipe(Command.withDescription("Remove a stream's day partitions older than D days (Delta remove actions), or a versioned table's files beyond its last K snapshots"))
