import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Redacted } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { lakeFolder } from "../../src/ops/LakeChoice.ts"
import { checkAnonymizationKey, checkLake, checkNode, javaMajor, MIN_FREE_BYTES, MIN_USABLE_BYTES } from "../../src/ops/Doctor.ts"
import type { SettingsShape } from "../../src/ops/Settings.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const fresh = () => {
  const d = mkdtempSync(path.join(tmpdir(), "sluice-doctor-"))
  dirs.push(d)
  return d
}

const KEY = "ab".repeat(32)

describe("the doctor's checks", () => {
  it("takes Node 22 and later, and says how to get it otherwise", () => {
    expect(checkNode("24.21.0")).toEqual({ check: "node", status: "ok", detail: "Node 24.21.0" })
    expect(checkNode("22.12.0").status).toBe("ok")
    expect(checkNode("20.20.2")).toMatchObject({ status: "fail", fix: expect.stringMatching(/npx or npm scripts/) })
  })

  it("reads Java's major version from both of its spellings", () => {
    expect(javaMajor('openjdk version "17.0.9" 2023-10-17')).toBe(17)
    expect(javaMajor('java version "1.8.0_392"')).toBe(8)
    expect(javaMajor('openjdk version "21" 2023-09-19')).toBe(21)
    expect(javaMajor("command not found")).toBeUndefined()
  })

  it("checks the pseudonym key as a run would load it, without creating it", async () => {
    const dir = fresh()
    const file = path.join(dir, "anonymization.key")
    const check = (key: string | undefined) => Effect.runPromise(checkAnonymizationKey({ anonymizationKey: key === undefined ? undefined : Redacted.make(key), anonymizationKeyFile: file }))
    expect(await check(KEY)).toEqual({ check: "pseudonym key", status: "ok", detail: "from SLUICE_ANONYMIZATION_KEY" })
    expect(await check("abc")).toMatchObject({ status: "fail", fix: expect.stringMatching(/openssl rand -hex 32/) })
    expect(await check(undefined)).toMatchObject({ status: "ok", detail: expect.stringMatching(/does not exist yet: the first run creates it/) })
    writeFileSync(file, `${KEY}\n`, { mode: 0o644 })
    chmodSync(file, 0o644)
    expect(await check(undefined)).toEqual({ check: "pseudonym key", status: "fail", detail: `${file} can be read by other users (mode 644)`, fix: `chmod 600 ${file}` })
    chmodSync(file, 0o600)
    expect(await check(undefined)).toEqual({ check: "pseudonym key", status: "ok", detail: `${file} (mode 600)` })
    writeFileSync(file, "not hex")
    expect(await check(undefined)).toMatchObject({ status: "fail", detail: `${file} does not hold a key` })
  })

  it("checks the lake: writable, enough free space, not writable by every user", async () => {
    const lake = path.join(fresh(), "lake")
    const settings = { lake: lakeFolder(lake) } as SettingsShape
    const plenty = async () => ({ bavail: MIN_FREE_BYTES, bsize: 2 })
    const missing = await Effect.runPromise(checkLake(settings, plenty))
    expect(missing.map((c) => [c.check, c.status])).toEqual([["lake", "ok"], ["lake space", "ok"]])
    expect(missing[0]!.detail).toMatch(/does not exist yet; .* is writable, the first run creates it/)
    mkdirSync(lake)
    chmodSync(lake, 0o777)
    const open = await Effect.runPromise(checkLake(settings, async () => ({ bavail: MIN_USABLE_BYTES - 1, bsize: 1 })))
    expect(open.map((c) => [c.check, c.status])).toEqual([["lake", "ok"], ["lake space", "fail"], ["lake modes", "fail"]])
    expect(open[2]!.fix).toBe(`chmod o-w ${lake}: anyone could add or replace files of the lake`)
    chmodSync(lake, 0o750)
    const low = await Effect.runPromise(checkLake(settings, async () => ({ bavail: MIN_USABLE_BYTES, bsize: 1 })))
    expect(low.map((c) => [c.check, c.status])).toEqual([["lake", "ok"], ["lake space", "warn"], ["lake modes", "ok"]])
  })

  it("names the raw feeds' folders that other users can read, with the chmod that closes each", async () => {
    const lake = path.join(fresh(), "lake")
    const settings = { lake: lakeFolder(lake) } as SettingsShape
    const plenty = async () => ({ bavail: MIN_FREE_BYTES, bsize: 2 })
    for (const [key, mode] of [["streams", 0o755], ["streams/transaction_stream", 0o755], ["streams/transaction_stream_anonymized", 0o755], ["tables", 0o755], ["tables/payment_method_totals", 0o755], ["_deadletter", 0o750], ["_deadletter/t", 0o705]] as const) {
      mkdirSync(path.join(lake, key), { recursive: true })
      chmodSync(path.join(lake, key), mode)
    }
    chmodSync(lake, 0o755)
    const modes = (await Effect.runPromise(checkLake(settings, plenty))).find((c) => c.check === "lake modes")!
    expect(modes.status).toBe("fail")
    expect(modes.detail).toMatch(/^_deadletter\/t \(mode 705\), streams\/transaction_stream \(mode 755\) open to other users/)
    expect(modes.fix).toBe(`chmod 750 ${path.join(lake, "_deadletter/t")}; chmod 750 ${path.join(lake, "streams/transaction_stream")}`)
    chmodSync(path.join(lake, "_deadletter/t"), 0o750)
    chmodSync(path.join(lake, "streams/transaction_stream"), 0o750)
    expect((await Effect.runPromise(checkLake(settings, plenty))).find((c) => c.check === "lake modes")!.status).toBe("ok")
  })
})
