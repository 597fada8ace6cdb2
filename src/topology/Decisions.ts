/**
 * Decisions: everything besides a record's bytes that decides what it becomes (the decoder's
 * reference data such as EUR rates or a blacklist, the size cap), as one versioned value. Every
 * commit names the version it used, so that a replay of an offset decides it exactly as before.
 */
import { createHash } from "node:crypto"
import type { DecodePolicy, ValueDecoder } from "./Decode.ts"

/** The decisions of a flow at one version. */
export interface Decisions<T, S = unknown> {
  /** A 48-bit hash of `content`: equal content, equal version, on any instance. */
  readonly version: number
  /** Canonical JSON from which `restore` rebuilds these decisions; kept by the sinks. */
  readonly content: string
  readonly decode: ValueDecoder<T>
  readonly policy: DecodePolicy
  /** The reference data processors read (a blacklist, say), at this version. */
  readonly state: S
  /** One line for `sluice topology` and the start-up log: what these decisions hold. */
  readonly summary: string
}

/** Where a flow's decisions come from. */
export interface DecisionSource<T, S = unknown> {
  /** The decisions in force now (they may change while the service runs: a window keeps the ones it opened with). */
  readonly current: () => Decisions<T, S>
  /** Rebuilds the decisions a commit recorded, from their stored content; throws when it is not theirs. */
  readonly restore: (content: string) => Decisions<T, S>
}

/** The version of decisions content: the first 48 bits of its SHA-256, exact in a JS number and a Delta txn. */
export const decisionsVersion = (content: string): number =>
  Number.parseInt(createHash("sha256").update(content).digest("hex").slice(0, 12), 16)

/** A version as it is printed and named in files: 12 hex digits. */
export const formatVersion = (version: number): string => version.toString(16).padStart(12, "0")
