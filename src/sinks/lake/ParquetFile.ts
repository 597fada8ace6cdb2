/**
 * Parquet encoding and decoding of Arrow tables through parquet-wasm (the Rust `parquet` crate
 * compiled to WebAssembly): ZSTD by default, Snappy by option, column statistics on.
 */
import { type Table, tableFromIPC, tableToIPC } from "apache-arrow"
import {
  Compression as WasmCompression,
  EnabledStatistics,
  readParquet,
  Table as WasmTable,
  writeParquet,
  WriterPropertiesBuilder
} from "parquet-wasm"

export type Compression = "zstd" | "snappy" | "uncompressed"

const codecs: Record<Compression, WasmCompression> = {
  zstd: WasmCompression.ZSTD,
  snappy: WasmCompression.SNAPPY,
  uncompressed: WasmCompression.UNCOMPRESSED
}

// WriterProperties are consumed by writeParquet, so a fresh one is built per file.
const writerProperties = (compression: Compression) =>
  new WriterPropertiesBuilder()
    .setCompression(codecs[compression])
    .setStatisticsEnabled(EnabledStatistics.Chunk)
    .setMaxRowGroupSize(1 << 20)
    .setCreatedBy("sluice")
    .build()

/** Encodes an Arrow IPC stream (as `tableToIPC(table, "stream")` gives it) as one Parquet file. */
export const encodeParquetIpc = (ipc: Uint8Array, compression: Compression = "zstd"): Uint8Array =>
  writeParquet(WasmTable.fromIPCStream(ipc), writerProperties(compression))

/** Encodes an Arrow table as one Parquet file. */
export const encodeParquet = (table: Table, compression: Compression = "zstd"): Uint8Array =>
  encodeParquetIpc(tableToIPC(table, "stream"), compression)

/** Decodes a whole Parquet file into an Arrow table. */
export const decodeParquet = (bytes: Uint8Array): Table => {
  const wasmTable = readParquet(bytes)
  return tableFromIPC(wasmTable.intoIPCStream())
}
