import { Effect, Logger, References, Result } from "effect"
import { TestClock } from "effect/testing"
import { afterEach, describe, expect, it, vi } from "vitest"
import { jsonLine, jsonLogger } from "../../src/ops/Logging.ts"
import type { Decisions } from "../../src/topology/Decisions.ts"
import { makeRecordingSink, makeTestDriver } from "../../src/topology/TestDriver.ts"

afterEach(() => {
  vi.restoreAllMocks()
})

/** Runs `program` with the JSON logger and returns the lines it wrote to stdout, parsed. */
const logged = async (program: Effect.Effect<void>) => {
  const lines: Array<string> = []
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk))
    return true
  })
  await Effect.runPromise(program.pipe(Effect.provide(Logger.layer([jsonLogger]))))
  vi.restoreAllMocks()
  return lines.map((l) => {
    expect(l.endsWith("\n") && !l.slice(0, -1).includes("\n")).toBe(true)
    return JSON.parse(l) as Record<string, unknown>
  })
}

describe("the JSON log format", () => {
  it("writes one object per line with time, level, message and the runtime's annotations", async () => {
    const lines = await logged(
      Effect.logWarning("t/3: lake commit failed; retrying").pipe(
        Effect.annotateLogs({ feed: "transaction_stream", offsets: "100..199" }),
        Effect.annotateLogs({ topic: "t", partition: 3 })
      )
    )
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: "warn", message: "t/3: lake commit failed; retrying", topic: "t", partition: 3, feed: "transaction_stream", offsets: "100..199" })
    expect(Date.parse(String(lines[0]!.time))).toBeGreaterThan(0)
  })

  it("redacts a MySQL password in messages, annotations and causes", async () => {
    const url = "mysql://root:s3cret-pw@db.example:3306/sluice"
    const lines = await logged(
      Effect.logError(`cannot connect to ${url}`, new Error(`refused by ${url}`)).pipe(Effect.annotateLogs({ target: url }))
    )
    const text = JSON.stringify(lines)
    expect(text).not.toContain("s3cret-pw")
    expect(lines[0]).toMatchObject({ level: "error", message: "cannot connect to mysql://root:***@db.example:3306/sluice refused by mysql://root:***@db.example:3306/sluice" })
    expect(lines[0]!.target).toBe("mysql://root:***@db.example:3306/sluice")
  })

  it("keeps a multi-line message in one line of JSON", () => {
    const line = jsonLine({ date: new Date(0), level: "Info", message: ["a\nb", { n: 1 }], annotations: {} })
    expect(line).toBe("{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"info\",\"message\":\"a\\nb { n: 1 }\"}")
  })
})

describe("the runtime's log annotations", () => {
  it("name the topic and partition of a partition's task, and the offsets of the window a commit logs about", async () => {
    const seen: Array<{ message: unknown; annotations: Record<string, unknown> }> = []
    const collector = Logger.make(({ fiber, message }) => {
      seen.push({ message, annotations: { ...fiber.getRef(References.CurrentLogAnnotations) } })
    })
    const decisions: Decisions<string> = { version: 1, content: "{}", decode: (j) => Result.succeed(String(j)), policy: { maxMessageBytes: 1024 }, state: undefined, summary: "" }
    const sink = makeRecordingSink<string>("a", { beforeWrite: () => Effect.logWarning("writing") })
    await Effect.runPromise(Effect.gen(function*() {
      const driver = yield* makeTestDriver(
        { flows: [{ topic: "t", decisions: { current: () => decisions, restore: () => decisions }, sinks: [sink] }], window: { maxRecords: 5, maxBytes: 1 << 20, maxAgeMs: 1_000 } },
        new Map([["t", 2]])
      )
      yield* driver.pipe("t", 1, ["\"a\"", "\"b\"", "\"c\"", "\"d\"", "\"e\""])
      yield* driver.assign([{ topic: "t", partition: 1 }])
      yield* driver.advance(100)
      yield* driver.drain
    }).pipe(Effect.scoped, Effect.provide(TestClock.layer()), Effect.provide(Logger.layer([collector]))))
    const assigned = seen.find((l) => String(l.message).includes("assigned, resuming"))
    expect(assigned?.annotations).toEqual({ topic: "t", partition: 1 })
    expect(seen.find((l) => String(l.message) === "writing")?.annotations).toEqual({ topic: "t", partition: 1, offsets: "0..4" })
  })
})
