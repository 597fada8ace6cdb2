/**
 * How the CLI writes its logs: readable lines on a terminal (the default), or with
 * SLUICE_LOG_FORMAT=json one JSON object per line for log shippers; passwords redacted in both.
 */
import { inspect } from "node:util"
import { Cause, Config, Console, Layer, Logger, References } from "effect"
import { redactSecrets } from "../sinks/warehouse/ConnectionUrl.ts"

export type LogFormat = "text" | "json"

/** SLUICE_LOG_FORMAT: `text` (the default) or `json`, one object per line. */
export const logFormat = Config.Literals(["text", "json"] as const, "SLUICE_LOG_FORMAT").pipe(Config.withDefault("text" as const))

/** The annotations the runtime puts on its logs, written as fields of a JSON line. */
export const LOG_FIELDS = ["topic", "partition", "feed", "offsets"] as const

const clock = (date: Date) =>
  `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}:${String(date.getSeconds()).padStart(2, "0")}.${String(date.getMilliseconds()).padStart(3, "0")}`

const partText = (part: unknown): string =>
  typeof part === "string" ? part : part instanceof Error ? part.message : inspect(part, { depth: 4, breakLength: Infinity })

/** One JSON log line: time, level, message, the runtime's annotations (topic, partition, feed, offsets) and the cause. */
export const jsonLine = (entry: {
  readonly date: Date
  readonly level: string
  readonly message: unknown
  readonly annotations: Readonly<Record<string, unknown>>
  readonly cause?: string | undefined
}): string => {
  const parts = Array.isArray(entry.message) ? entry.message : [entry.message]
  const line: Record<string, unknown> = {
    time: entry.date.toISOString(),
    level: entry.level.toLowerCase(),
    message: redactSecrets(parts.map(partText).join(" "))
  }
  for (const [key, value] of Object.entries(entry.annotations)) line[key] = typeof value === "string" ? redactSecrets(value) : value
  if (entry.cause !== undefined) line.cause = redactSecrets(entry.cause)
  return JSON.stringify(line)
}

/** Writes each log entry as one JSON line on stdout. */
export const jsonLogger = Logger.make<unknown, void>(({ cause, date, fiber, logLevel, message }) => {
  process.stdout.write(
    `${
      jsonLine({
        date,
        level: logLevel,
        message,
        annotations: fiber.getRef(References.CurrentLogAnnotations),
        cause: cause.reasons.length > 0 ? Cause.pretty(cause) : undefined
      })
    }\n`
  )
})

/**
 * Effect's default line (`[hh:mm:ss.mmm] LEVEL (#fiber): message`) without the annotations, which
 * the runtime's messages already spell out (`topic/partition: …`).
 */
export const textLogger = Logger.make<unknown, void>(({ cause, date, fiber, logLevel, message }) => {
  const parts = Array.isArray(message) ? [...message] : [message]
  if (cause.reasons.length > 0) parts.push(Cause.pretty(cause))
  const console = fiber.getRef(Console.Console)
  console.log(`[${clock(date)}] ${logLevel.toUpperCase()} (#${fiber.id}):`, ...parts.map((p) => (typeof p === "string" ? redactSecrets(p) : p)))
})

/** The loggers for a format. */
export const loggerLayer = (format: LogFormat) => Logger.layer([format === "json" ? jsonLogger : textLogger])

/**
 * In JSON format, a command's own output lines (a service's start-up lines and summary) become
 * JSON lines too, so that a log shipper reading its stdout sees nothing else.
 */
export const jsonConsole = (): Console.Console =>
  Object.assign(Object.create(globalThis.console) as Console.Console, {
    log: (...args: ReadonlyArray<unknown>) => process.stdout.write(`${jsonLine({ date: new Date(), level: "info", message: args, annotations: {} })}\n`),
    error: (...args: ReadonlyArray<unknown>) => process.stdout.write(`${jsonLine({ date: new Date(), level: "error", message: args, annotations: {} })}\n`)
  })

/** `run`'s console in JSON format; the others print as they do. */
export const consoleLayer = (format: LogFormat) => format === "json" ? Layer.succeed(Console.Console, jsonConsole()) : Layer.empty
