/**
 * Compaction, retention, vacuum and log cleanup on a lake in a bucket (the stack's S3Proxy): the
 * same suites as on a local folder (`MaintenanceContract.ts`), each test under a prefix of its own.
 */
import { randomBytes } from "node:crypto"
import { Effect, Exit, Scope } from "effect"
import { afterAll, describe, inject } from "vitest"
import { makeS3Store, MIN_PART_SIZE } from "../../../src/sinks/lake/store/S3Store.ts"
import type { Store } from "../../../src/sinks/lake/store/Store.ts"
import { compactionContract, retentionContract, vacuumContract } from "./MaintenanceContract.ts"

const s3 = inject("s3")
const scopes: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const close of scopes.splice(0)) await close()
})

const open = async (): Promise<Store> => {
  const scope = await Effect.runPromise(Scope.make())
  scopes.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return Effect.runPromise(
    makeS3Store({
      bucket: s3!.bucket,
      prefix: `maintenance-${Date.now().toString(36)}${randomBytes(3).toString("hex")}/`,
      endpoint: s3!.endpoint,
      region: s3!.region,
      forcePathStyle: true,
      partSize: MIN_PART_SIZE,
      credentials: { accessKeyId: s3!.accessKeyId, secretAccessKey: s3!.secretAccessKey }
    }).pipe(Scope.provide(scope))
  )
}

describe.skipIf(s3 === null)("a lake in a bucket", () => {
  compactionContract("an S3 bucket", open)
  retentionContract("an S3 bucket", open)
  vacuumContract("an S3 bucket", open)
})
