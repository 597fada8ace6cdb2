/**
 * The lake's bucket lost under a running service: the S3 endpoint stops answering for 8 s
 * (connections refused, open ones cut mid-request), then its connections are cut again. The
 * service waits it out, logging each attempt, and ends with every message in the lake once; past
 * the outage deadline it fails with one line naming the store and the error.
 */
import { Effect } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { withDuckDb } from "../../../src/ops/DuckDb.ts"
import { liveRelation } from "../../support/Lake.ts"
import { runSluice, sandbox, spawnSluice } from "../../support/Sluice.ts"
import { startTcpProxy, type TcpProxy } from "../../support/TcpProxy.ts"

const MESSAGES = 40_000
const s3 = inject("s3")
const box = s3 === null ? undefined : sandbox("s3outage", inject("kafkaBrokers"), { SLUICE_WINDOW_MAX_RECORDS: "1500", SLUICE_WINDOW_MAX_AGE_MS: "500" }, undefined, { s3 })
let proxy: TcpProxy | undefined
afterAll(async () => {
  await proxy?.close()
  await box?.cleanup()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.skipIf(box === undefined)("the lake when its bucket goes away", () => {
  it("waits out an endpoint that stops answering and connections cut mid-request, and lands every message once", async () => {
    const endpoint = new URL(s3!.endpoint)
    proxy = await startTcpProxy(endpoint.hostname, Number(endpoint.port))
    const env = { ...box!.env, AWS_ENDPOINT_URL: `http://127.0.0.1:${proxy.port}` }
    const produced = await runSluice(["produce", "--topic", box!.topic, "--messages", String(MESSAGES), "--partitions", "4", "--seed", "31", "--rate", "8000"], env)
    expect(produced.code, produced.output).toBe(0)
    const service = spawnSluice(["run", "--until-idle", "3000"], env)
    await service.waitFor(/resuming at offset/)
    await sleep(1_000)
    await proxy.stop()
    await sleep(8_000)
    await proxy.start()
    await sleep(1_500)
    proxy.cutAll()
    const exit = await service.exited
    expect(exit.code, service.output()).toBe(0)
    expect(service.output()).toMatch(/lake: commit [^\n]*ECONNREFUSED[^\n]*; retrying in \d+ ms/)

    const verify = await runSluice(["verify"], box!.env)
    expect(verify.code, verify.output).toBe(0)
    const reader = await box!.reader()
    const stream = await liveRelation(reader, "streams/transaction_stream")
    const dead = await liveRelation(reader, `_deadletter/${box!.topic}`)
    const [counts] = await Effect.runPromise(withDuckDb((db) =>
      db.query(`
        SELECT count(*) AS total, count(DISTINCT (p, o)) AS distinct_offsets FROM (
          SELECT _kafka_partition AS p, _kafka_offset AS o FROM ${stream}
          UNION ALL
          SELECT _kafka_partition, _kafka_offset FROM ${dead})`)))
    expect(counts).toEqual({ total: BigInt(MESSAGES), distinct_offsets: BigInt(MESSAGES) })
  })

  it("fails with a clear reason once the bucket stays away past the outage deadline", async () => {
    const endpoint = new URL(s3!.endpoint)
    proxy ??= await startTcpProxy(endpoint.hostname, Number(endpoint.port))
    const topic = `${box!.topic}-deadline`
    const produced = await runSluice(["produce", "--topic", topic, "--messages", "100", "--partitions", "1"], box!.env)
    expect(produced.code, produced.output).toBe(0)
    await proxy.stop()
    const run = await runSluice(["run", "--until-idle", "1000"], {
      ...box!.env,
      AWS_ENDPOINT_URL: `http://127.0.0.1:${proxy.port}`,
      SLUICE_TOPIC: topic,
      SLUICE_GROUP: `${box!.id}-deadline`,
      SLUICE_OUTAGE_TIMEOUT_MS: "3000"
    })
    expect(run.code, run.output).not.toBe(0)
    expect(run.output).toMatch(/lake: check conditional writes at s3:\/\/sluice\/[^\n]*ECONNREFUSED[^\n]*; retrying in \d+ ms/)
    expect(run.output).toMatch(/ECONNREFUSED[^\n]*; giving up after \d+ attempts in \d+ s/)
    expect(run.output.trim().split("\n").at(-1)).toMatch(/^sluice: put-if-absent s3:\/\/sluice\/[^ ]+\/_sluice\/probe-[0-9a-f-]+: connect ECONNREFUSED 127\.0\.0\.1:\d+/)
    await proxy.start()
  })
})
