/**
 * SIGTERM drains: `sluice run` stops fetching, writes and commits its open windows, and exits 0;
 * whatever it had fetched is committed, so the next run starts exactly where it stopped.
 */
import { afterAll, describe, expect, inject, it } from "vitest"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"

const { topic, env, cleanup } = sandbox("drain", inject("kafkaBrokers"), {
  // Windows that never close by themselves during the test: only the drain can commit them.
  SLUICE_WINDOW_MAX_AGE_MS: "600000",
  SLUICE_DRAIN_TIMEOUT_MS: "20000"
})

afterAll(cleanup)

describe("sluice run on SIGTERM", () => {
  it("commits its open windows and exits 0", async () => {
    const produced = await runSluice(["produce", "--topic", topic, "--messages", "20000", "--partitions", "2", "--seed", "3"], env)
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
    expect(run.output()).toMatch(/20,000 messages/)
    const verify = await runSluice(["verify"], env)
    expect(verify.code, verify.output).toBe(0)
  })
})
