/**
 * MySQL lost under a running service: the server stops for 8 s (connections refused, open ones
 * cut) and its connections are cut and killed mid-transaction. The service waits it out, logging
 * each attempt, and ends with every message counted exactly once.
 */
import { createConnection } from "mysql2/promise"
import { afterAll, describe, expect, inject, it } from "vitest"
import { expectedFromProduce } from "../../support/Expected.ts"
import { runSluice, sandbox, spawnSluice } from "../../support/Sluice.ts"
import { startTcpProxy, type TcpProxy } from "../../support/TcpProxy.ts"
import { countedInWarehouse } from "../../support/Warehouse.ts"

const MESSAGES = 40_000
const box = sandbox("outage", inject("kafkaBrokers"), { SLUICE_WINDOW_MAX_RECORDS: "1500", SLUICE_WINDOW_MAX_AGE_MS: "500" }, inject("mysqlUrl"))
let proxy: TcpProxy | undefined
afterAll(async () => {
  await proxy?.close()
  await box.cleanup()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Kills, from the server's side, every connection to the sandbox's database. */
const killConnections = async (url: string): Promise<number> => {
  const database = decodeURIComponent(new URL(url).pathname.slice(1))
  const admin = new URL(url)
  admin.pathname = "/"
  const connection = await createConnection({ uri: admin.toString() })
  try {
    const [rows] = await connection.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", [database])
    for (const r of rows as Array<{ id: number }>) await connection.query(`KILL ${Number(r.id)}`).catch(() => undefined)
    return (rows as Array<unknown>).length
  } finally {
    await connection.end()
  }
}

describe("the warehouse when MySQL goes away", () => {
  it("waits out a stopped server, cut connections and killed connections, and counts every message once", async () => {
    expect(box.mysqlUrl, "the integration tests need a MySQL/MariaDB").toBeDefined()
    const direct = new URL(box.mysqlUrl!)
    proxy = await startTcpProxy(direct.hostname, Number(direct.port || 3306))
    const viaProxy = new URL(box.mysqlUrl!)
    viaProxy.hostname = "127.0.0.1"
    viaProxy.port = String(proxy.port)
    const env = { ...box.env, MYSQL_URL: viaProxy.toString() }

    const produced = await runSluice(["produce", "--topic", box.topic, "--messages", String(MESSAGES), "--partitions", "4", "--seed", "21", "--rate", "8000"], env)
    expect(produced.code, produced.output).toBe(0)
    const service = spawnSluice(["run", "--until-idle", "3000"], env)
    await service.waitFor(/resuming at offset/)
    await sleep(1_000)
    // The server stops: refused connections, open ones cut mid-transaction.
    await proxy.stop()
    await sleep(8_000)
    await proxy.start()
    await sleep(1_500)
    expect(proxy.cutAll()).toBeGreaterThanOrEqual(0)
    await sleep(1_000)
    await killConnections(box.mysqlUrl!)
    const exit = await service.exited
    expect(exit.code, service.output()).toBe(0)
    expect(service.output()).toMatch(/warehouse: (commit|read offsets).*(ECONNREFUSED|PROTOCOL_CONNECTION_LOST|ECONNRESET|closed state|Connection lost).*retrying in \d+ ms/)

    expect(await countedInWarehouse(box.mysqlUrl!)).toBe(expectedFromProduce(MESSAGES, 21, 0).counted)
    const verify = await runSluice(["verify"], box.env)
    expect(verify.code, verify.output).toBe(0)
  })

  it("fails with a clear reason once MySQL stays away past the outage deadline", async () => {
    const direct = new URL(box.mysqlUrl!)
    proxy ??= await startTcpProxy(direct.hostname, Number(direct.port || 3306))
    const topic = `${box.topic}-deadline`
    const produced = await runSluice(["produce", "--topic", topic, "--messages", "100", "--partitions", "1"], box.env)
    expect(produced.code, produced.output).toBe(0)
    await proxy.stop()
    const viaProxy = new URL(box.mysqlUrl!)
    viaProxy.hostname = "127.0.0.1"
    viaProxy.port = String(proxy.port)
    const run = await runSluice(["run", "--until-idle", "1000", "--no-migrate"], {
      ...box.env,
      MYSQL_URL: viaProxy.toString(),
      SLUICE_TOPIC: topic,
      SLUICE_GROUP: `${box.id}-deadline`,
      SLUICE_OUTAGE_TIMEOUT_MS: "3000"
    })
    expect(run.code, run.output).not.toBe(0)
    expect(run.output).toMatch(/ECONNREFUSED[^\n]*; retrying in \d+ ms/)
    expect(run.output).toMatch(/ECONNREFUSED[^\n]*; giving up after \d+ attempts in \d+ s/)
    // The last line is the one-line reason a supervisor logs.
    expect(run.output.trim().split("\n").at(-1)).toMatch(/^sluice: warehouse connect to .*ECONNREFUSED/)
    await proxy.start()
  })
})
