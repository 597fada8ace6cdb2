/**
 * Exactly-once, proven: 200,000 transactions (1% malformed) over 4 partitions; `sluice run` is
 * killed with SIGKILL at each named point of the lake's commit protocol and at random moments,
 * restarted each time, and at the end every offset is in the lake exactly once.
 */
import { Effect } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { liveRelation } from "../support/Lake.ts"
import { killAtRandomMoments, runSluice, runToCrashPoints, sandbox } from "../support/Sluice.ts"

const MESSAGES = 200_000
const { topic, lake, env, cleanup } = sandbox("eo", inject("kafkaBrokers"), {
  SLUICE_WINDOW_MAX_RECORDS: "4000",
  SLUICE_WINDOW_MAX_AGE_MS: "1000",
  SLUICE_CHECKPOINT_INTERVAL: "5"
})

afterAll(cleanup)

describe("sluice run under SIGKILL", () => {
  it("lands every produced message exactly once in the lake", async () => {
    const produced = await runSluice(
      ["produce", "--topic", topic, "--messages", String(MESSAGES), "--partitions", "4", "--bad-ratio", "0.01", "--seed", "7"],
      env
    )
    expect(produced.code, produced.output).toBe(0)
    const malformed = Number(/\(([\d,]+) malformed\)/.exec(produced.output)![1]!.replaceAll(",", ""))
    expect(malformed).toBeGreaterThan(1_500)

    // Each named point of the commit protocol, reached a few windows in; then random moments.
    await runToCrashPoints(env, ["lake:after-temp-write@3", "lake:after-rename@5", "lake:after-log-commit@4"])
    await killAtRandomMoments(env, 3, 2_500)

    const last = await runSluice(["run", "--until-idle", "2000"], env)
    expect(last.code, last.output).toBe(0)

    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
    expect(verify.output).toContain("verify: OK")

    const stream = await liveRelation(lake, "streams/transaction_stream")
    const dead = await liveRelation(lake, `_deadletter/${topic}`)
    const flattened = await liveRelation(lake, "streams/transaction_flattened")
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
    expect(counts).toEqual({ total: BigInt(MESSAGES), distinct_offsets: BigInt(MESSAGES), dead: BigInt(malformed), flattened: BigInt(MESSAGES - malformed) })

    // Files the crashed writers left and no commit names go with vacuum; then the folders hold exactly the tables.
    const vacuum = await runSluice(["vacuum", "--retain-hours", "0"], env)
    expect(vacuum.code, vacuum.output).toBe(0)
    const [globbed] = await Effect.runPromise(withDuckDb((db) =>
      db.query(`SELECT count(*) AS n FROM read_parquet('${lake}/streams/transaction_stream/*=*/**/*.parquet')`)))
    expect(globbed).toEqual({ n: BigInt(MESSAGES - malformed) })
  })
})
