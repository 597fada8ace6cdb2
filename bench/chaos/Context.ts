/**
 * The chaos run's shared resources: the shared broker and MySQL it is given, and the private broker,
 * MariaDB and three-broker cluster in containers it starts on first use and stops (deleting their
 * data) when the run ends.
 */
import { tmpdir } from "node:os"
import * as path from "node:path"
import { choose } from "../../test/images/Images.ts"
import { type KafkaCluster, startKafka } from "../../test/support/Containers.ts"
import type { ChaosContext } from "./Lab.ts"
import { type PrivateBroker, startPrivateBroker } from "./PrivateBroker.ts"
import { type PrivateMariaDb, startPrivateMariaDb } from "./PrivateMariaDb.ts"

export interface ChaosContextOptions {
  readonly root: string
  readonly brokers: ReadonlyArray<string>
  readonly mysqlServer: string
  readonly quick: boolean
  readonly keep: boolean
  readonly log: (line: string) => void
}

/** A context whose private servers start lazily; `release` stops whichever were started. */
export const makeChaosContext = (options: ChaosContextOptions): { readonly ctx: ChaosContext; readonly release: () => Promise<void> } => {
  let mariadb: Promise<PrivateMariaDb> | undefined
  let broker: Promise<PrivateBroker> | undefined
  let cluster: Promise<KafkaCluster> | undefined
  const startCluster = async (): Promise<KafkaCluster> => {
    // Testcontainers' reaper is an image of its own, which no registry may serve: what starts here stops in `release`.
    process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true"
    const image = choose("kafka")
    const startedAt = Date.now()
    const started = await startKafka(image.name, 3)
    options.log(`three-broker cluster from ${image.name} (${image.origin}) on ${started.brokers}, answering after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`)
    return started
  }
  const ctx: ChaosContext = {
    ...options,
    privateMariaDb: () => (mariadb ??= startPrivateMariaDb(path.join(tmpdir(), `sluice-chaos-mariadb-${process.pid}`), options.log)),
    privateBroker: () => (broker ??= startPrivateBroker(path.join(options.root, ".cache", "chaos"), options.log)),
    kafkaCluster: () => (cluster ??= startCluster())
  }
  const release = async () => {
    const stops = [
      mariadb?.then((m) => m.destroy()),
      broker?.then((b) => b.destroy()),
      cluster?.then((c) => c.remove())
    ].filter((p) => p !== undefined)
    for (const result of await Promise.allSettled(stops)) {
      if (result.status === "rejected") options.log(`stopping a private server: ${(result.reason as Error).message}`)
    }
  }
  return { ctx, release }
}
