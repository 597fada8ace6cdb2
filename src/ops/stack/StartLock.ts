/**
 * A lock file around starting one of the local stack's programs: two `up`s at once (two terminals,
 * two test runs) must not both start it. The file names its holder's pid, so a dead holder's lock
 * is taken over.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Console, Effect } from "effect"
import { isAlive } from "./Paths.ts"
import { StackError } from "./StackError.ts"

/** Takes the lock if free (or held by a process that no longer exists); false while another holds it. */
const tryLock = (file: string): { readonly taken: boolean; readonly holder?: number } => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  try {
    fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" })
    return { taken: true }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
  }
  const holder = Number(fs.readFileSync(file, "utf8").trim())
  if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) return { taken: false, holder }
  // Left behind by a crashed or killed `up`.
  fs.rmSync(file, { force: true })
  return tryLock(file)
}

/**
 * Runs `effect` (a start) while holding the lock `file`, waiting up to 5 minutes for another `up`
 * that holds it; `label` and `what` name the program in the lines printed ("Kafka", "the broker").
 */
export const withStartLock = <A, E, R>(
  lock: { readonly file: string; readonly label: string; readonly what: string },
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | StackError, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + 5 * 60_000
    let told = false
    for (;;) {
      const taken = yield* Effect.try({
        try: () => tryLock(lock.file),
        catch: (cause) => new StackError({ message: `Locking ${lock.file} failed: ${(cause as Error).message}`, cause })
      })
      if (taken.taken) break
      if (Date.now() > deadline) {
        return yield* new StackError({
          message: `another sluice stack up (pid ${taken.holder}) has held ${lock.file} for 5 minutes; stop it or delete the file`
        })
      }
      if (!told) yield* Console.log(`${lock.label}: another sluice stack up (pid ${taken.holder}) is starting ${lock.what}, waiting …`)
      told = true
      yield* Effect.sleep("250 millis")
    }
    return yield* effect.pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(lock.file, { force: true }))))
  })
