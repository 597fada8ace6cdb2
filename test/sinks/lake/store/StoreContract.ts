/**
 * What every lake store must do, as one suite run against each implementation: put-if-absent with
 * exactly one winner however many race, whole-object puts, uploads in parts, ranged reads, listing
 * by prefix, deletes, and reads that tell an absent object from a failed read.
 */
import { randomBytes } from "node:crypto"
import { Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import { checkPutIfAbsent, type Store } from "../../../../src/sinks/lake/store/Store.ts"
import { failureOf } from "../../../support/Failure.ts"

export interface StoreUnderTest {
  /** A store of its own for one test (an empty folder, or a fresh prefix of the bucket). */
  readonly make: () => Promise<Store>
  /** A store whose calls fail (not "absent"): reads, lists and writes all do. */
  readonly failing: () => Promise<Store>
  /** The size of an upload's parts, so that the test sends several. */
  readonly partSize: number
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
const text = (bytes: Option.Option<Uint8Array>) => Option.map(bytes, (b) => Buffer.from(b).toString("utf8"))

export const storeContract = (name: string, subject: () => StoreUnderTest) =>
  describe(`${name} as a lake store`, () => {
    it("creates a key once: put-if-absent says true, then false, and keeps the first object", async () => {
      const store = await subject().make()
      expect(await run(store.putIfAbsent("t/_delta_log/00000000000000000000.json", "first"))).toBe(true)
      expect(await run(store.putIfAbsent("t/_delta_log/00000000000000000000.json", "second"))).toBe(false)
      expect(text(await run(store.get("t/_delta_log/00000000000000000000.json")))).toEqual(Option.some("first"))
    })

    it("lets exactly one of 16 concurrent put-if-absent writers win, every round, and keeps the winner's bytes", async () => {
      const store = await subject().make()
      for (let round = 0; round < 8; round++) {
        const key = `race/${String(round).padStart(20, "0")}.json`
        const results = await run(Effect.forEach(
          Array.from({ length: 16 }, (_, writer) => writer),
          (writer) => Effect.map(store.putIfAbsent(key, `writer ${writer}`), (won) => ({ writer, won })),
          { concurrency: "unbounded" }
        ))
        const winners = results.filter((r) => r.won)
        expect(winners, `round ${round}`).toHaveLength(1)
        expect(text(await run(store.get(key)))).toEqual(Option.some(`writer ${winners[0]!.writer}`))
      }
    })

    it("replaces an object whole with put", async () => {
      const store = await subject().make()
      await run(store.put("t/_metadata.json", "a much longer first version"))
      await run(store.put("t/_metadata.json", "short"))
      await run(store.put("t/_last.json", "not durable", { durable: false }))
      expect(text(await run(store.get("t/_metadata.json")))).toEqual(Option.some("short"))
      expect(text(await run(store.get("t/_last.json")))).toEqual(Option.some("not durable"))
    })

    it("uploads a large object in parts from chunks of any size", async () => {
      const { make, partSize } = subject()
      const store = await make()
      const data = randomBytes(2 * partSize + 12_345)
      const chunkSizes = [1, 700_000, 3, partSize, 1_234_567]
      async function* chunks() {
        let at = 0
        for (let i = 0; at < data.length; i++) {
          const size = chunkSizes[i % chunkSizes.length]!
          yield data.subarray(at, at + size)
          at += size
        }
      }
      expect(await run(store.upload("big/snapshot.parquet", chunks()))).toBe(data.length)
      const back = await run(store.get("big/snapshot.parquet"))
      expect(Option.isSome(back) && Buffer.compare(Buffer.from(back.value), data)).toBe(0)
      // A small upload is one object too.
      expect(await run(store.upload("big/small.parquet", (async function*() {
        yield Buffer.from("tiny")
      })()))).toBe(4)
      expect(text(await run(store.get("big/small.parquet")))).toEqual(Option.some("tiny"))
    })

    it("reads ranges: inside, across the end, past the end", async () => {
      const store = await subject().make()
      await run(store.put("f.parquet", "0123456789"))
      expect(text(await run(store.getRange("f.parquet", 2, 3)))).toEqual(Option.some("234"))
      expect(text(await run(store.getRange("f.parquet", 8, 10)))).toEqual(Option.some("89"))
      expect(text(await run(store.getRange("f.parquet", 10, 4)))).toEqual(Option.some(""))
    })

    it("tells an absent object from a present one", async () => {
      const store = await subject().make()
      expect(await run(store.get("nothing/here.json"))).toEqual(Option.none())
      expect(await run(store.getRange("nothing/here.json", 0, 10))).toEqual(Option.none())
      expect(await run(store.list("nothing/"))).toEqual([])
      expect(await run(store.listFolders("nothing/"))).toEqual([])
    })

    it("lists by prefix, recursively and one level down, with sizes and times", async () => {
      const store = await subject().make()
      const before = Date.now() - 2_000
      for (const key of ["s/a/_delta_log/0.json", "s/a/year=2026/x.parquet", "s/a/year=2027/y.parquet", "s/b/_delta_log/0.json", "s/ab.json", "t/z.json"]) {
        await run(store.put(key, key))
      }
      const listed = await run(store.list("s/a/"))
      expect(listed.map((o) => o.key)).toEqual(["s/a/_delta_log/0.json", "s/a/year=2026/x.parquet", "s/a/year=2027/y.parquet"])
      expect(listed.map((o) => o.size)).toEqual(listed.map((o) => o.key.length))
      for (const o of listed) expect(o.lastModified).toBeGreaterThan(before)
      // A prefix may end inside a name.
      expect((await run(store.list("s/a"))).map((o) => o.key)).toEqual(["s/a/_delta_log/0.json", "s/a/year=2026/x.parquet", "s/a/year=2027/y.parquet", "s/ab.json"])
      expect(await run(store.listFolders("s/"))).toEqual(["s/a/", "s/b/"])
      expect(await run(store.listFolders("s/a/"))).toEqual(["s/a/_delta_log/", "s/a/year=2026/", "s/a/year=2027/"])
    })

    it("deletes, and deleting what is gone is no error", async () => {
      const store = await subject().make()
      await run(store.put("d/year=2026/f.parquet", "x"))
      await run(store.put("d/keep.json", "y"))
      await run(store.delete("d/year=2026/f.parquet"))
      await run(store.delete("d/year=2026/f.parquet"))
      expect(await run(store.get("d/year=2026/f.parquet"))).toEqual(Option.none())
      expect((await run(store.list("d/"))).map((o) => o.key)).toEqual(["d/keep.json"])
      expect(await run(store.listFolders("d/"))).toEqual([])
    })

    it("fails a read, a list and a write it cannot do, never answering \"absent\"", async () => {
      const store = await subject().failing()
      for (const effect of [store.get("t/_delta_log/_last_checkpoint"), store.list("t/"), store.putIfAbsent("t/_delta_log/0.json", "x")]) {
        expect(failureOf(await Effect.runPromiseExit(effect as Effect.Effect<unknown, unknown>))).toMatchObject({ _tag: "LakeIOError" })
      }
    })

    it("passes the start-up check of conditional writes, and leaves nothing behind", async () => {
      const store = await subject().make()
      await run(checkPutIfAbsent(store))
      expect(await run(store.list(""))).toEqual([])
    })
  })
