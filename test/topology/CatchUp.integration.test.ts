/**
 * `run --until-idle` means every partition of the topic is committed by every sink up to its end,
 * not only the partitions this member was given: partitions that sit with members making no
 * progress (killed, their session not yet expired) are waited for, and fail the run past a deadline.
 */
import { Effect } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { liveRelation } from "../support/Lake.ts"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"

const brokers = inject("kafkaBrokers")
const boxes = [
  // Long enough that a loaded machine restarts a member before the other's session expires.
  sandbox("catchup", brokers, { SLUICE_SESSION_TIMEOUT_MS: "40000" }),
  sandbox("stalled", brokers, { SLUICE_SESSION_TIMEOUT_MS: "60000", SLUICE_STALLED_AFTER_MS: "4000" })
]
afterAll(() => Promise.all(boxes.map((b) => b.cleanup())))

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Two static members split the topic, then both die with SIGKILL: the broker keeps their
 * assignment until their session times out. The member that comes back as the first gets only the
 * first one's partitions back, at once.
 */
const twoMembersKilled = async (env: Record<string, string | undefined>) => {
  const members = ["a", "b"].map((id) => spawnSluice(["run"], { ...env, SLUICE_INSTANCE_ID: `${env.SLUICE_GROUP}-${id}` }))
  for (const m of members) await m.waitFor(/resuming at offset/)
  // Let the group settle on one partition set per member.
  await sleep(3_000)
  for (const m of members) m.child.kill("SIGKILL")
  await Promise.all(members.map((m) => m.exited))
}

describe("run --until-idle with partitions owned by dead members", () => {
  it("waits for them, says so, and exits only once every partition is committed", async () => {
    const { topic, env, lake } = boxes[0]!
    expect((await runSluice(["produce", "--topic", topic, "--messages", "8000", "--partitions", "4", "--seed", "71"], env)).code).toBe(0)
    await twoMembersKilled(env)
    expect((await runSluice(["produce", "--topic", topic, "--messages", "8000", "--partitions", "4", "--seed", "72"], env)).code).toBe(0)
    const run = await runSluice(["run", "--until-idle", "1000"], { ...env, SLUICE_INSTANCE_ID: `${env.SLUICE_GROUP}-a` })
    expect(run.code, run.output).toBe(0)
    expect(run.output).toMatch(/waiting for .*assigned to other members that have made no progress/)
    const stream = await liveRelation(lake, "streams/transaction_stream")
    const [counted] = await Effect.runPromise(withDuckDb((db) => db.query(`SELECT count(*) AS n FROM ${stream}`)))
    expect(counted).toEqual({ n: 16_000n })
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
  })

  it("fails with the partitions' names when they stay unowned past the deadline", async () => {
    const { topic, env } = boxes[1]!
    expect((await runSluice(["produce", "--topic", topic, "--messages", "4000", "--partitions", "4", "--seed", "73"], env)).code).toBe(0)
    await twoMembersKilled(env)
    expect((await runSluice(["produce", "--topic", topic, "--messages", "4000", "--partitions", "4", "--seed", "74"], env)).code).toBe(0)
    const run = await runSluice(["run", "--until-idle", "1000"], { ...env, SLUICE_INSTANCE_ID: `${env.SLUICE_GROUP}-a` })
    expect(run.code, run.output).not.toBe(0)
    const last = run.output.trim().split("\n").at(-1)!
    expect(last).toMatch(/made no progress for \d+ s while assigned to other members/)
    // The partitions it was not given are the ones named.
    const own = new Set([...run.output.matchAll(/\/(\d+): assigned/g)].map((x) => Number(x[1])))
    const others = [0, 1, 2, 3].filter((p) => !own.has(p))
    expect(others.length, run.output).toBeGreaterThan(0)
    expect([...last.matchAll(new RegExp(`${topic}/(\\d+) \\(at`, "g"))].map((x) => Number(x[1])).sort()).toEqual(others)
  })
})
