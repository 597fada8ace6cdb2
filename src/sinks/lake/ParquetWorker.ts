/**
 * A worker thread that encodes Parquet: it receives Arrow IPC streams and answers with Parquet
 * bytes, both transferred without copying, so encoding runs on another core.
 */
import { parentPort } from "node:worker_threads"
import { wasmMemory } from "parquet-wasm"
import { type Compression, encodeParquetIpc } from "./ParquetFile.ts"

export interface EncodeRequest {
  readonly id: number
  readonly ipc: Uint8Array
  readonly compression: Compression
}

/** Each answer carries the size of the worker's WebAssembly memory, which grows and never shrinks. */
export type EncodeResponse =
  | { readonly id: number; readonly bytes: Uint8Array; readonly wasmBytes: number }
  | { readonly id: number; readonly error: string; readonly wasmBytes: number }

parentPort?.on("message", (request: EncodeRequest) => {
  let response: EncodeResponse
  try {
    const bytes = encodeParquetIpc(request.ipc, request.compression)
    response = { id: request.id, bytes, wasmBytes: wasmMemory().buffer.byteLength }
    parentPort!.postMessage(response, [bytes.buffer as ArrayBuffer])
  } catch (e) {
    response = { id: request.id, error: (e as Error).message ?? String(e), wasmBytes: wasmMemory().buffer.byteLength }
    parentPort!.postMessage(response)
  }
})
