/**
 * `sluice doctor` against the real broker and MariaDB: every check passes where the services answer,
 * and each one that cannot pass fails with its fix and a non-zero exit.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, inject, it } from "vitest"
import type { Check } from "../../src/ops/Doctor.ts"
import { runSluice, sandbox } from "../support/Sluice.ts"

const box = sandbox("doctor", inject("kafkaBrokers"), {}, inject("mysqlUrl"))
afterAll(box.cleanup)

const checksOf = (output: string) => JSON.parse(output.slice(0, output.lastIndexOf("]") + 1)) as Array<Check>

describe("sluice doctor", () => {
  it("passes where the broker, MySQL and the lake answer", async () => {
    expect(box.mysqlUrl, "the integration tests need a MySQL/MariaDB").toBeDefined()
    // The sandbox's database exists once something created it: migrate does.
    expect((await runSluice(["migrate"], box.env)).code).toBe(0)
    const doctor = await runSluice(["doctor", "--json"], { ...box.env, SLUICE_ANONYMIZATION_KEY_FILE: path.join(box.lake, "..", `${box.id}.key`) })
    const checks = checksOf(doctor.output)
    expect(checks.map((c) => c.check)).toEqual(["node", "java", "broker", "warehouse", "lake", "lake space", "lake modes", "feeds", "pseudonym key"])
    expect(checks.filter((c) => c.status === "fail"), doctor.output).toEqual([])
    expect(doctor.code).toBe(0)
    expect(checks.find((c) => c.check === "broker")?.detail).toMatch(new RegExp(`at ${inject("kafkaBrokers")}, 1 broker; topic ${box.topic} does not exist yet`))
    expect(checks.find((c) => c.check === "warehouse")?.detail).toMatch(/^MySQL ok \(version 10\.11.*MariaDB.*\) at mysql:\/\/.*, database sluice_test_doctor_\w+ exists$/)
  })

  it("fails each check that cannot pass, with its fix", async () => {
    const lake = path.join(box.lake, "broken")
    mkdirSync(path.join(lake, "_feeds", "active"), { recursive: true })
    writeFileSync(path.join(lake, "_feeds", "active", "orders.json"), "{")
    const doctor = await runSluice(["--brokers", "127.0.0.1:1", "--lake-dir", lake, "doctor"], {
      ...box.env,
      MYSQL_URL: "mysql://root@127.0.0.1:1/none",
      SLUICE_ANONYMIZATION_KEY: "not-a-key"
    })
    expect(doctor.code).toBe(1)
    expect(doctor.output).toMatch(/^fail\s+broker\s+no Kafka broker answers at 127\.0\.0\.1:1\n\s+fix: start the local one \(npx sluice stack up\) or point KAFKA_BROKERS \(--brokers\) at yours$/m)
    expect(doctor.output).toMatch(/^fail\s+warehouse\s+MySQL not usable at mysql:\/\/root@127\.0\.0\.1:1\/none: .* \(configured: no fallback\)\n\s+fix: start MySQL\/MariaDB/m)
    expect(doctor.output).toMatch(new RegExp(`^fail\\s+feeds\\s+${lake}/_feeds/active/orders\\.json: not JSON.*\\n\\s+fix: correct the entry`, "m"))
    expect(doctor.output).toMatch(/^fail\s+pseudonym key\s+SLUICE_ANONYMIZATION_KEY is not a key\n\s+fix: set it to at least 64 hex digits/m)
    // The registry's folders, made by hand with the umask's 755, hold raw declarations: 750 at most.
    expect(doctor.output).toMatch(new RegExp(`^fail\\s+lake modes\\s+_feeds \\(mode 755\\), _feeds/active \\(mode 755\\) open to other users.*\\n\\s+fix: chmod 750 ${lake}/_feeds; chmod 750 ${lake}/_feeds/active$`, "m"))
    expect(doctor.output).toMatch(/^sluice: doctor: 5 checks failed \(broker, warehouse, lake modes, feeds, pseudonym key\)$/m)
  })
})
