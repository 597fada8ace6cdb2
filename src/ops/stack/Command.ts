/**
 * Runs a short-lived command of the local stack (mvn, Kafka's StorageTool) to completion and keeps
 * the tail of its output, so that a failure can be reported in one line with its last words.
 */
import { spawn } from "node:child_process"
import { Effect } from "effect"
import { StackError } from "./StackError.ts"

/** What a finished command left behind. */
export interface CommandResult {
  readonly exitCode: number
  /** stdout and stderr interleaved, the last `maxOutputChars` characters only. */
  readonly output: string
}

const maxOutputChars = 64 * 1024

/** The last `count` non-empty lines of a command's output, joined with " | " to fit one line. */
export const lastLines = (output: string, count = 5): string =>
  output
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.length > 0)
    .slice(-count)
    .join(" | ")

/**
 * Runs `command args` and succeeds with its exit code and output tail, whatever the exit code.
 * Fails only when the command cannot be started (not installed) or outlives `timeoutMs`; interrupting
 * the effect kills the command.
 */
export const runCommand = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly timeoutMs: number; readonly notFoundHint: string }
): Effect.Effect<CommandResult, StackError> =>
  Effect.callback<CommandResult, StackError>((resume) => {
    let output = ""
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-maxOutputChars)
    }
    const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] })
    child.stdout.on("data", keep)
    child.stderr.on("data", keep)
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      resume(Effect.fail(new StackError({
        message: `${command} did not finish within ${Math.round(options.timeoutMs / 1000)} s: ${lastLines(output)}`
      })))
    }, options.timeoutMs)
    child.on("error", (cause: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resume(Effect.fail(new StackError({
        message: cause.code === "ENOENT"
          ? `${command} not found: ${options.notFoundHint}`
          : `${command} could not start: ${cause.message}`,
        cause
      })))
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resume(Effect.succeed({ exitCode: code ?? (signal === null ? 1 : 128), output }))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })
