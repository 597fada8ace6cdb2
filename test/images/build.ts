/**
 * `npm run test:images`: builds the local container images of the integration tests (test/images/
 * Images.ts) that are absent or stale, and reuses the others. Needs a running engine, and root plus
 * debootstrap for the base image.
 */
import { spawnSync } from "node:child_process"
import { Effect } from "effect"
import * as Stack from "../../src/ops/Stack.ts"
import * as KafkaBroker from "../../src/ops/stack/KafkaBroker.ts"
import * as Images from "./Images.ts"

const main = async () => {
  const started = Date.now()
  if (spawnSync("docker", ["info"], { stdio: "ignore" }).status !== 0) {
    throw new Error("no container engine answers (`docker info` fails): start dockerd first")
  }
  const options = await Effect.runPromise(Stack.stackOptions)
  const paths = { cacheDir: options.cacheDir, kafkaPort: options.kafkaPort, controllerPort: options.controllerPort }
  await Effect.runPromise(KafkaBroker.ensureJars(paths))
  const lines = await Images.buildAll(KafkaBroker.libsDir(paths))
  for (const line of lines) console.log(`[images] ${line}`)
  console.log(`[images] done in ${Math.round((Date.now() - started) / 1000)} s`)
}

main().catch((error: unknown) => {
  console.error(`test:images: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
