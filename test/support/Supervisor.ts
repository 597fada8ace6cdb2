/**
 * Keeps a `sluice` command running the way a process supervisor does: a process that exits
 * non-zero (or dies of a signal) is started again after a short delay, and every exit is recorded.
 */
import { type SluiceProcess, spawnSluice } from "./Sluice.ts"

/** How one process of a supervised command ended. */
export interface SupervisedExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Milliseconds since the epoch. */
  readonly at: number
  /** True when the exit followed a signal sent through the supervisor (`kill`, `terminate`, `stop`). */
  readonly planned: boolean
  /** The last `sluice: …` reason the process printed, if any. */
  readonly reason: string | undefined
}

export interface Supervised {
  /** The process running now (undefined between an exit and its restart, and once stopped). */
  readonly current: () => SluiceProcess | undefined
  /** How many processes were started so far. */
  readonly starts: () => number
  readonly exits: () => ReadonlyArray<SupervisedExit>
  /** Everything every process printed, each process's output headed by its number. */
  readonly output: () => string
  /** How many times `pattern` occurs in the output of every process so far. */
  readonly count: (pattern: RegExp) => number
  /**
   * Resolves once `pattern` occurred `atLeast` times in all (default: once more than now, i.e. its
   * next occurrence, in the current process or a later one).
   */
  readonly waitFor: (pattern: RegExp, options?: { readonly atLeast?: number; readonly timeoutMs?: number }) => Promise<void>
  /** Sends `signal` to the current process; an exit it causes counts as planned and is restarted. */
  readonly kill: (signal: NodeJS.Signals) => boolean
  /** SIGSTOP to the current process (it stays alive, frozen); returns its pid, if one runs. */
  readonly freeze: () => number | undefined
  /** SIGCONT to a process frozen by `freeze`. */
  readonly thaw: (pid: number) => void
  /**
   * SIGTERM to the current process and waits for its exit (a drain); the supervisor does not
   * restart it: call `start` for that. Resolves with the exit and how long it took.
   */
  readonly terminate: (timeoutMs: number) => Promise<{ readonly exit: SupervisedExit | undefined; readonly ms: number }>
  /** Starts a process now if none runs (after `terminate`, or after a clean exit). */
  readonly start: () => void
  /** Stops supervising: SIGTERM, then SIGKILL after `graceMs`; resolves once no process runs. */
  readonly stop: (graceMs?: number) => Promise<void>
}

export interface SuperviseOptions {
  /** Wait before restarting a process that exited non-zero. */
  readonly restartDelayMs: number
  /** Called with each process's lines as they are printed (for a live log), prefixed by nothing. */
  readonly onLine?: (line: string) => void
  /** The processes' working folder (default: the project's). */
  readonly cwd?: string
}

const reasonOf = (text: string): string | undefined => text.split("\n").filter((l) => l.startsWith("sluice: ")).at(-1)

/**
 * Starts `sluice args…` with `env` at once and keeps it running until `stop`; `args` may depend on
 * the process's number (0 for the first), e.g. a new seed for a restarted load generator.
 */
export const supervise = (
  args: ReadonlyArray<string> | ((start: number) => ReadonlyArray<string>),
  env: Record<string, string | undefined>,
  options: SuperviseOptions
): Supervised => {
  const processes: Array<{ readonly process: SluiceProcess; readonly startedAt: number }> = []
  const exits: Array<SupervisedExit> = []
  let current: SluiceProcess | undefined
  let signalled = false
  let holding = false
  let stopping = false
  let restartTimer: NodeJS.Timeout | undefined
  const waiters: Array<{ readonly pattern: RegExp; readonly atLeast: number; readonly resolve: () => void }> = []

  const count = (pattern: RegExp): number => {
    const global = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : pattern.flags + "g")
    return processes.reduce((n, p) => n + [...p.process.output().matchAll(global)].length, 0)
  }

  const check = () => {
    for (const w of waiters.splice(0)) {
      if (count(w.pattern) >= w.atLeast) w.resolve()
      else waiters.push(w)
    }
  }

  const launch = () => {
    restartTimer = undefined
    if (stopping || current !== undefined) return
    const child = spawnSluice(typeof args === "function" ? args(processes.length) : args, env, options.cwd === undefined ? {} : { cwd: options.cwd })
    const entry = { process: child, startedAt: Date.now() }
    processes.push(entry)
    current = child
    signalled = false
    let seen = 0
    const onData = () => {
      const text = child.output()
      if (options.onLine) {
        const complete = text.lastIndexOf("\n") + 1
        for (const line of text.slice(seen, complete).split("\n")) if (line !== "") options.onLine(line)
        seen = Math.max(seen, complete)
      }
      check()
    }
    child.child.stdout!.on("data", onData)
    child.child.stderr!.on("data", onData)
    void child.exited.then(({ code, signal }) => {
      exits.push({ code, signal, at: Date.now(), planned: signalled, reason: reasonOf(child.output()) })
      if (current === child) current = undefined
      check()
      if (stopping || holding || code === 0) return
      restartTimer = setTimeout(launch, options.restartDelayMs)
    })
  }

  /** True once `child` exited, false after `timeoutMs` (a timer that keeps nothing alive). */
  const waitForExit = (child: SluiceProcess, timeoutMs: number) =>
    Promise.race([child.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref())])

  launch()
  return {
    current: () => current,
    starts: () => processes.length,
    exits: () => exits,
    output: () => processes.map((p, i) => `--- process ${i + 1} (started ${new Date(p.startedAt).toISOString()})\n${p.process.output()}`).join("\n"),
    count,
    waitFor: (pattern, { atLeast = count(pattern) + 1, timeoutMs = 60_000 } = {}) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          const index = waiters.findIndex((w) => w.resolve === done)
          if (index >= 0) waiters.splice(index, 1)
          reject(new Error(`${pattern} did not occur ${atLeast} times within ${timeoutMs} ms; last output:\n${processes.at(-1)?.process.output().slice(-2_000) ?? "(none)"}`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          resolve()
        }
        waiters.push({ pattern, atLeast, resolve: done })
        check()
      }),
    kill: (signal) => {
      if (current === undefined) return false
      signalled = true
      return current.child.kill(signal)
    },
    freeze: () => {
      const pid = current?.child.pid
      if (pid !== undefined) process.kill(pid, "SIGSTOP")
      return pid
    },
    thaw: (pid) => {
      try {
        process.kill(pid, "SIGCONT")
      } catch {
        // It exited meanwhile (a frozen process can still be killed).
      }
    },
    terminate: async (timeoutMs) => {
      const child = current
      if (child === undefined) return { exit: undefined, ms: 0 }
      holding = true
      signalled = true
      const startedAt = Date.now()
      child.child.kill("SIGTERM")
      const ended = await waitForExit(child, timeoutMs)
      if (!ended) {
        child.child.kill("SIGKILL")
        await child.exited
      }
      return { exit: exits.at(-1), ms: ended ? Date.now() - startedAt : Number.POSITIVE_INFINITY }
    },
    start: () => {
      holding = false
      if (restartTimer === undefined) launch()
    },
    stop: async (graceMs = 30_000) => {
      stopping = true
      if (restartTimer !== undefined) clearTimeout(restartTimer)
      const child = current
      if (child === undefined) return
      signalled = true
      child.child.kill("SIGTERM")
      // A frozen process handles SIGTERM only once it runs again.
      child.child.kill("SIGCONT")
      if (!(await waitForExit(child, graceMs))) {
        child.child.kill("SIGKILL")
        await child.exited
      }
    }
  }
}
