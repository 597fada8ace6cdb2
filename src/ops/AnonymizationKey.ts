/**
 * The secret key of the anonymized feed's pseudonyms: `SLUICE_ANONYMIZATION_KEY` (hex) when it is
 * set, else the key file (`SLUICE_ANONYMIZATION_KEY_FILE`, default `<lake's parent>/anonymization.key`),
 * generated at first use with mode 0600 so only the service's user can read it. Instances that
 * must give a user the same pseudonym share the key: for a lake in a bucket, written from several
 * machines, there is no default file, and the key must be given.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Data, Effect, Redacted } from "effect"
import { MIN_KEY_BYTES } from "../domain/Anonymize.ts"

export class AnonymizationKeyUnavailable extends Data.TaggedError("AnonymizationKeyUnavailable")<{ readonly reason: string }> {
  override get message(): string {
    return `anonymization key: ${this.reason}`
  }
}

/** Where the key comes from. */
export interface KeySettings {
  readonly key: Redacted.Redacted<string> | undefined
  /** Undefined when no file may stand in (a lake shared by several machines). */
  readonly file: string | undefined
}

/** The default key file: beside the lake folder, not in it (the lake is for readers). */
export const defaultKeyFile = (lakeDir: string): string => path.join(path.dirname(path.resolve(lakeDir)), "anonymization.key")

const fromHex = (text: string, where: string) =>
  Effect.gen(function*() {
    const hex = text.trim()
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length % 2 !== 0 || hex.length < MIN_KEY_BYTES * 2) {
      return yield* new AnonymizationKeyUnavailable({ reason: `${where} must hold at least ${MIN_KEY_BYTES * 2} hex digits (${MIN_KEY_BYTES} random bytes)` })
    }
    return Buffer.from(hex, "hex")
  })

/** The key, and where it came from (for the start-up line; never the key itself). */
export const loadAnonymizationKey = (settings: KeySettings): Effect.Effect<{ readonly key: Buffer; readonly origin: string }, AnonymizationKeyUnavailable> =>
  Effect.gen(function*() {
    if (settings.key !== undefined) {
      return { key: yield* fromHex(Redacted.value(settings.key), "SLUICE_ANONYMIZATION_KEY"), origin: "SLUICE_ANONYMIZATION_KEY" }
    }
    const file = settings.file
    if (file === undefined) {
      return yield* new AnonymizationKeyUnavailable({
        reason: "the lake is in a bucket that instances on several machines may write, and each would make a key file of its own " +
          "(the same user would get different pseudonyms): give every instance the same key, in SLUICE_ANONYMIZATION_KEY (hex) " +
          "or a file named by SLUICE_ANONYMIZATION_KEY_FILE"
      })
    }
    const created = yield* Effect.tryPromise({
      try: async () => {
        await fs.mkdir(path.dirname(file), { recursive: true })
        // Written whole under a temporary name, then linked: of two instances starting together,
        // one creates the key and both read that one, never a half-written file.
        const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`
        const handle = await fs.open(tmp, "wx", 0o600)
        try {
          await handle.writeFile(`${randomBytes(MIN_KEY_BYTES).toString("hex")}\n`)
          await handle.sync()
        } finally {
          await handle.close()
        }
        try {
          return await fs.link(tmp, file).then(() => true, (e: NodeJS.ErrnoException) => (e.code === "EEXIST" ? false : Promise.reject(e)))
        } finally {
          await fs.unlink(tmp).catch(() => undefined)
        }
      },
      catch: (cause) => new AnonymizationKeyUnavailable({ reason: `cannot create ${file}: ${(cause as Error).message}` })
    })
    const text = yield* Effect.tryPromise({
      try: async () => {
        const mode = (await fs.stat(file)).mode & 0o077
        if (mode !== 0) throw new Error(`${file} can be read by other users (mode ${((await fs.stat(file)).mode & 0o777).toString(8)}); chmod 600 it`)
        return await fs.readFile(file, "utf8")
      },
      catch: (cause) => new AnonymizationKeyUnavailable({ reason: (cause as Error).message })
    })
    return { key: yield* fromHex(text, file), origin: created ? `${file} (created)` : file }
  })
