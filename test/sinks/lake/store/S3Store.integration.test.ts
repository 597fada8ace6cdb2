/**
 * The lake store contract against a real S3 server (the stack's S3Proxy, started by the integration
 * setup), each test under a prefix of its own; and how S3's failures are told apart: a missing
 * bucket and bad credentials fail for good, an endpoint that does not answer may come back.
 */
import { randomBytes } from "node:crypto"
import { Effect, Exit, Scope } from "effect"
import { afterAll, describe, expect, inject, it } from "vitest"
import { makeS3Store, MIN_PART_SIZE, type S3StoreOptions } from "../../../../src/sinks/lake/store/S3Store.ts"
import type { Store } from "../../../../src/sinks/lake/store/Store.ts"
import { failureOf } from "../../../support/Failure.ts"
import { storeContract } from "./StoreContract.ts"

const s3 = inject("s3")
const scopes: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const close of scopes.splice(0)) await close()
})

/** A store of the S3 server, closed after the file's tests. */
const open = async (overrides: Partial<S3StoreOptions> = {}): Promise<Store> => {
  const scope = await Effect.runPromise(Scope.make())
  scopes.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return Effect.runPromise(
    makeS3Store({
      bucket: s3!.bucket,
      prefix: `contract-${Date.now().toString(36)}${randomBytes(3).toString("hex")}/`,
      endpoint: s3!.endpoint,
      region: s3!.region,
      forcePathStyle: true,
      partSize: MIN_PART_SIZE,
      credentials: { accessKeyId: s3!.accessKeyId, secretAccessKey: s3!.secretAccessKey },
      ...overrides
    }).pipe(Scope.provide(scope))
  )
}

describe.skipIf(s3 === null)("S3", () => {
  storeContract("an S3 bucket", () => ({
    make: () => open(),
    failing: () => open({ bucket: "sluice-no-such-bucket" }),
    partSize: MIN_PART_SIZE
  }))

  it("fails for good on a missing bucket and on bad credentials, saying which", async () => {
    const missing = await open({ bucket: "sluice-no-such-bucket" })
    const noBucket = failureOf(await Effect.runPromiseExit(missing.get("t/_delta_log/_last_checkpoint")))
    expect(noBucket).toMatchObject({ _tag: "LakeIOError", op: "read", transient: false })
    expect(noBucket.path).toMatch(/^s3:\/\/sluice-no-such-bucket\/contract-[0-9a-z]+\/t\/_delta_log\/_last_checkpoint$/)
    expect(noBucket.message).toMatch(/NoSuchBucket, HTTP 404/)
    const forged = await open({ credentials: { accessKeyId: s3!.accessKeyId, secretAccessKey: "not-the-secret" } })
    const denied = failureOf(await Effect.runPromiseExit(forged.putIfAbsent("t/_delta_log/0.json", "x")))
    expect(denied).toMatchObject({ _tag: "LakeIOError", op: "put-if-absent", transient: false })
    expect(denied.message).toMatch(/HTTP 403/)
    // The secret is in no message.
    expect(denied.message).not.toContain(s3!.secretAccessKey)
  })

  it("waits out an endpoint that does not answer: its failure is transient", async () => {
    const away = await open({ endpoint: "http://127.0.0.1:1" })
    const error = failureOf(await Effect.runPromiseExit(away.get("t/_delta_log/0.json")))
    expect(error).toMatchObject({ _tag: "LakeIOError", transient: true })
    expect(error.message).toMatch(/ECONNREFUSED/)
  })
})
