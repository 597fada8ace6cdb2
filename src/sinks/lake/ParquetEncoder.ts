/**
 * Where Parquet files are encoded: in worker threads (so that encoding uses another core while
 * this one decodes and builds the next window), or in this thread when no worker is wanted. Delta
 * checkpoints too: a table's whole state, whose encoding would hold the writer's thread for seconds.
 */
import { Worker } from "node:worker_threads"
import { type Table, tableToIPC } from "apache-arrow"
import { Data, Effect, type Scope } from "effect"
import { encodeCheckpoint } from "./Checkpoint.ts"
import type { Action } from "./DeltaAction.ts"
import { type Compression, encodeParquetIpc } from "./ParquetFile.ts"
import type { EncodeRequest, EncodeResponse } from "./ParquetWorker.ts"

export class ParquetEncodeError extends Data.TaggedError("ParquetEncodeError")<{ readonly reason: string }> {
  override get message(): string {
    return `Parquet encoding failed: ${this.reason}`
  }
}

export interface ParquetEncoder {
  readonly encode: (table: Table, compression: Compression) => Effect.Effect<Uint8Array, ParquetEncodeError>
  /** A classic checkpoint of these actions (see `encodeCheckpoint`), built and encoded where the encoder runs. */
  readonly encodeCheckpoint: (actions: ReadonlyArray<Action>) => Effect.Effect<Uint8Array, ParquetEncodeError>
}

/** Encodes in this thread. */
export const inlineEncoder: ParquetEncoder = {
  encode: (table, compression) =>
    Effect.try({
      try: () => encodeParquetIpc(tableToIPC(table, "stream"), compression),
      catch: (e) => new ParquetEncodeError({ reason: (e as Error).message })
    }),
  encodeCheckpoint: (actions) =>
    Effect.try({
      try: () => encodeCheckpoint(actions),
      catch: (e) => new ParquetEncodeError({ reason: (e as Error).message })
    })
}

interface Slot {
  readonly worker: Worker
  pending: number
}

/** A pool of `size` encoding workers for the life of the scope (inline when `size` is 0). */
export const makeParquetEncoder = (size: number): Effect.Effect<ParquetEncoder, never, Scope.Scope> =>
  size <= 0
    ? Effect.succeed(inlineEncoder)
    : Effect.gen(function*() {
      const waiting = new Map<number, (r: EncodeResponse) => void>()
      let nextId = 0
      const slots = yield* Effect.acquireRelease(
        Effect.sync(() =>
          Array.from({ length: size }, (): Slot => {
            const worker = new Worker(new URL("./ParquetWorker.ts", import.meta.url))
            worker.unref()
            worker.on("message", (response: EncodeResponse) => {
              const resolve = waiting.get(response.id)
              waiting.delete(response.id)
              resolve?.(response)
            })
            worker.on("error", (error) => {
              for (const [id, resolve] of waiting) resolve({ id, error: `encoder worker failed: ${error.message}` })
              waiting.clear()
            })
            return { worker, pending: 0 }
          })
        ),
        (all) => Effect.promise(() => Promise.all(all.map((s) => s.worker.terminate())))
      )
      /** Sends a request to the least busy worker; `transfer` moves its buffers there instead of copying them. */
      const send = (request: (id: number) => EncodeRequest, transfer: ReadonlyArray<ArrayBuffer>) =>
        Effect.suspend(() => {
          const slot = slots.reduce((a, b) => (b.pending < a.pending ? b : a))
          const id = nextId++
          slot.pending++
          return Effect.callback<Uint8Array, ParquetEncodeError>((resume) => {
            waiting.set(id, (response) => {
              slot.pending--
              resume("bytes" in response ? Effect.succeed(response.bytes) : Effect.fail(new ParquetEncodeError({ reason: response.error })))
            })
            slot.worker.postMessage(request(id), [...transfer])
          })
        })
      const encode = (table: Table, compression: Compression) =>
        Effect.suspend(() => {
          const ipc = tableToIPC(table, "stream")
          return send((id) => ({ id, ipc, compression }), [ipc.buffer as ArrayBuffer])
        })
      // The actions are copied to the worker (structured clone, native code); building the Arrow
      // columns and the Parquet file from them happens there.
      const encodeCheckpoint = (actions: ReadonlyArray<Action>) => send((id) => ({ id, checkpoint: actions }), [])
      return { encode, encodeCheckpoint }
    })
