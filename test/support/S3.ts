/**
 * Stores on the integration setup's S3 server (the stack's S3Proxy), each under a prefix of its
 * own and closed after the file's tests.
 */
import { randomBytes } from "node:crypto"
import { Effect, Exit, Scope } from "effect"
import { afterAll, inject } from "vitest"
import { makeS3Store, MIN_PART_SIZE, type S3StoreOptions } from "../../src/sinks/lake/store/S3Store.ts"
import type { Store } from "../../src/sinks/lake/store/Store.ts"

/** Opens stores whose prefixes start with `prefix`; call it at a file's top level (it registers the teardown). */
export const s3Stores = (prefix: string) => {
  const s3 = inject("s3")
  const scopes: Array<() => Promise<void>> = []
  afterAll(async () => {
    for (const close of scopes.splice(0)) await close()
  })
  return async (overrides: Partial<S3StoreOptions> = {}): Promise<Store> => {
    const scope = await Effect.runPromise(Scope.make())
    scopes.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
    return Effect.runPromise(
      makeS3Store({
        bucket: s3!.bucket,
        prefix: `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString("hex")}/`,
        endpoint: s3!.endpoint,
        region: s3!.region,
        forcePathStyle: true,
        partSize: MIN_PART_SIZE,
        credentials: { accessKeyId: s3!.accessKeyId, secretAccessKey: s3!.secretAccessKey },
        ...overrides
      }).pipe(Scope.provide(scope))
    )
  }
}
