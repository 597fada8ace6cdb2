/**
 * The lake store contract against a real S3 server (the stack's S3Proxy, started by the integration
 * setup), each test under a prefix of its own; and how S3's failures are told apart: a missing
 * bucket and bad credentials fail for good, an endpoint that does not answer may come back.
 */
import { Effect } from "effect"
import { describe, expect, inject, it } from "vitest"
import { MIN_PART_SIZE } from "../../../../src/sinks/lake/store/S3Store.ts"
import { failureOf } from "../../../support/Failure.ts"
import { s3Stores } from "../../../support/S3.ts"
import { storeContract } from "./StoreContract.ts"

const s3 = inject("s3")
/** A store of the S3 server, closed after the file's tests. */
const open = s3Stores("contract")

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
