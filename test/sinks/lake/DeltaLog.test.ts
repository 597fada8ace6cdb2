import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { Add } from "../../../src/sinks/lake/DeltaAction.ts"
import { commitFileName, Conflict, type DeltaSnapshot, type DeltaTableOptions, Fenced, openDeltaTable, readSnapshot as readSnapshotIn } from "../../../src/sinks/lake/DeltaLog.ts"
import { inlineEncoder, makeParquetEncoder } from "../../../src/sinks/lake/ParquetEncoder.ts"
import { makeLocalStore } from "../../../src/sinks/lake/store/LocalStore.ts"
import { failureOf } from "../../support/Failure.ts"

const dirs: Array<string> = []
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "sluice-delta-"))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** The table in the folder `root`: a local store rooted there, the table at its root. */
const readSnapshot = (root: string) => readSnapshotIn(makeLocalStore(root), "")

const options = (root: string, checkpointInterval = 10): DeltaTableOptions => ({
  store: makeLocalStore(root),
  root: "",
  checkpointInterval,
  protocol: { minReaderVersion: 1, minWriterVersion: 2 },
  metaData: {
    id: "00000000-0000-0000-0000-000000000001",
    format: { provider: "parquet", options: {} },
    schemaString: JSON.stringify({ type: "struct", fields: [{ name: "x", type: "long", nullable: false, metadata: {} }] }),
    partitionColumns: [],
    configuration: {},
    createdTime: 0
  }
})

const add = (p: string, n = 1): Add => ({
  path: p,
  partitionValues: {},
  size: 100,
  modificationTime: 1,
  dataChange: true,
  stats: JSON.stringify({ numRecords: n })
})

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

