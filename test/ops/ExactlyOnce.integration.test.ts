/**
 * Exactly-once, proven: transactions (1% malformed) over 4 partitions; `sluice run` is killed with
 * SIGKILL at each named point of the lake's commit protocol and at random moments, restarted each
 * time, and at the end every offset is in the lake exactly once. The same on a lake in a local
 * folder and on one in an S3 bucket (the stack's S3Proxy), where no temporary file exists to die
 * after and each object appears whole once its PUT returns.
 */
import { Effect } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { dataFiles, liveRelation } from "../support/Lake.ts"
import { killAtRandomMoments, runSluice, runToCrashPoints, type Sandbox, sandbox } from "../support/Sluice.ts"

const s3 = inject("s3")

const lakes = [
  {
    lake: "a local folder",
    messages: 200_000,
    s3: undefined,
    crashPoints: ["lake:after-temp-write@3", "lake:after-data-write@5", "lake:after-log-commit@4"]
  },
  {
    lake: "an S3 bucket",
    // Fewer messages: every object goes through HTTP to a server on this same 2-core machine.
    messages: 100_000,
    s3,
    crashPoints: ["lake:after-data-write@5", "lake:after-log-commit@4"]
  }
] as const

describe.each(lakes)("sluice run under SIGKILL, with the lake in $lake", ({ lake, messages, s3: server, crashPoints }) => {
  const skip = lake === "an S3 bucket" && server === null
  let box: Sandbox | undefined
  afterAll(() => box?.cleanup())

  it.skipIf(skip)("lands every produced message exactly once in the lake", async () => {
    box = sandbox("eo", inject("kafkaBrokers"), {
      SLUICE_WINDOW_MAX_RECORDS: "4000",
      SLUICE_WINDOW_MAX_AGE_MS: "1000",
      SLUICE_CHECKPOINT_INTERVAL: "5"
    }, undefined, { s3: server })
    const { topic, env } = box
    const produced = await runSluice(
      ["produce", "--topic", topic, "--messages", String(messages), "--partitions", "4", "--bad-ratio", "0.01", "--seed", "7"],
      env
    )
    expect(produced.code, produced.output).toBe(0)
    const malformed = Number(/\(([\d,]+) malformed\)/.exec(produced.output)![1]!.replaceAll(",", ""))
    expect(malformed).toBeGreaterThan(messages / 200)

    // Each named point of the commit protocol, reached a few windows in; then random moments.
    await runToCrashPoints(env, crashPoints)
    await killAtRandomMoments(env, 3, 2_500)

    const last = await runSluice(["run", "--until-idle", "2000"], env)
    expect(last.code, last.output).toBe(0)

    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
    expect(verify.output).toContain("verify: OK")

    const reader = await box.reader()
    const stream = await liveRelation(reader, "streams/transaction_stream")
    const dead = await liveRelation(reader, `_deadletter/${topic}`)
    const flattened = await liveRelation(reader, "streams/transaction_flattened")
    const [counts] = await Effect.runPromise(withDuckDb((db) =>
      db.query(`
        WITH lake AS (
          SELECT _kafka_partition AS p, _kafka_offset AS o FROM ${stream}
          UNION ALL
          SELECT _kafka_partition, _kafka_offset FROM ${dead}
        )
        SELECT count(*) AS total, count(DISTINCT (p, o)) AS distinct_offsets,
               (SELECT count(*) FROM ${dead}) AS dead,
               (SELECT count(*) FROM ${flattened}) AS flattened
        FROM lake`)))
    expect(counts).toEqual({ total: BigInt(messages), distinct_offsets: BigInt(messages), dead: BigInt(malformed), flattened: BigInt(messages - malformed) })

    // Files the crashed writers left and no commit names go with vacuum; then the folders hold exactly the tables.
    const vacuum = await runSluice(["vacuum", "--retain-hours", "0"], env)
    expect(vacuum.code, vacuum.output).toBe(0)
    const files = await dataFiles(reader, "streams/transaction_stream")
    const [globbed] = await Effect.runPromise(withDuckDb((db) =>
      db.query(`SELECT count(*) AS n FROM read_parquet([${files.map((f) => `'${f}'`).join(", ")}])`)))
    expect(globbed).toEqual({ n: BigInt(messages - malformed) })
  })
})
