/**
 * MySQL frozen and restarted under a running service, through its container: the MariaDB container
 * is paused while the service has a window's transaction open, for 15 s (longer than the client's
 * 10 s connect timeout; a paused server still accepts TCP, answers nothing), then unpaused; later it
 * is restarted (SIGTERM, a clean shutdown, same data and address). The service keeps running and
 * ends with every message counted once. Skips unless the services are containers.
 */
import { createConnection } from "mysql2/promise"
import { afterAll, describe, expect, inject, it } from "vitest"
import { expectedFromProduce } from "../../support/Expected.ts"
import { type MariaDb, startMariaDb } from "../../support/Containers.ts"
import { runSluice, type Sandbox, sandbox, spawnSluice } from "../../support/Sluice.ts"
import { countedInWarehouse } from "../../support/Warehouse.ts"

const MESSAGES = 48_000
const SEED = 23
const images = inject("containerImages")
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let mariadb: MariaDb | undefined
let box: Sandbox | undefined
afterAll(async () => {
  await box?.cleanup()
  await mariadb?.remove()
})

/** Waits until a connection to `database` runs a write of a window's transaction (polled every 5 ms). */
const writeInProgress = async (serverUrl: string, database: string, timeoutMs: number): Promise<string> => {
  const admin = await createConnection({ uri: serverUrl })
  try {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const [rows] = await admin.query(
        `SELECT LEFT(INFO, 60) AS statement FROM information_schema.PROCESSLIST
         WHERE DB = ? AND COMMAND = 'Query' AND (INFO LIKE 'insert%' OR INFO LIKE 'update%' OR INFO LIKE '%for update') LIMIT 1`,
        [database]
      )
      const found = (rows as Array<{ statement: string }>)[0]
      if (found !== undefined) return found.statement
      await sleep(5)
    }
    throw new Error(`no write of the service within ${timeoutMs / 1000} s`)
  } finally {
    await admin.end()
  }
}

describe.skipIf(images === null)("the warehouse when its MySQL container is paused and restarted (skipped unless SLUICE_TEST_SERVICES=containers)", () => {
  it("keeps running through a freeze mid-transaction and a restart, and counts every message once", async () => {
    mariadb = await startMariaDb(images!.mariadb.name)
    box = sandbox("frozen", inject("kafkaBrokers"), { SLUICE_WINDOW_MAX_RECORDS: "1500", SLUICE_WINDOW_MAX_AGE_MS: "500" }, mariadb.url)
    const server = new URL(mariadb.url)
    server.pathname = "/"
    const database = decodeURIComponent(new URL(box.mysqlUrl!).pathname.slice(1))

    const load = spawnSluice(["produce", "--topic", box.topic, "--messages", String(MESSAGES), "--partitions", "4", "--seed", String(SEED), "--rate", "1200"], box.env)
    const service = spawnSluice(["run"], box.env)
    await service.waitFor(/resuming at offset/)

    const statement = await writeInProgress(server.toString(), database, 30_000)
    await mariadb.pause()
    const pausedAt = Date.now()
    await sleep(15_000)
    await mariadb.unpause()
    console.log(`[frozen] paused during \`${statement}…\` for ${((Date.now() - pausedAt) / 1000).toFixed(1)} s`)
    expect(service.child.exitCode, service.output()).toBeNull()

    await sleep(4_000)
    const restartedAt = Date.now()
    await mariadb.restart()
    console.log(`[frozen] restarted in ${((Date.now() - restartedAt) / 1000).toFixed(1)} s`)
    const produced = await load.exited
    expect(produced.code, load.output()).toBe(0)
    await sleep(3_000)
    expect(service.child.exitCode, service.output()).toBeNull()
    expect(service.output()).toMatch(/warehouse: .*retrying in \d+ ms/)

    // A drain, then a last run to idle: everything produced is committed by then.
    service.child.kill("SIGTERM")
    expect((await service.exited).code, service.output()).toBe(0)
    const last = await runSluice(["run", "--until-idle", "2000"], box.env)
    expect(last.code, last.output).toBe(0)
    expect(await countedInWarehouse(box.mysqlUrl!)).toBe(expectedFromProduce(MESSAGES, SEED, 0).counted)
    const verify = await runSluice(["verify"], box.env)
    expect(verify.code, verify.output).toBe(0)
  })
})
