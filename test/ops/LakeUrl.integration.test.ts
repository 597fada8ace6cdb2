/**
 * A lake in a bucket that cannot be used is refused at start-up with one line that says why, and
 * at once when waiting cannot help: a malformed URL, a missing bucket, no shared pseudonym key. The
 * S3 secret appears in no output.
 */
import { afterAll, describe, expect, inject, it } from "vitest"
import { runSluice, sandbox } from "../support/Sluice.ts"

const s3 = inject("s3")
const box = s3 === null ? undefined : sandbox("lakeurl", inject("kafkaBrokers"), {}, undefined, { s3 })
afterAll(() => box?.cleanup())

/** The line `sluice` ends a failed run with. */
const reason = (output: string) => output.split("\n").filter((l) => l.startsWith("sluice")).at(-1)

describe.skipIf(box === undefined)("a lake URL sluice cannot use", () => {
  it("is refused at start-up, in one line, without waiting and without the secret", async () => {
    const { env, topic } = box!
    const created = await runSluice(["produce", "--topic", topic, "--messages", "10", "--partitions", "1"], env)
    expect(created.code, created.output).toBe(0)

    const malformed = await runSluice(["run", "--until-idle", "500"], { ...env, SLUICE_LAKE_URL: "gs://sluice/lake" })
    expect(malformed.code).toBe(1)
    expect(reason(malformed.output)).toBe("sluice: SLUICE_LAKE_URL: gs://sluice/lake: unsupported scheme gs; expected file:///path/to/lake or s3://bucket/prefix")

    const started = Date.now()
    const missing = await runSluice(["run", "--until-idle", "500"], { ...env, SLUICE_LAKE_URL: "s3://sluice-no-such-bucket/lake" })
    expect(missing.code).toBe(1)
    expect(reason(missing.output)).toMatch(/^sluice: put-if-absent s3:\/\/sluice-no-such-bucket\/lake\/_sluice\/probe-[0-9a-f-]+: The specified bucket does not exist \(NoSuchBucket, HTTP 404\)$/)
    // A missing bucket does not come back by itself: not waited for like an endpoint that is away.
    expect(Date.now() - started).toBeLessThan(30_000)

    const keyless = await runSluice(["run", "--until-idle", "500"], { ...env, SLUICE_ANONYMIZATION_KEY: undefined })
    expect(keyless.code).toBe(1)
    expect(reason(keyless.output)).toMatch(/^sluice: anonymization key: the lake is in a bucket .* SLUICE_ANONYMIZATION_KEY/)

    for (const run of [malformed, missing, keyless]) expect(run.output).not.toContain(s3!.secretAccessKey)
  })
})
