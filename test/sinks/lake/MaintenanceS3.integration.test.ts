/**
 * Compaction, retention, vacuum and log cleanup on a lake in a bucket (the stack's S3Proxy): the
 * same suites as on a local folder (`MaintenanceContract.ts`), each test under a prefix of its own.
 */
import { describe, inject } from "vitest"
import { s3Stores } from "../../support/S3.ts"
import { compactionContract, retentionContract, vacuumContract } from "./MaintenanceContract.ts"

const s3 = inject("s3")
const open = s3Stores("maintenance")

describe.skipIf(s3 === null)("a lake in a bucket", () => {
  compactionContract("an S3 bucket", open)
  retentionContract("an S3 bucket", open)
  vacuumContract("an S3 bucket", open)
})
