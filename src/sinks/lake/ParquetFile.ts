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

const properties = new Map<Compression, () => ReturnType<WriterPropertiesBuilder["build"]>>()

const writerProperties = (compression: Compression) => {
  let make = properties.get(compression)
  if (make === undefined) {
    // WriterProperties are consumed by writeParquet, so a fresh one is built per file.
    make = () =>
      new WriterPropertiesBuilder()
        .setCompression(codecs[compression])
        .setStatisticsEnabled(EnabledStatistics.Chunk)
        .setMaxRowGroupSize(1 << 20)
        .setCreatedBy("sluice")
        .build()
    properties.set(compression, make)
  }
  return make()
}

/** Encodes an Arrow table as one Parquet file. */
export const encodeParquet = (table: Table, compression: Compression = "zstd"): Uint8Array => {
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(table, "stream"))
  return writeParquet(wasmTable, writerProperties(compression))
}

/** Decodes a whole Parquet file into an Arrow table. */
export const decodeParquet = (bytes: Uint8Array): Table => {
  const wasmTable = readParquet(bytes)
  return tableFromIPC(wasmTable.intoIPCStream())
}
