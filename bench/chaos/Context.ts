/**
 * The chaos run's shared resources: the shared broker and MySQL it is given, and the private broker
 * and MariaDB it starts on first use and stops (deleting their data) when the run ends.
 */
import { tmpdir } from "node:os"
import * as path from "node:path"
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
  const ctx: ChaosContext = {
    ...options,
    privateMariaDb: () => (mariadb ??= startPrivateMariaDb(path.join(tmpdir(), `sluice-chaos-mariadb-${process.pid}`), options.log)),
    privateBroker: () => (broker ??= startPrivateBroker(path.join(options.root, ".cache", "chaos"), options.log))
  }
  const release = async () => {
    const stops = [
      mariadb?.then((m) => m.destroy()),
      broker?.then((b) => b.destroy())
    ].filter((p) => p !== undefined)
    for (const result of await Promise.allSettled(stops)) {
      if (result.status === "rejected") options.log(`stopping a private server: ${(result.reason as Error).message}`)
    }
  }
  return { ctx, release }
}
