/**
 * What a seeded `sluice produce` run sent, recomputed from the same generator: the numbers the
 * exactly-once tests expect to find in the lake and the warehouse.
 */
import { Result } from "effect"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { decodeTransaction } from "../../src/domain/Transaction.ts"

export interface Produced {
  readonly valid: number
  readonly malformed: number
  /** Valid transactions whose status is not `failed`: what the warehouse facts count. */
  readonly counted: number
}

export const expectedFromProduce = (messages: number, seed: number, badRatio: number): Produced => {
  const next = makeMessageGenerator({ seed, badRatio })
  let valid = 0
  let counted = 0
  for (let i = 0; i < messages; i++) {
    const m = next()
    if (m.bad !== undefined) continue
    valid += 1
    if (Result.getOrThrow(decodeTransaction(JSON.parse(m.value.toString("utf8")))).status !== "failed") counted += 1
  }
  return { valid, malformed: messages - valid, counted }
}
