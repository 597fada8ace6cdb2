/**
 * SIGTERM drains: `sluice run` stops fetching, writes and commits its open windows, and exits 0;
 * whatever it had fetched is committed, so the next run starts exactly where it stopped.
 */
import { afterAll, describe, expect, inject, it } from "vitest"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"

const MESSAGES = 20_000
const { topic, env, cleanup } = sandbox("drain", inject("kafkaBrokers"), {
  // Windows that never close by themselves during the test: only the drain can commit them.
  SLUICE_WINDOW_MAX_AGE_MS: "600000",
  SLUICE_DRAIN_TIMEOUT_MS: "20000"
})

afterAll(cleanup)

/** The messages a run committed, from its closing line ("12,345 messages (…)" or "no new messages"). */
const committedBy = (output: string): number => {
  if (/no new messages/.test(output)) return 0
  const m = /([\d,]+) messages \(/.exec(output)
  expect(m, `no count of committed messages in:\n${output}`).not.toBeNull()
  return Number(m![1]!.replaceAll(",", ""))
}

describe("sluice run on SIGTERM", () => {
  it("commits its open windows and exits 0; the next run starts where it stopped", async () => {
    const produced = await runSluice(["produce", "--topic", topic, "--messages", String(MESSAGES), "--partitions", "2", "--seed", "3"], env)
    expect(produced.code, produced.output).toBe(0)
    const run = spawnSluice(["run"], env)
    await run.waitFor(/resuming at offset/)
    await new Promise((r) => setTimeout(r, 3_000))
    const sentAt = Date.now()
    run.child.kill("SIGTERM")
    const exit = await run.exited
    expect(exit.code, run.output()).toBe(0)
    expect(Date.now() - sentAt).toBeLessThan(20_000)
    expect(run.output()).toMatch(/SIGTERM: draining/)
    // Only the drain commits (windows close neither by age nor by size here). How much was fetched
    // in the 3 s depends on the machine: usually all of it, and whatever it was, the rest follows.
    const drained = committedBy(run.output())
    expect(drained, run.output()).toBeGreaterThan(0)
    const rest = await runSluice(["run", "--until-idle", "1500"], env)
    expect(rest.code, rest.output).toBe(0)
    expect(committedBy(rest.output), rest.output).toBe(MESSAGES - drained)
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
  })
})
