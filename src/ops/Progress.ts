/**
 * Progress of a long command on a terminal (messages done and left, rate, ETA), one bar on
 * stderr; nothing when stderr is not a terminal or under CI, so pipes and logs stay clean.
 */
import { SingleBar } from "cli-progress"
import { Effect, type Scope } from "effect"

/** Whether progress is shown: stderr is a terminal and `CI` is unset (or `false`/`0`). */
export const progressWanted = (
  isTTY: boolean | undefined = process.stderr.isTTY,
  env: { readonly CI?: string | undefined } = process.env
): boolean => isTTY === true && (env.CI === undefined || env.CI === "" || env.CI === "false" || env.CI === "0")

/** Messages per second since the start, and seconds left at that rate (undefined while unknown). */
export const rateAndEta = (done: number, total: number, elapsedMs: number): { readonly rate: number; readonly etaSeconds: number | undefined } => {
  const rate = elapsedMs <= 0 ? 0 : done / (elapsedMs / 1000)
  const left = Math.max(0, total - done)
  return { rate, etaSeconds: left === 0 ? 0 : rate > 0 ? left / rate : undefined }
}

/** `3725` → `1h 02m`, `65` → `1m 05s`, `7` → `7s`; `?` when unknown. */
export const formatDuration = (seconds: number | undefined): string => {
  if (seconds === undefined || !Number.isFinite(seconds)) return "?"
  const s = Math.round(seconds)
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`
  return `${s}s`
}

export interface Progress {
  /** `done` of `total` so far (the total may grow, as a topic's end does). */
  readonly update: (done: number, total: number) => void
  readonly stop: () => void
}

const silent: Progress = { update: () => {}, stop: () => {} }

/** A bar labelled `label`, or nothing at all when `shown` is false. */
export const startProgress = (label: string, shown: boolean = progressWanted()): Progress => {
  if (!shown) return silent
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total} | {left} left | {rate} msg/s | ETA {etaText}`,
    hideCursor: true,
    stream: process.stderr
  })
  // The rate counts from the first figures, not from the start-up before them.
  let startedAt = 0
  let startedWith = 0
  let started = false
  return {
    update: (done, total) => {
      if (!started) {
        startedAt = Date.now()
        startedWith = done
      }
      const { rate, etaSeconds } = rateAndEta(done - startedWith, total - startedWith, Date.now() - startedAt)
      const payload = { rate: Math.round(rate).toLocaleString("en-US"), left: Math.max(0, total - done).toLocaleString("en-US"), etaText: formatDuration(etaSeconds) }
      if (!started) {
        bar.start(Math.max(total, 1), done, payload)
        started = true
      } else {
        bar.setTotal(Math.max(total, 1))
        bar.update(done, payload)
      }
    },
    stop: () => {
      if (started) bar.stop()
    }
  }
}

/**
 * While the scope is open, redraws a bar every 250 ms from `read` (undefined while the total is
 * unknown); the bar is removed when the scope closes.
 */
export const followProgress = (
  label: string,
  read: () => { readonly done: number; readonly total: number } | undefined,
  shown: boolean = progressWanted()
): Effect.Effect<void, never, Scope.Scope> => {
  if (!shown) return Effect.void
  let last: { readonly done: number; readonly total: number } | undefined
  return Effect.acquireRelease(Effect.sync(() => startProgress(label, true)), (p) => Effect.sync(() => p.stop())).pipe(
    Effect.flatMap((p) =>
      Effect.forkScoped(
        Effect.forever(
          Effect.sync(() => {
            const now = read()
            // Once everything is done the bar stays as it was, its rate that of the work.
            if (now !== undefined && !(now.done === now.total && now.done === last?.done)) p.update(now.done, now.total)
            last = now ?? last
          }).pipe(Effect.andThen(Effect.sleep("250 millis")))
        )
      )
    ),
    Effect.asVoid
  )
}