describe("DeltaLog", () => {
  it("creates the table at version 0 with protocol and metaData, then appends versions", async () => {
    const root = tempDir()
    const table = await run(openDeltaTable(options(root)))
    expect((await run(table.snapshot)).version).toBe(-1)
    const v0 = await run(table.commit({ txns: [{ appId: "a@t/0", expected: undefined, version: 9 }], adds: [add("f0.parquet")], operation: "WRITE" }))
    const v1 = await run(table.commit({ txns: [{ appId: "a@t/0", expected: 9, version: 19 }], adds: [add("f1.parquet")], operation: "WRITE" }))
    expect([v0, v1]).toEqual([0, 1])
    const lines = readFileSync(path.join(root, "_delta_log", commitFileName(0)), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(lines.map((l) => Object.keys(l)[0])).toEqual(["commitInfo", "protocol", "metaData", "txn", "add"])
    const snapshot = await run(readSnapshot(root))
    expect(snapshot.version).toBe(1)
    expect([...snapshot.files.keys()]).toEqual(["f0.parquet", "f1.parquet"])
    expect(snapshot.txns.get("a@t/0")).toBe(19)
    expect(snapshot.metaData?.id).toBe(options(root).metaData.id)
  })

  it("lets exactly one of two writers racing for a version win; the other re-reads and takes the next", async () => {
    const root = tempDir()
    const a = await run(openDeltaTable(options(root, 1_000)))
    const b = await run(openDeltaTable(options(root, 1_000)))
    const versions = await run(Effect.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? a : b).commit({
          txns: [{ appId: `w${i}@t/0`, expected: undefined, version: i }],
          adds: [add(`f${i}.parquet`)],
          operation: "WRITE"
        })),
      { concurrency: "unbounded" }
    ))
    expect([...versions].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i))
    const snapshot = await run(readSnapshot(root))
    expect(snapshot.files.size).toBe(40)
    expect(snapshot.txns.size).toBe(40)
    const logFiles = readdirSync(path.join(root, "_delta_log"))
    expect(logFiles.filter((f) => f.endsWith(".json"))).toHaveLength(40)
    expect(logFiles.filter((f) => f.endsWith(".tmp"))).toHaveLength(0)
  })

  it("takes a commit whose write landed but whose answer said \"exists\" (a retried conditional PUT) for its own", async () => {
    const root = tempDir()
    const local = makeLocalStore(root)
    let lost = 0
    // The first conditional write of each key lands, but its answer is lost and the retry finds the key taken.
    const store = {
      ...local,
      putIfAbsent: (key: string, data: string | Uint8Array) =>
        Effect.map(local.putIfAbsent(key, data), (created) => {
          if (created && key.endsWith(".json")) lost++
          return created && !key.endsWith(".json")
        })
    }
    const table = await run(openDeltaTable({ ...options(root), store }))
    expect(await run(table.commit({ txns: [{ appId: "f@t/0", expected: undefined, version: 9 }], adds: [add("a.parquet")], operation: "WRITE" }))).toBe(0)
    expect(await run(table.commit({ txns: [{ appId: "f@t/0", expected: 9, version: 19 }], adds: [add("b.parquet")], operation: "WRITE" }))).toBe(1)
    expect(lost).toBe(2)
    const snapshot = await run(readSnapshot(root))
    expect(snapshot.version).toBe(1)
    expect(snapshot.txns.get("f@t/0")).toBe(19)
  })

  it("fences a writer whose txn is stale: its commit is refused and the log is unchanged", async () => {
    const root = tempDir()
    const current = await run(openDeltaTable(options(root)))
    const zombie = await run(openDeltaTable(options(root)))
    await run(current.commit({ txns: [{ appId: "f@t/3", expected: undefined, version: 99 }], adds: [add("a.parquet")], operation: "WRITE" }))
    const exit = await Effect.runPromiseExit(
      zombie.commit({ txns: [{ appId: "f@t/3", expected: undefined, version: 49 }], adds: [add("z.parquet")], operation: "WRITE" })
    )
    expect(failureOf(exit)).toEqual(new Fenced({ table: root, appId: "f@t/3", expected: undefined, found: 99 }))
    const snapshot = await run(readSnapshot(root))
    expect(snapshot.version).toBe(0)
    expect(snapshot.files.has("z.parquet")).toBe(false)
    // The same writer, once it expects what the log holds, goes on.
    await run(zombie.commit({ txns: [{ appId: "f@t/3", expected: 99, version: 120 }], adds: [add("b.parquet")], operation: "WRITE" }))
    expect((await run(readSnapshot(root))).txns.get("f@t/3")).toBe(120)
  })

  it("writes shared commits that wait for the log together, each with its own txn; a stale one is refused alone", async () => {
    const root = tempDir()
    const table = await run(openDeltaTable(options(root, 1_000)))
    await run(table.commit({ txns: [{ appId: "f@t/9", expected: undefined, version: 5 }], adds: [add("first.parquet")], operation: "STREAMING UPDATE" }))
    const request = (i: number) => ({
      // Partition 9 expects nothing, but the log holds 5 for it: that one commit is fenced.
      txns: [{ appId: `f@t/${i}`, expected: undefined, version: 100 + i }],
      markers: [{ appId: `d@t/${i}`, version: 1 }],
      adds: [add(`p${i}.parquet`)],
      operation: "STREAMING UPDATE",
      operationParameters: { outputMode: "Append", queryId: `f@t/${i}`, epochId: String(100 + i) },
      shared: true
    })
    const exits = await Promise.all(Array.from({ length: 10 }, (_, i) => Effect.runPromiseExit(table.commit(request(i)))))
    expect(failureOf(exits[9]!)).toEqual(new Fenced({ table: root, appId: "f@t/9", expected: undefined, found: 5 }))
    const versions = exits.slice(0, 9).map((e) => (e._tag === "Success" ? e.value : -1))
    // The first takes the log alone; the ones that waited for it share the next version.
    expect(new Set(versions)).toEqual(new Set([1, 2]))
    const snapshot = await run(readSnapshot(root))
    expect(snapshot.version).toBe(2)
    expect([...snapshot.files.keys()].sort()).toEqual(["first.parquet", ...Array.from({ length: 9 }, (_, i) => `p${i}.parquet`)].sort())
    for (let i = 0; i < 9; i++) expect([snapshot.txns.get(`f@t/${i}`), snapshot.txns.get(`d@t/${i}`)]).toEqual([100 + i, 1])
    expect(snapshot.txns.get("f@t/9")).toBe(5)
    const lines = readFileSync(path.join(root, "_delta_log", commitFileName(2)), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(lines.filter((l) => "commitInfo" in l)).toHaveLength(1)
    expect(lines[0].commitInfo.operationParameters.queryId.split(",")).toHaveLength(8)
  })

  it("writes a Parquet checkpoint every N commits and recovers from it alone", async () => {
    const root = tempDir()
    const table = await run(openDeltaTable(options(root, 3)))
    let expected: number | undefined
    for (let i = 0; i < 8; i++) {
      await run(table.commit({
        txns: [{ appId: "f@t/0", expected, version: i * 10 + 9 }],
        adds: [add(`f${i}.parquet`, i + 1)],
        removes: i === 5 ? [{ path: "f0.parquet", deletionTimestamp: Date.now(), dataChange: true }] : [],
        operation: "WRITE"
      }))
      expected = i * 10 + 9
    }
    const logDir = path.join(root, "_delta_log")
    expect(JSON.parse(readFileSync(path.join(logDir, "_last_checkpoint"), "utf8"))).toMatchObject({ version: 6 })
    expect(readdirSync(logDir)).toContain("00000000000000000003.checkpoint.parquet")
    const before = await run(readSnapshot(root))
    // Log cleanup deletes the commits before a checkpoint (Delta readers keep the checkpoint's own): recovery must not need them.
    for (let v = 0; v < 6; v++) unlinkSync(path.join(logDir, commitFileName(v)))
    const after = await run(readSnapshot(root))
    expect(after.version).toBe(7)
    // f1..f6 come from the checkpoint (which records adds as no data change, as Delta's protocol
    // says), f7 from the commit after it: each with its own stats.
    const expectedFiles = new Map<string, Add>([1, 2, 3, 4, 5, 6].map((n) => [`f${n}.parquet`, { ...add(`f${n}.parquet`, n + 1), dataChange: false }]))
    expectedFiles.set("f7.parquet", add("f7.parquet", 8))
    expect(after.files).toEqual(expectedFiles)
    expect(after.files).toEqual(before.files)
    expect(after.files.has("f0.parquet")).toBe(false)
    expect(after.tombstones.has("f0.parquet")).toBe(true)
    expect(after.txns.get("f@t/0")).toBe(79)
    expect(after.metaData).toEqual(options(root).metaData)
    expect(after.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 })
  })

  it("encodes a checkpoint in the Parquet worker pool when given one, byte for byte as in this thread", async () => {
    const checkpointOf = (encoder: "inline" | "worker") => {
      const root = tempDir()
      return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const table = yield* openDeltaTable({ ...options(root, 3), encoder: encoder === "inline" ? inlineEncoder : yield* makeParquetEncoder(1) })
        for (let i = 0; i < 4; i++) {
          yield* table.commit({
            txns: [{ appId: "f@t/0", expected: i === 0 ? undefined : i - 1, version: i }],
            adds: [add(`f${i}.parquet`, i + 1)],
            removes: i === 2 ? [{ path: "f0.parquet", deletionTimestamp: 1, dataChange: true }] : [],
            operation: "WRITE"
          })
        }
        const before = yield* readSnapshotIn(makeLocalStore(root), "")
        for (let v = 0; v < 3; v++) unlinkSync(path.join(root, "_delta_log", commitFileName(v)))
        const fromCheckpoint = yield* readSnapshotIn(makeLocalStore(root), "")
        expect(fromCheckpoint.files).toEqual(new Map([...before.files].map(([p, a]) => [p, a.path === "f3.parquet" ? a : { ...a, dataChange: false }])))
        expect(fromCheckpoint.txns).toEqual(before.txns)
        return readFileSync(path.join(root, "_delta_log", "00000000000000000003.checkpoint.parquet"))
      })))
    }
    const [inline, worker] = [await checkpointOf("inline"), await checkpointOf("worker")]
    expect(worker.length).toBeGreaterThan(0)
    expect(Buffer.compare(worker, inline)).toBe(0)
  })

  it("runs a commit's precondition on the log as it is when it writes, again after losing a version to another writer", async () => {
    const root = tempDir()
    const conflictOf = (check: (s: DeltaSnapshot) => string | undefined) => (s: DeltaSnapshot) => {
      const reason = check(s)
      return reason === undefined ? undefined : new Conflict({ table: root, reason })
    }
    const a = await run(openDeltaTable(options(root, 1_000)))
    const b = await run(openDeltaTable(options(root, 1_000)))
    await run(a.commit({ txns: [], adds: [add("a0.parquet")], operation: "WRITE" }))
    // b read the log before a's second file: its check, run on the log as it is at b's commit, sees it.
    const known = new Set((await run(b.snapshot)).files.keys())
    const check = (s: { readonly files: ReadonlyMap<string, Add> }) => {
      const added = [...s.files.keys()].filter((f) => !known.has(f))
      return added.length === 0 ? undefined : `${added.join(", ")} committed meanwhile`
    }
    await run(a.commit({ txns: [], adds: [add("a1.parquet")], operation: "WRITE" }))
    const exit = await Effect.runPromiseExit(b.commit({ txns: [], adds: [add("b.parquet")], precondition: conflictOf(check), operation: "WRITE" }))
    expect(failureOf(exit)).toEqual(new Conflict({ table: root, reason: "a1.parquet committed meanwhile" }))
    expect([...(await run(readSnapshot(root))).files.keys()]).toEqual(["a0.parquet", "a1.parquet"])
    // Once nothing new is found, the commit lands.
    known.add("a1.parquet")
    expect(await run(b.commit({ txns: [], adds: [add("b.parquet")], precondition: conflictOf(check), operation: "WRITE" }))).toBe(2)
    expect([...(await run(readSnapshot(root))).files.keys()]).toEqual(["a0.parquet", "a1.parquet", "b.parquet"])
  })
})
