/**
 * MYSQL_URL's password never shows: not in an error from a refused login, not in a connection
 * failure, not in --help, not in the start-up lines of a run.
 */
import { describe, expect, inject, it } from "vitest"
import { DEFAULT_MYSQL_URL } from "../../src/sinks/warehouse/ConnectionUrl.ts"
import { runSluice } from "../support/Sluice.ts"

const PASSWORD = "s3cr3t-Pa55_word"

describe("secrets", () => {
  it("keeps the password out of errors and help", async () => {
    const base = new URL(inject("mysqlUrl") ?? DEFAULT_MYSQL_URL)
    base.username = "sluice_nobody"
    base.password = PASSWORD
    const refused = await runSluice(["migrate"], { MYSQL_URL: base.toString() })
    expect(refused.code).not.toBe(0)
    expect(refused.output).toMatch(/sluice: .*(denied|refused)/i)
    expect(refused.output).not.toContain(PASSWORD)
    expect(refused.output).toContain("***")

    const closed = new URL(base.toString())
    closed.port = "1"
    // Waited for (each attempt logged with the URL), then refused: never the password.
    const unreachable = await runSluice(["migrate"], { MYSQL_URL: closed.toString(), SLUICE_OUTAGE_TIMEOUT_MS: "2000" })
    expect(unreachable.code).not.toBe(0)
    expect(unreachable.output).toMatch(/retrying in \d+ ms/)
    expect(unreachable.output).not.toContain(PASSWORD)

    for (const args of [["--help"], ["run", "--help"], ["migrate", "--help"]]) {
      const help = await runSluice(args, { MYSQL_URL: base.toString() })
      expect(help.output).not.toContain(PASSWORD)
    }
  })
})
