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

/**
 * A worker whose WebAssembly memory has grown past this is replaced once it has answered: that
 * memory never shrinks, and encoding a window takes about three times its Arrow bytes (a 15 MB
 * Arrow table took parquet-wasm's memory from 2 to 50 MB), so one large window would otherwise
 * stay resident for the life of the process.
 */
export const WORKER_WASM_LIMIT_BYTES = 64 * 1024 * 1024

/** A window's table, or a checkpoint's actions (copied to the worker, where its columns are built). */
type Work =
  | { readonly table: Table; readonly compression: Compression }
  | { readonly checkpoint: ReadonlyArray<Action> }

interface Job {
  readonly work: Work
  readonly resume: (response: EncodeResponse) => void
}

interface Slot {
  worker: Worker
  /** The one encode this worker is doing: the next table is turned into IPC bytes only when it is free. */
  job: Job | undefined
}

/**
 * A pool of `size` encoding workers for the life of the scope (inline when `size` is 0). Each
 * worker encodes one table at a time and the others wait here as Arrow tables, so that no more
 * than one IPC copy per worker exists at once, however many partitions commit together.
 */
export const makeParquetEncoder = (
  size: number,
  wasmLimitBytes: number = WORKER_WASM_LIMIT_BYTES
): Effect.Effect<ParquetEncoder & { readonly workersReplaced: () => number }, never, Scope.Scope> =>
  size <= 0
    ? Effect.succeed({ ...inlineEncoder, workersReplaced: () => 0 })
    : Effect.gen(function*() {
      const queue: Array<Job> = []
      let nextId = 0
      let replaced = 0

      const finish = (slot: Slot, response: EncodeResponse) => {
        const job = slot.job
        slot.job = undefined
        if (response.wasmBytes > wasmLimitBytes) replace(slot)
        job?.resume(response)
        dispatch()
      }
      const start = (slot: Slot): Worker => {
        const worker = new Worker(new URL("./ParquetWorker.ts", import.meta.url))
        worker.unref()
        worker.on("message", (response: EncodeResponse) => {
          if (slot.worker === worker) finish(slot, response)
        })
        worker.on("error", (error) => {
          if (slot.worker !== worker) return
          replace(slot)
          if (slot.job !== undefined) finish(slot, { id: -1, error: `encoder worker failed: ${error.message}`, wasmBytes: 0 })
        })
        return worker
      }
      const replace = (slot: Slot) => {
        const old = slot.worker
        replaced++
        slot.worker = start(slot)
        void old.terminate()
      }
      const dispatch = () => {
        for (const slot of slots) {
          if (slot.job !== undefined) continue
          const job = queue.shift()
          if (job === undefined) return
          slot.job = job
          if ("checkpoint" in job.work) {
            const request: EncodeRequest = { id: nextId++, checkpoint: job.work.checkpoint }
            slot.worker.postMessage(request)
            continue
          }
          let ipc: Uint8Array
          try {
            ipc = tableToIPC(job.work.table, "stream")
          } catch (e) {
            slot.job = undefined
            job.resume({ id: -1, error: (e as Error).message, wasmBytes: 0 })
            continue
          }
          const request: EncodeRequest = { id: nextId++, ipc, compression: job.work.compression }
          slot.worker.postMessage(request, [ipc.buffer as ArrayBuffer])
        }
      }

      const slots = yield* Effect.acquireRelease(
        Effect.sync(() =>
          Array.from({ length: size }, (): Slot => {
            const slot: Slot = { worker: undefined as unknown as Worker, job: undefined }
            slot.worker = start(slot)
            return slot
          })
        ),
        (all) => Effect.promise(() => Promise.all(all.map((s) => s.worker.terminate())))
      )
      const submit = (work: Work) =>
        Effect.callback<Uint8Array, ParquetEncodeError>((resume) => {
          const job: Job = {
            work,
            resume: (response) =>
              resume("bytes" in response ? Effect.succeed(response.bytes) : Effect.fail(new ParquetEncodeError({ reason: response.error })))
          }
          queue.push(job)
          dispatch()
          // An interrupted encode still waiting leaves the queue; one being encoded finishes unheard.
          return Effect.sync(() => {
            const at = queue.indexOf(job)
            if (at >= 0) queue.splice(at, 1)
          })
        })
      return {
        encode: (table: Table, compression: Compression) => submit({ table, compression }),
        encodeCheckpoint: (actions: ReadonlyArray<Action>) => submit({ checkpoint: actions }),
        workersReplaced: () => replaced
      }
    })
