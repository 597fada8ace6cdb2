/**
 * The lake's snapshots (its aggregate tables, the sales tables and windows), and the short-lived
 * process `run` takes them in, so that what DuckDB and the allocator keep is handed back when it ends.
 */
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Data, Effect, Layer } from "effect"
import { armCrashPoint, crashArmed } from "../sinks/CrashPoint.ts"
import type { Store } from "../sinks/lake/store/Store.ts"
import { openLake } from "./LakeChoice.ts"
import { logFormat, loggerLayer } from "./Logging.ts"
import { loadSettings, type SettingsShape } from "./Settings.ts"
import { runMain } from "./Signals.ts"
import { takeSnapshots } from "./TableSnapshots.ts"
import { updateVenteTables } from "./VenteTables.ts"

/**
 * One snapshot of everything the lake derives from its streams: the four aggregate tables (and their
 * publication when configured), then the sales tables and the windows every watermark has closed.
 */
export const snapshotLake = (settings: SettingsShape, lake: Store) => {
  const ventes = settings.ventes
  return takeSnapshots(
    { store: lake, keep: settings.snapshotKeep },
    settings.publish.includes("tables") ? { brokers: settings.brokers, group: settings.group, prefix: settings.publishPrefix } : undefined
  ).pipe(
    Effect.andThen(ventes === undefined ? Effect.void : updateVenteTables({
      brokers: settings.brokers,
      store: lake,
      topic: ventes.topic,
      keep: settings.snapshotKeep,
      watermarkDelayMs: ventes.watermarkMs,
      windowMs: ventes.windowMs
    }).pipe(Effect.tap((w) =>
      Effect.logInfo(
        `snapshot: ${w.snapshots.map((t) => `tables/${t.table} v${t.snapshot} (${t.rows.toLocaleString("en-US")} rows)`).join(", ")}; ` +
          `streams/ventes_fenetres: ${w.windows} windows closed` +
          (w.watermarkMs === undefined ? " (a partition has no sale yet)" : ` (watermark ${new Date(w.watermarkMs).toISOString()})`)
      )
    ), Effect.catchTag("Fenced", (e) => Effect.logInfo(`snapshot: another instance took the sales tables first (${e.message})`))))
  )
}

/** A snapshot process that did not end well. @category errors */
export class SnapshotProcessError extends Data.TaggedError("SnapshotProcessError")<{ readonly reason: string }> {
  override get message(): string {
    return `snapshot process: ${this.reason}`
  }
}

/** What a snapshot process tells the service before it exits. */
interface SnapshotProcessReport {
  /** Its peak resident set size (getrusage's ru_maxrss), in kB. */
  readonly maxRssKb: number
}

/** The peak RSS of the snapshot processes this service started, in kB (0 before the first). */
let snapshotProcessesMaxRssKb = 0

/** The largest peak RSS of the snapshot processes started so far, in MB (0 when none ran). */
export const snapshotProcessesPeakRssMb = (): number => snapshotProcessesMaxRssKb / 1024

/**
 * `snapshotLake`, in a process of its own, for the settings of `run`: the lake, brokers and group as
 * resolved (flags included) are handed over in its environment; the rest it reads as `run` did.
 * DuckDB holds some 100–250 MB while it aggregates a large lake, which glibc does not hand back to
 * the system: taken inside the service, that stayed on top of the windows for the life of the process.
 * Interrupted, the process is asked to stop (SIGTERM) and waited for, so that two snapshots never run
 * at once. A crash point reached in it kills the service too, as when the snapshot ran inside it.
 */
export const snapshotInProcess = (settings: SettingsShape): Effect.Effect<void, SnapshotProcessError> =>
  Effect.callback<void, SnapshotProcessError>((resume) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, SLUICE_LAKE_URL: settings.lake.url, KAFKA_BROKERS: settings.brokers.join(","), SLUICE_GROUP: settings.group },
      // Its own heap flags: the service's were given by re-executing itself (bin/sluice.js).
      execArgv: [...process.execArgv.filter((a) => !a.startsWith("--max-semi-space-size")), "--max-semi-space-size=4"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      // Its own process group: a Ctrl-C at the terminal asks the service to drain, which then stops
      // this process itself (below) rather than have the signal cut its snapshot short.
      detached: true
    })
    child.on("message", (message: SnapshotProcessReport) => {
      snapshotProcessesMaxRssKb = Math.max(snapshotProcessesMaxRssKb, message.maxRssKb)
    })
    child.on("error", (cause) => resume(Effect.fail(new SnapshotProcessError({ reason: `could not start: ${cause.message}` }))))
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL" && crashArmed()) process.kill(process.pid, "SIGKILL")
      resume(code === 0 ? Effect.void : Effect.fail(new SnapshotProcessError({ reason: signal === null ? `exited ${code}` : `killed by ${signal}` })))
    })
    return Effect.suspend(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      return Effect.callback<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done(Effect.void)
        child.once("close", () => done(Effect.void))
      })
    })
  })

/** `run`'s last line on memory: its own peak RSS and that of its snapshot processes (when any ran), in MB. */
export const formatPeakRss = (serviceMb: number, snapshotMb: number): string =>
  `peak RSS: ${Math.round(serviceMb)} MB${snapshotMb > 0 ? `, snapshot process ${Math.round(snapshotMb)} MB` : ""}`

// The snapshot process itself: the settings from the environment `snapshotInProcess` gave it; its
// peak RSS goes to the service before it exits. It ends when the service does (its channel closes).
if (import.meta.main) {
  process.on("disconnect", () => process.kill(process.pid, "SIGKILL"))
  Effect.gen(function*() {
    const settings = yield* loadSettings
    armCrashPoint(settings.crashAt)
    yield* Effect.scoped(Effect.flatMap(openLake(settings, { writes: true }), (lake) => snapshotLake(settings, lake)))
  }).pipe(
    Effect.tapCause((cause) => Effect.logError("snapshot process failed", cause)),
    Effect.ensuring(Effect.promise(() =>
      new Promise<void>((resolve) => {
        const report: SnapshotProcessReport = { maxRssKb: process.resourceUsage().maxRSS }
        if (process.send === undefined || !process.connected) return resolve()
        process.send(report, () => resolve())
      })
    )),
    Effect.provide(Layer.unwrap(Effect.gen(function*() {
      return loggerLayer(yield* logFormat)
    }))),
    runMain({ disableErrorReporting: true })
  )
}
