/**
 * `sluice query [--as EMAIL] [--json] "SQL"`: one SELECT over the lake's feeds as named views,
 * printed as a table or JSON. With `--as`, the user's grants in the warehouse decide which feeds
 * the query may read; without it, the operator reads them all.
 */
import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import type { Json } from "@duckdb/node-api"
import { feedRegistry } from "./FeedsCommand.ts"
import { openLake } from "./LakeChoice.ts"
import { lakeFiles } from "./LakeFiles.ts"
import { lakeViews, type QueryUser, runQuery } from "./Query.ts"
import { asFlag, readDecisions, readerEmail } from "./Reader.ts"
import type { SettingsShape } from "./Settings.ts"
import { formatCount, formatTable } from "./TextTable.ts"

/** A value as a table cell: NULL, text as it is, nested values as JSON. */
const cell = (v: Json): string => (v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : String(v))

export const queryCommand = <E, R>(settings: Effect.Effect<SettingsShape, E, R>) =>
  Command.make(
    "query",
    {
      as: asFlag("Run"),
      json: Flag.Boolean("json").pipe(Flag.withDescription("Print the rows as a JSON array of objects"), Flag.withDefault(false)),
      sql: Argument.String("sql").pipe(Argument.withDescription('One SELECT, e.g. "SELECT status, count(*) FROM transaction_stream GROUP BY ALL"'))
    },
    (f) =>
      Effect.scoped(Effect.gen(function*() {
        const s = yield* settings
        const store = yield* openLake(s, { writes: false })
        const listing = yield* feedRegistry(store).list
        const views = yield* lakeViews(store, [...listing.active, ...listing.archived])
        const email = yield* readerEmail(f.as)
        const user: QueryUser | undefined = email === undefined ? undefined : yield* Effect.flatten(readDecisions(s, email))
        const result = yield* runQuery({ views, files: yield* lakeFiles(store), sql: f.sql, user })
        if (f.json) {
          yield* Console.log(JSON.stringify(result.rows.map((r) => Object.fromEntries(result.columns.map((c, i) => [c.name, r[i]!]))), null, 2))
        } else {
          yield* Console.log(formatTable(result.columns.map((c) => c.name), result.rows.map((r) => r.map(cell))))
          yield* Console.log(`(${formatCount(result.rows.length)} row${result.rows.length === 1 ? "" : "s"})`)
        }
      }))
  ).pipe(
    Command.withDescription(
      "Query the lake with DuckDB: one SELECT over the feeds as views (streams.<feed> or <feed>, tables.<table> or <table>, _deadletter.<topic>), each at its table's latest version"
    )
  )
