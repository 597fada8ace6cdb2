import { describe, expect, it } from "vitest"
import { decodeTransaction } from "../../src/domain/Transaction.ts"
import { BadKinds, makeMessageGenerator, malformed, makeTransactionGenerator } from "../../src/domain/Generator.ts"
import { decodeRecord, isDeadLetter } from "../../src/topology/Decode.ts"
import type { DeadLetter } from "../../src/topology/Record.ts"

const policy = { maxMessageBytes: 2_000 }
const record = (value: Buffer | null, offset = 7) => ({ offset, timestamp: 1_700_000_000_000, key: Buffer.from("k"), value })
const dead = (value: Buffer | null): DeadLetter => {
  const r = decodeRecord("transaction_stream", 3, record(value), decodeTransaction, policy)
  if (!isDeadLetter(r)) throw new Error("decoded")
  return r
}

describe("decodeRecord", () => {
  it("decodes a valid message with its lineage", () => {
    const t = makeMessageGenerator({ seed: 1 })()
    const r = decodeRecord("transaction_stream", 3, record(t.value, 12), decodeTransaction, policy)
    expect(isDeadLetter(r)).toBe(false)
    if (!isDeadLetter(r)) expect(r).toMatchObject({ partition: 3, offset: 12, timestamp: 1_700_000_000_000 })
  })

  it("dead-letters each kind of bad input with its reason, keeping the raw bytes", () => {
    expect(dead(null)).toMatchObject({ kind: "empty", raw: null })
    expect(dead(Buffer.alloc(0)).kind).toBe("empty")
    expect(dead(Buffer.alloc(2_001, 32))).toMatchObject({ kind: "too-large", error: expect.stringContaining("2001 bytes") })
    expect(dead(Buffer.from([0x7b, 0xff, 0x7d])).kind).toBe("not-utf8")
    expect(dead(Buffer.from("{\"a\":")).kind).toBe("not-json")
    const schema = dead(Buffer.from(JSON.stringify({ transaction_id: "x" })))
    expect(schema.kind).toBe("schema")
    expect(schema.error).toMatch(/event_time/)
    const bytes = Buffer.from("{nope")
    expect(dead(bytes)).toMatchObject({ topic: "transaction_stream", partition: 3, offset: 7, raw: bytes, key: Buffer.from("k") })
  })

  it("dead-letters every malformed kind the generator makes, each for its reason", () => {
    const t = makeTransactionGenerator({ seed: 5 })()
    expect(Object.fromEntries(BadKinds.map((kind) => [kind, dead(malformed(kind, t)).kind]))).toEqual({
      "not-json": "not-json",
      "not-utf8": "not-utf8",
      empty: "empty",
      "missing-field": "schema",
      "bad-type": "schema",
      "bad-enum": "schema",
      "negative-amount": "schema",
      "bad-date": "schema"
    })
  })
})
