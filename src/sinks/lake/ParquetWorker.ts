/**
 * A worker thread that encodes Parquet: it receives Arrow IPC streams (or a Delta checkpoint's
 * actions) and answers with Parquet bytes, transferred without copying, so encoding runs on another core.
 */
import { parentPort } from "node:worker_threads"
import { encodeCheckpoint } from "./Checkpoint.ts"
import type { Action } from "./DeltaAction.ts"
import { type Compression, encodeParquetIpc } from "./ParquetFile.ts"

export type EncodeRequest =
  | { readonly id: number; readonly ipc: Uint8Array; readonly compression: Compression }
  | { readonly id: number; readonly checkpoint: ReadonlyArray<Action> }

export type EncodeResponse =
  | { readonly id: number; readonly bytes: Uint8Array }
  | { readonly id: number; readonly error: string }

parentPort?.on("message", (request: EncodeRequest) => {
  let response: EncodeResponse
  try {
    const bytes = "checkpoint" in request ? encodeCheckpoint(request.checkpoint) : encodeParquetIpc(request.ipc, request.compression)
    response = { id: request.id, bytes }
    parentPort!.postMessage(response, [bytes.buffer as ArrayBuffer])
  } catch (e) {
    response = { id: request.id, error: (e as Error).message ?? String(e) }
    parentPort!.postMessage(response)
  }
})
