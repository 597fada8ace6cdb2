/**
 * A worker thread that encodes Parquet: it receives Arrow IPC streams (or a Delta checkpoint's
 * actions) and answers with Parquet bytes, transferred without copying, so encoding runs on another core.
 */
import { parentPort } from "node:worker_threads"
import { wasmMemory } from "parquet-wasm"
import { encodeCheckpoint } from "./Checkpoint.ts"
import type { Action } from "./DeltaAction.ts"
import { type Compression, encodeParquetIpc } from "./ParquetFile.ts"

export type EncodeRequest =
  | { readonly id: number; readonly ipc: Uint8Array; readonly compression: Compression }
  | { readonly id: number; readonly checkpoint: ReadonlyArray<Action> }

/** Each answer carries the size of the worker's WebAssembly memory, which grows and never shrinks. */
export type EncodeResponse =
  | { readonly id: number; readonly bytes: Uint8Array; readonly wasmBytes: number }
  | { readonly id: number; readonly error: string; readonly wasmBytes: number }

parentPort?.on("message", (request: EncodeRequest) => {
  let response: EncodeResponse
  try {
    const bytes = "checkpoint" in request ? encodeCheckpoint(request.checkpoint) : encodeParquetIpc(request.ipc, request.compression)
    response = { id: request.id, bytes, wasmBytes: wasmMemory().buffer.byteLength }
    // The IPC bytes go back too: a buffer this thread received is freed only by this thread's
    // collector, which its few allocations seldom run, so every window's copy stayed resident.
    const transfer = [bytes.buffer as ArrayBuffer]
    if ("ipc" in request) transfer.push(request.ipc.buffer as ArrayBuffer)
    parentPort!.postMessage(response, transfer)
  } catch (e) {
    response = { id: request.id, error: (e as Error).message ?? String(e), wasmBytes: wasmMemory().buffer.byteLength }
    parentPort!.postMessage(response)
  }
})
