/**
 * Two machines, in effect, on one lake in an S3 bucket: two `sluice run` instances in one consumer
 * group, each in a working folder of its own, sharing nothing but Kafka, the bucket and MySQL. One is
 * frozen (SIGSTOP) until the other has taken its partitions over, then thawed as a zombie whose
 * commits in flight must be refused; the other is killed. In the end every message is in the lake
 * exactly once and the warehouse's facts equal the lake's.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { withDuckDb } from "../../src/ops/DuckDb.ts"
import { liveRelation } from "../support/Lake.ts"
import { runSluice, sandbox, spawnSluice } from "../support/Sluice.ts"
import { supervise } from "../support/Supervisor.ts"

const s3 = inject("s3")
const SESSION_TIMEOUT_MS = 6_000
const RESUMED = /assigned, resuming at offset/
const FIRST = 30_000
const SECOND = 30_000

const box = s3 === null
  ? undefined
  : sandbox("bucket", inject("kafkaBrokers"), {
    SLUICE_WINDOW_MAX_RECORDS: "2000",
    SLUICE_WINDOW_MAX_AGE_MS: "1000",
    SLUICE_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
    // Dynamic members: a frozen one loses its partitions once its session times out.
    SLUICE_INSTANCE_ID: undefined
  }, inject("mysqlUrl"), { s3 })
const machines = Array.from({ length: 3 }, (_, i) => mkdtempSync(path.join(tmpdir(), `sluice-machine-${i}-`)))
afterAll(async () => {
  await box?.cleanup()
  for (const dir of machines) rmSync(dir, { recursive: true, force: true })
})

/** A machine's environment: the shared lake URL, its own local lake folder (unused), nothing else in common. */
const on = (machine: string) => ({ ...box!.env, SLUICE_LAKE_DIR: path.join(machine, "data", "lake") })

describe.skipIf(box === undefined)("two instances on two machines sharing a lake in a bucket", () => {
  it("lands every message once, with a frozen zombie and a killed instance", async () => {
    const { topic } = box!
    const [a, b, c] = machines as [string, string, string]
    const first = await runSluice(["produce", "--topic", topic, "--messages", String(FIRST), "--partitions", "4", "--bad-ratio", "0.01", "--seed", "21"], on(c), { cwd: c })
    expect(first.code, first.output).toBe(0)

    const one = supervise(["run"], on(a), { restartDelayMs: 500, cwd: a })
    await one.waitFor(RESUMED, { atLeast: 1, timeoutMs: 60_000 })
    const two = supervise(["run"], on(b), { restartDelayMs: 500, cwd: b })
    try {
      await two.waitFor(RESUMED, { atLeast: 1, timeoutMs: 60_000 })
      // More messages while the instances work, so that the freeze falls among commits; the group
      // settles first (the first instance hands partitions over once their commits in flight land).
      const load = spawnSluice(["produce", "--topic", topic, "--messages", String(SECOND), "--rate", "2500", "--bad-ratio", "0.01", "--seed", "22"], on(c), { cwd: c })
      await new Promise((r) => setTimeout(r, 3_000))
      const taken = two.count(RESUMED)
      const frozen = one.freeze()
      expect(frozen).toBeDefined()
      await two.waitFor(RESUMED, { atLeast: taken + 1, timeoutMs: SESSION_TIMEOUT_MS * 10 })
      await new Promise((r) => setTimeout(r, 2_000))
      // The thawed zombie may still hold a window it thinks is its own: its commit must be refused.
      const rejoined = one.count(RESUMED)
      one.thaw(frozen!)
      await one.waitFor(RESUMED, { atLeast: rejoined + 1, timeoutMs: SESSION_TIMEOUT_MS * 10 })
      expect((await load.exited).code, load.output()).toBe(0)
      two.kill("SIGKILL")
      await new Promise((r) => setTimeout(r, 3_000))
    } finally {
      await Promise.all([one.stop(15_000), two.stop(15_000)])
    }
    expect(one.output() + two.output()).not.toContain(s3!.secretAccessKey)

    // A third machine finishes what is left, then checks.
    const last = await runSluice(["run", "--until-idle", "2000"], on(c), { cwd: c })
    expect(last.code, last.output).toBe(0)
    const verify = await runSluice(["verify"], on(c), { cwd: c })
    expect(verify.code, verify.output).toBe(0)
    expect(verify.output).toContain("verify: OK")

    const reader = await box!.reader()
    const stream = await liveRelation(reader, "streams/transaction_stream")
    const dead = await liveRelation(reader, `_deadletter/${topic}`)
    const [counts] = await Effect.runPromise(withDuckDb((db) =>
      db.query(`
        SELECT count(*) AS total, count(DISTINCT (p, o)) AS distinct_offsets FROM (
          SELECT _kafka_partition AS p, _kafka_offset AS o FROM ${stream}
          UNION ALL
          SELECT _kafka_partition, _kafka_offset FROM ${dead})`)))
    expect(counts).toEqual({ total: BigInt(FIRST + SECOND), distinct_offsets: BigInt(FIRST + SECOND) })
    // Nothing lives on the machines: their working folders hold no lake, no key file, no warehouse.
    for (const machine of machines) expect(readdirSync(machine), machine).toEqual([])
  })
})
