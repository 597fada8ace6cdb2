/**
 * `sluice doctor [--json]`: the checks of Doctor.ts, one line each with the fix of every problem;
 * exit 1 when any check fails (warnings pass).
 */
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { formatChecks, runDoctor } from "./Doctor.ts"
import type { SettingsShape } from "./Settings.ts"

export const doctorCommand = <E, R>(settings: Effect.Effect<SettingsShape, E, R>) =>
  Command.make(
    "doctor",
    { json: Flag.Boolean("json").pipe(Flag.withDescription("Print the checks as JSON"), Flag.withDefault(false)) },
    ({ json }) =>
      Effect.gen(function*() {
        const checks = yield* runDoctor(yield* settings)
        yield* Console.log(json ? JSON.stringify(checks, null, 2) : formatChecks(checks))
        const failed = checks.filter((c) => c.status === "fail")
        if (failed.length > 0) return yield* Effect.fail(new Error(`doctor: ${failed.length} check${failed.length === 1 ? "" : "s"} failed (${[...new Set(failed.map((c) => c.check))].join(", ")})`))
      })
  ).pipe(Command.withDescription("Check Node, Java, the broker, MySQL, the lake folder, the feed registry and the pseudonym key, with the fix of each problem"))
