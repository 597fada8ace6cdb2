/**
 * Runs one benchmark process under GNU time, so that its CPU seconds and peak RSS come from the
 * kernel's rusage of the child (and whatever it waited for), with its wall time and output.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

/** What a finished process cost. */
export interface Measured {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  /** Spawn to exit, as seen from here. */
  readonly wallMs: number
  readonly userSeconds: number
  readonly systemSeconds: number
  /** user + system, of the process and the children it waited for. */
  readonly cpuSeconds: number
  /** Peak resident set size of the largest process in the tree (rusage ru_maxrss). */
  readonly peakRssMB: number
  readonly output: string
  /** "rusage" from GNU time, or "sampled" from /proc every 100 ms where /usr/bin/time is missing. */
  readonly measuredBy: "rusage" | "sampled"
}

/** A process started by `spawnMeasured`. */
export interface MeasuredProcess {
  /** The pid of the measured program itself (not of GNU time). */
  readonly pid: () => Promise<number>
  /** Everything printed so far, stdout and stderr interleaved. */
  readonly output: () => string
  /** Resolves once `pattern` matches the output at least `times` times. */
  readonly waitFor: (pattern: RegExp, options?: { readonly times?: number; readonly timeoutMs?: number }) => Promise<void>
  /** Sends a signal to the measured program (GNU time would die of SIGTERM itself and orphan it). */
  readonly signal: (signal: NodeJS.Signals) => Promise<void>
  readonly done: Promise<Measured>
}

export interface SpawnOptions {
  readonly env?: Record<string, string | undefined>
  readonly cwd?: string
  /** Killed (SIGKILL) after this long, and `done` rejects. */
  readonly timeoutMs: number
  /** Echo the output to our stderr, prefixed, as it arrives. */
  readonly echo?: string
}

const TIME = "/usr/bin/time"

/** CPU seconds (utime + stime at 100 ticks/s) and peak RSS (VmHWM) of a live process, from /proc. */
const sampleProc = (pid: number): { userSeconds: number; systemSeconds: number; peakRssMB: number } | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
    return { userSeconds: Number(fields[11]) / 100, systemSeconds: Number(fields[12]) / 100, peakRssMB: Number(hwm ?? 0) / 1024 }
  } catch {
    return undefined
  }
}

/** The child of `parent`, found in /proc (this kernel has no /proc/<pid>/task/<tid>/children). */
const childOf = (parent: number): number | undefined => {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      // The command name is in parentheses and may hold spaces: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(fields[1]) === parent) return Number(entry)
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined
}

const countMatches = (text: string, pattern: RegExp): number => {
  const global = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : pattern.flags + "g")
  return [...text.matchAll(global)].length
}

/**
 * Starts `command args…` under `/usr/bin/time` (the Debian package `time`); without it (or with
 * SLUICE_BENCH_SAMPLED=1), the process itself, sampled from /proc: the CPU of its last 100 ms is then
 * missed. See `Measured`.
 */
