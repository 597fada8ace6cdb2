import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { folderMode } from "../../../../src/sinks/lake/FolderModes.ts"
import { makeLocalStore } from "../../../../src/sinks/lake/store/LocalStore.ts"
import { checkPutIfAbsent, type Store, StoreUnsupported } from "../../../../src/sinks/lake/store/Store.ts"
import { failureOf } from "../../../support/Failure.ts"
import { storeContract } from "./StoreContract.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const folder = () => {
  const d = mkdtempSync(path.join(tmpdir(), "sluice-store-"))
  dirs.push(d)
  return d
}

storeContract("a local folder", () => ({
  make: async () => makeLocalStore(folder()),
  // A lake "folder" that is a file: every call fails, none reads as absent.
  failing: async () => {
    const file = path.join(folder(), "not-a-folder")
    writeFileSync(file, "")
    return makeLocalStore(file)
  },
  partSize: 1024 * 1024
}))

describe("the local folder", () => {
  it("gives each folder it creates the mode of its data's sensitivity, whatever the umask", async () => {
    const dir = folder()
    const store = makeLocalStore(dir, { folderMode })
    const previous = process.umask(0o077)
    try {
      await Effect.runPromise(store.put("streams/transaction_stream/year=2026/month=12/day=01/a.parquet", "a"))
      await Effect.runPromise(store.putIfAbsent("streams/transaction_stream_anonymized/_delta_log/00000000000000000000.json", "b"))
      await Effect.runPromise(store.put("tables/payment_method_totals/snapshot=1/c.parquet", "c"))
      await Effect.runPromise(store.put("_deadletter/transaction_stream/year=2026/d.parquet", "d"))
    } finally {
      process.umask(previous)
    }
    const mode = (key: string) => (statSync(path.join(dir, key)).mode & 0o777).toString(8)
    expect([
      "streams", "streams/transaction_stream", "streams/transaction_stream/year=2026/month=12/day=01",
      "streams/transaction_stream_anonymized", "streams/transaction_stream_anonymized/_delta_log",
      "tables", "tables/payment_method_totals/snapshot=1", "_deadletter", "_deadletter/transaction_stream/year=2026"
    ].map((k) => [k, mode(k)])).toEqual([
      ["streams", "755"], ["streams/transaction_stream", "750"], ["streams/transaction_stream/year=2026/month=12/day=01", "750"],
      ["streams/transaction_stream_anonymized", "755"], ["streams/transaction_stream_anonymized/_delta_log", "755"],
      ["tables", "755"], ["tables/payment_method_totals/snapshot=1", "755"], ["_deadletter", "750"], ["_deadletter/transaction_stream/year=2026", "750"]
    ])
  })

  it("leaves no temporary file and no emptied folder behind", async () => {
    const dir = folder()
    const store = makeLocalStore(dir)
    await Effect.runPromise(store.putIfAbsent("t/_delta_log/0.json", "a"))
    await Effect.runPromise(store.putIfAbsent("t/_delta_log/0.json", "b"))
    await Effect.runPromise(store.put("t/year=2026/f.parquet", "c"))
    expect(readdirSync(dir, { recursive: true }).sort()).toEqual(["t", "t/_delta_log", "t/_delta_log/0.json", "t/year=2026", "t/year=2026/f.parquet"])
    await Effect.runPromise(store.delete("t/year=2026/f.parquet"))
    expect(readdirSync(dir, { recursive: true }).sort()).toEqual(["t", "t/_delta_log", "t/_delta_log/0.json"])
  })

  it("names objects by their file and its URL", () => {
    const store = makeLocalStore("/srv/lake")
    expect(store.url).toBe("file:///srv/lake")
    expect(store.locate("streams/t/_delta_log/0.json")).toBe("/srv/lake/streams/t/_delta_log/0.json")
    expect(store.localPath("streams/t")).toBe("/srv/lake/streams/t")
  })
})

describe("the start-up check of conditional writes", () => {
  it("refuses a store that accepts a second put-if-absent of one key, and removes its probe", async () => {
    const dir = folder()
    const local = makeLocalStore(dir)
    // What an S3-compatible server that ignores If-None-Match does: every conditional write succeeds.
    const ignoresCondition: Store = { ...local, url: "s3://lenient/lake", putIfAbsent: (key, data) => Effect.as(local.put(key, data), true) }
    const error = failureOf(await Effect.runPromiseExit(checkPutIfAbsent(ignoresCondition)))
    expect(error).toBeInstanceOf(StoreUnsupported)
    expect(error).toMatchObject({ store: "s3://lenient/lake" })
    expect(error.message).toMatch(/accepted a second write of _sluice\/probe-[0-9a-f-]+ that asked to be refused if the key exists \(If-None-Match: \*\)/)
    expect(readdirSync(dir)).toEqual([])
  })
})
