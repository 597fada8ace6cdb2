/**
 * `sluice metadata report [--feed F] [--csv FILE] [--json]`: per feed, what its Delta log says it
 * holds (see MetadataReport.ts), printed, as JSON, or written as a CSV file.
 */
import { writeFile } from "node:fs/promises"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { feedRegistry } from "./FeedsCommand.ts"
import { describeLake, openLake } from "./LakeChoice.ts"
import { formatReport, metadataReport, reportCsv } from "./MetadataReport.ts"
import type { SettingsShape } from "./Settings.ts"

export const metadataCommand = <E, R>(settings: Effect.Effect<SettingsShape, E, R>) => {
  const report = Command.make(
    "report",
    {
      feed: Flag.String("feed").pipe(Flag.withDescription("Only this feed: its name, or its folder (streams/transaction_stream, _deadletter/<topic>)"), Flag.optional),
      csv: Flag.String("csv").pipe(Flag.withDescription("Also write the report to this CSV file"), Flag.optional),
      json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON"), Flag.withDefault(false))
    },
    (f) =>
      Effect.gen(function*() {
        const s = yield* settings
        let reports = yield* Effect.scoped(Effect.gen(function*() {
          const store = yield* openLake(s, { writes: false })
          const listing = yield* feedRegistry(store).list
          return yield* metadataReport(store, [...listing.active, ...listing.archived])
        }))
        if (Option.isSome(f.feed)) {
          const wanted = f.feed.value.replace(/^\/+|\/+$/g, "")
          reports = reports.filter((r) => r.folder === wanted || r.feed === wanted)
          if (reports.length === 0) return yield* Effect.fail(new Error(`--feed ${f.feed.value}: no such feed in ${describeLake(s.lake, s.s3)} (sluice feeds list shows them)`))
        }
        if (Option.isSome(f.csv)) {
          const file = f.csv.value
          yield* Effect.tryPromise({ try: () => writeFile(file, reportCsv(reports)), catch: (e) => new Error(`--csv ${file}: ${(e as Error).message}`) })
        }
        if (f.json) yield* Console.log(JSON.stringify(reports, null, 2))
        else yield* Console.log(formatReport(reports))
        if (Option.isSome(f.csv)) yield* Console.error(`wrote ${reports.length} feeds to ${f.csv.value}`)
      })
  ).pipe(Command.withDescription("Per feed: rows, files, bytes, partitions, first and last event time, last commit and committed offsets, from the Delta logs"))

  return Command.make("metadata").pipe(
    Command.withSubcommands([report]),
    Command.withDescription("What the lake's feeds hold, read from their Delta logs")
  )
}
