/**
 * Named points in the sinks' commit protocols where the exactly-once tests kill the process.
 * `SLUICE_CRASH_AT=<point>[@n]` sends SIGKILL to ourselves the n-th time (default first) the point is reached.
 */
import { Effect } from "effect"

export type CrashPointName =
  | "lake:after-temp-write"
  | "lake:after-data-write"
  | "lake:after-log-commit"
  | "warehouse:before-commit"
  | "warehouse:after-commit"
  | "kafka:before-commit"
  | "kafka:after-commit"
  | "snapshot:after-write"
  | "snapshot:after-commit"

let target: string | undefined
let remaining = 1

/** Arms the crash point a setting names (`<point>[@n]`), or none when it is undefined. */
export const armCrashPoint = (setting: string | undefined): void => {
  const [name, nth] = setting?.trim() ? setting.trim().split("@") : [undefined, undefined]
  target = name
  remaining = nth === undefined ? 1 : Math.max(1, Number(nth))
}

/** Whether a crash point is armed (only the exactly-once tests arm one). */
export const crashArmed = (): boolean => target !== undefined

/** Kills the process with SIGKILL when the configured crash point is reached; a no-op otherwise. */
export const crashNow = (name: CrashPointName): void => {
  if (target !== name) return
  remaining -= 1
  if (remaining === 0) {
    process.stderr.write(`crash point ${name} reached: SIGKILL\n`)
    process.kill(process.pid, "SIGKILL")
  }
}

/** `crashNow` as an effect. */
export const crashPoint = (name: CrashPointName): Effect.Effect<void> => Effect.sync(() => crashNow(name))