export const spawnMeasured = (command: string, args: ReadonlyArray<string>, options: SpawnOptions): MeasuredProcess => {
  const gnuTime = existsSync(TIME) && process.env["SLUICE_BENCH_SAMPLED"] !== "1"
  const dir = mkdtempSync(path.join(tmpdir(), "sluice-bench-time-"))
  const timeFile = path.join(dir, "rusage")
  const startedAt = performance.now()
  const child = gnuTime
    ? spawn(TIME, ["-f", "%e %U %S %M", "-o", timeFile, command, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    : spawn(command, [...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] })
  let sampled: ReturnType<typeof sampleProc>
  const sampler = gnuTime || child.pid === undefined
    ? undefined
    : setInterval(() => (sampled = sampleProc(child.pid!) ?? sampled), 100)
  let text = ""
  let partial = ""
  const listeners = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    const s = chunk.toString("utf8")
    text += s
    if (options.echo !== undefined) {
      const lines = (partial + s).split("\n")
      partial = lines.pop() ?? ""
      for (const line of lines) process.stderr.write(`  ${options.echo}| ${line}\n`)
    }
    for (const l of listeners) l()
  }
  child.stdout.on("data", onData)
  child.stderr.on("data", onData)

  let timedOut = false
  let closed = false
  const timer = setTimeout(() => {
    timedOut = true
    void pid().then((p) => process.kill(p, "SIGKILL")).catch(() => child.kill("SIGKILL"))
  }, options.timeoutMs)

  const done = new Promise<Measured>((resolve, reject) => {
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(new Error(`cannot start ${TIME} ${command}: ${e.message}`))
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      if (sampler !== undefined) clearInterval(sampler)
      closed = true
      const wallMs = performance.now() - startedAt
      for (const l of listeners) l()
      let rusage = ""
      try {
        rusage = readFileSync(timeFile, "utf8")
      } catch {
        // GNU time was killed before writing: reported below.
      }
      rmSync(dir, { recursive: true, force: true })
      if (timedOut) {
        return reject(new Error(`${path.basename(command)} ${args.join(" ")} did not finish within ${options.timeoutMs / 1000} s:\n${tail(text)}`))
      }
      if (!gnuTime) {
        return resolve({
          exitCode: code,
          signal,
          wallMs,
          userSeconds: sampled?.userSeconds ?? 0,
          systemSeconds: sampled?.systemSeconds ?? 0,
          cpuSeconds: (sampled?.userSeconds ?? 0) + (sampled?.systemSeconds ?? 0),
          peakRssMB: sampled?.peakRssMB ?? 0,
          output: text,
          measuredBy: "sampled"
        })
      }
      // "Command exited with non-zero status N" may precede the figures; they are on the last line.
      const last = rusage.trim().split("\n").at(-1) ?? ""
      const m = /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/.exec(last)
      if (m === null) return reject(new Error(`no rusage from ${TIME} for ${command} (exit ${code ?? signal}):\n${tail(text)}`))
      const exited = /Command (?:exited with non-zero status (\d+)|terminated by signal (\d+))/.exec(rusage)
      const userSeconds = Number(m[2])
      const systemSeconds = Number(m[3])
      resolve({
        exitCode: exited?.[1] !== undefined ? Number(exited[1]) : exited?.[2] !== undefined ? null : code,
        signal: exited?.[2] !== undefined ? (`SIG${exited[2]}` as NodeJS.Signals) : signal,
        wallMs,
        userSeconds,
        systemSeconds,
        cpuSeconds: userSeconds + systemSeconds,
        peakRssMB: Number(m[4]) / 1024,
        output: text,
        measuredBy: "rusage"
      })
    })
  })

  let cachedPid: number | undefined
  const pid = async (): Promise<number> => {
    if (cachedPid !== undefined) return cachedPid
    if (!gnuTime && child.pid !== undefined) return (cachedPid = child.pid)
    for (let i = 0; i < 200; i++) {
      const found = child.pid === undefined ? undefined : childOf(child.pid)
      if (found !== undefined) return (cachedPid = found)
      await new Promise((r) => setTimeout(r, 10))
    }
    throw new Error(`cannot find the process ${TIME} started for ${command}`)
  }

  const waitFor: MeasuredProcess["waitFor"] = (pattern, o = {}) =>
    new Promise<void>((resolve, reject) => {
      const times = o.times ?? 1
      const check = () => {
        if (countMatches(text, pattern) >= times) {
          cleanup()
          resolve()
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out waiting for ${pattern} ×${times} in:\n${tail(text)}`))
      }, o.timeoutMs ?? 60_000)
      const onExit = () => {
        cleanup()
        if (countMatches(text, pattern) >= times) resolve()
        else reject(new Error(`${path.basename(command)} exited before ${pattern} ×${times}:\n${tail(text)}`))
      }
      const cleanup = () => {
        clearTimeout(timer)
        listeners.delete(check)
        child.off("close", onExit)
      }
      if (closed) return onExit()
      listeners.add(check)
      child.on("close", onExit)
      check()
    })

  return {
    pid,
    output: () => text,
    waitFor,
    signal: async (signal) => {
      process.kill(await pid(), signal)
    },
    done
  }
}

/** The last lines of an output, for error messages. */
export const tail = (text: string, lines = 25): string => text.trimEnd().split("\n").slice(-lines).join("\n")
