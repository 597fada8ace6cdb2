import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { describeLake, LakeUrlError, lakeLocator, parseLakeUrl } from "../../src/ops/LakeChoice.ts"
import { failureOf } from "../support/Failure.ts"

const parse = (text: string) => Effect.runPromise(parseLakeUrl(text, "SLUICE_LAKE_URL"))
const refusal = async (text: string) => failureOf(await Effect.runPromiseExit(parseLakeUrl(text, "SLUICE_LAKE_URL")))

describe("lake URLs", () => {
  it("read a folder from file:///", async () => {
    expect(await parse("file:///srv/lake")).toEqual({ kind: "file", dir: "/srv/lake", url: "file:///srv/lake" })
    expect(await parse("file://localhost/srv/my%20lake/")).toEqual({ kind: "file", dir: "/srv/my lake", url: "file:///srv/my%20lake" })
  })

  it("read a bucket and a prefix from s3://, the prefix ending in one slash", async () => {
    expect(await parse("s3://sluice/lake")).toEqual({ kind: "s3", bucket: "sluice", prefix: "lake/", url: "s3://sluice/lake" })
    expect(await parse("s3://my.bucket-1/a/b/")).toEqual({ kind: "s3", bucket: "my.bucket-1", prefix: "a/b/", url: "s3://my.bucket-1/a/b" })
    expect(await parse("s3://sluice")).toEqual({ kind: "s3", bucket: "sluice", prefix: "", url: "s3://sluice" })
  })

  it("refuse what is not a lake URL, saying what is expected", async () => {
    expect(await refusal("gs://bucket/lake")).toEqual(new LakeUrlError({
      source: "SLUICE_LAKE_URL",
      reason: "gs://bucket/lake: unsupported scheme gs; expected file:///path/to/lake or s3://bucket/prefix"
    }))
    expect((await refusal("./data/lake")).message).toBe('SLUICE_LAKE_URL: "./data/lake" is not a URL; expected file:///path/to/lake or s3://bucket/prefix')
    expect((await refusal("s3://Bad_Bucket/x")).reason).toBe('s3://Bad_Bucket/x: "Bad_Bucket" is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)')
    // `..`, spelled out or encoded, is resolved by the URL: no prefix climbs out of where it says.
    expect(await parse("s3://sluice/a/../b")).toMatchObject({ prefix: "b/" })
    expect(await parse("s3://sluice/a/%2E%2E/b")).toMatchObject({ prefix: "b/" })
    expect((await refusal("file://server/share/lake")).reason).toMatch(/not host server/)
  })

  it("refuse credentials in the URL, without echoing them", async () => {
    const error = await refusal("s3://AKIAEXAMPLE:s3cr3t@sluice/lake")
    expect(error.reason).toMatch(/credentials do not belong in the lake URL/)
    expect(error.message).not.toContain("s3cr3t")
  })

  it("name keys and the lake without opening it", async () => {
    const bucket = await parse("s3://sluice/lake")
    expect(lakeLocator(bucket)("streams/t")).toBe("s3://sluice/lake/streams/t")
    expect(lakeLocator(await parse("file:///srv/lake"))("streams/t")).toBe("/srv/lake/streams/t")
    expect(describeLake(bucket, { endpoint: "http://127.0.0.1:9000", region: undefined, partSize: 0 })).toBe("s3://sluice/lake (endpoint http://127.0.0.1:9000, path-style)")
    expect(describeLake(bucket, { endpoint: undefined, region: "eu-west-3", partSize: 0 })).toBe("s3://sluice/lake (AWS S3)")
    expect(describeLake(bucket, { endpoint: "https://key:s3cr3t@minio.example:9000", region: undefined, partSize: 0 })).toBe("s3://sluice/lake (endpoint https://***@minio.example:9000/, path-style)")
  })
})
