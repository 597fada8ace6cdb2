/**
 * The Fetch v13 API with a record reader of its own. The client's reader reads each field of each
 * record through a buffer made of the socket's chunks, searching them from the first at every read
 * (a 4 MB response is some 64 chunks), with a BigInt per timestamp and an array per varint. Here each
 * partition's records are read in one pass over its chunks; the response is otherwise the client's,
 * field for field.
 */
import {
  compressionsAlgorithmsByBitmask,
  createAPI,
  fetchV13,
  IS_COMPRESSED,
  type KafkaRecord,
  readKnownTaggedFields,
  Reader,
  type RecordsBatch,
  ResponseError
} from "@platformatic/kafka"

/** A record as read here: the client's, with the timestamp delta a number (no BigInt per record). */
export type FetchedRecord = Omit<KafkaRecord, "timestampDelta"> & { readonly timestampDelta: number }

/** A record batch as read here. */
export type FetchedBatch = Omit<RecordsBatch, "records"> & { readonly records: Array<FetchedRecord> }

export type FetchResponse = Omit<fetchV13.FetchResponse, "responses"> & {
  readonly responses: Array<
    Omit<fetchV13.FetchResponse["responses"][number], "partitions"> & {
      partitions: Array<Omit<fetchV13.FetchResponsePartition, "records"> & { records: Array<FetchedBatch> | null }>
    }
  >
}

/** Bytes before a batch's `length` field is counted: firstOffset (8) and length (4). */
const BATCH_HEAD = 12
/** Bytes of a batch's header after those, up to its first record (v2 format). */
const HEADER_REST = 49
const NO_HEADERS: Array<[Buffer | null, Buffer | null]> = []

/**
 * A cursor over bytes held in chunks, as the socket delivered them: read in place, a field copied
 * only when it spans two chunks (copying a whole partition's records made the process fault in
 * fresh pages for every fetch).
 */
class Cursor {
  readonly #chunks: ReadonlyArray<Buffer>
  #index = 0
  /** Bytes of the chunks before the current one. */
  #base = 0
  chunk: Buffer
  at = 0

  constructor(chunks: ReadonlyArray<Buffer>) {
    this.#chunks = chunks
    this.chunk = chunks[0] ?? Buffer.alloc(0)
  }

  get position(): number {
    return this.#base + this.at
  }

  #next(): void {
    do {
      this.#base += this.chunk.length
      this.#index++
      const next = this.#chunks[this.#index]
      if (next === undefined) throw new RangeError("record batch ends early")
      this.chunk = next
      this.at = 0
    } while (this.chunk.length === 0)
  }

  byte(): number {
    if (this.at >= this.chunk.length) this.#next()
    return this.chunk[this.at++]!
  }

  /** The next `n` bytes: a view of the chunk, or a copy where they span chunks. */
  take(n: number): Buffer {
    if (this.at + n <= this.chunk.length) {
      const view = this.chunk.subarray(this.at, this.at + n)
      this.at += n
      return view
    }
    const out = Buffer.allocUnsafe(n)
    for (let filled = 0; filled < n;) {
      if (this.at >= this.chunk.length) this.#next()
      const k = Math.min(n - filled, this.chunk.length - this.at)
      this.chunk.copy(out, filled, this.at, this.at + k)
      this.at += k
      filled += k
    }
    return out
  }

  skip(n: number): void {
    while (n > 0) {
      if (this.at >= this.chunk.length) this.#next()
      const k = Math.min(n, this.chunk.length - this.at)
      this.at += k
      n -= k
    }
  }

  /** A zig-zag varint of at most 32 bits. */
  varInt(): number {
    let value = 0
    let shift = 0
    let byte: number
    do {
      byte = this.byte()
      value |= (byte & 0x7f) << shift
      shift += 7
    } while (byte >= 0x80 && shift < 35)
    return (value >>> 1) ^ -(value & 1)
  }

  /** A zig-zag varint of up to 64 bits, as a number (exact up to 2^53). */
  varLong(): number {
    let value = 0
    let scale = 1
    let byte: number
    do {
      byte = this.byte()
      value += (byte & 0x7f) * scale
      scale *= 128
    } while (byte >= 0x80 && scale < 2 ** 70)
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2
  }

  bytes(): Buffer | null {
    const length = this.varInt()
    return length < 0 ? null : this.take(length)
  }
}

const readRecords = (cursor: Cursor, count: number): Array<FetchedRecord> => {
  const records: Array<FetchedRecord> = []
  for (let i = 0; i < count; i++) {
    const length = cursor.varInt()
    const attributes = (cursor.byte() << 24) >> 24
    const timestampDelta = cursor.varLong()
    const offsetDelta = cursor.varInt()
    const key = cursor.bytes()
    const value = cursor.bytes()
    const headerCount = cursor.varInt()
    let headers = NO_HEADERS
    if (headerCount > 0) {
      headers = []
      for (let h = 0; h < headerCount; h++) headers.push([cursor.bytes(), cursor.bytes()])
    }
    records.push({ length, attributes, timestampDelta, offsetDelta, key, value, headers })
  }
  return records
}

/**
 * The record batches of one partition's records (one buffer, or the chunks it arrived in), whole
 * batches only: a fetch may end inside one.
 */
export const readBatches = (data: Buffer | ReadonlyArray<Buffer>): Array<FetchedBatch> => {
  const chunks = Buffer.isBuffer(data) ? [data] : data
  let total = 0
  for (const c of chunks) total += c.length
  const cursor = new Cursor(chunks)
  const batches: Array<FetchedBatch> = []
  while (total - cursor.position >= BATCH_HEAD) {
    const start = cursor.position
    const head = cursor.take(BATCH_HEAD)
    const length = head.readInt32BE(8)
    if (total - start - BATCH_HEAD < length) break
    const end = start + BATCH_HEAD + length
    const h = cursor.take(HEADER_REST)
    const attributes = h.readInt16BE(9)
    const count = h.readInt32BE(45)
    const compression = attributes & IS_COMPRESSED
    let records: Array<FetchedRecord>
    if (compression === 0) {
      records = readRecords(cursor, count)
      if (cursor.position < end) cursor.skip(end - cursor.position)
    } else {
      const algorithm = compressionsAlgorithmsByBitmask[compression]
      if (!algorithm) throw new Error(`Unsupported compression algorithm with bitmask ${compression}`)
      records = readRecords(new Cursor([algorithm.decompressSync(cursor.take(end - cursor.position)) as Buffer]), count)
    }
    batches.push({
      firstOffset: head.readBigInt64BE(0),
      length,
      partitionLeaderEpoch: h.readInt32BE(0),
      magic: h.readInt8(4),
      crc: h.readUInt32BE(5),
      attributes,
      lastOffsetDelta: h.readInt32BE(11),
      firstTimestamp: h.readBigInt64BE(15),
      maxTimestamp: h.readBigInt64BE(23),
      producerId: h.readBigInt64BE(31),
      producerEpoch: h.readInt16BE(39),
      firstSequence: h.readInt32BE(41),
      records
    })
  }
  return batches
}

/** The client's Fetch v13 response parser, with the records read by `readBatches`. */
export function parseResponse(_correlationId: number, apiKey: number, apiVersion: number, reader: Reader): FetchResponse {
  const errors: Array<[string, [number, null]]> = []
  const throttleTimeMs = reader.readInt32()
  const errorCode = reader.readInt16()
  if (errorCode !== 0) errors.push(["/", [errorCode, null]])
  const response: FetchResponse = {
    throttleTimeMs,
    errorCode,
    sessionId: reader.readInt32(),
    responses: reader.readArray((r, i) => ({
      topicId: r.readUUID(),
      partitions: r.readArray((r, j) => {
        const partition: FetchResponse["responses"][number]["partitions"][number] = {
          partitionIndex: r.readInt32(),
          errorCode: r.readInt16(),
          highWatermark: r.readInt64(),
          lastStableOffset: r.readInt64(),
          logStartOffset: r.readInt64(),
          divergingEpoch: { epoch: -1, endOffset: -1n },
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
          snapshotId: { endOffset: -1n, epoch: -1 },
          abortedTransactions: r.readNullableArray((r) => ({ producerId: r.readInt64(), firstOffset: r.readInt64() })),
          preferredReadReplica: r.readInt32(),
          records: []
        }
        if (partition.errorCode !== 0) errors.push([`/responses/${i}/partitions/${j}`, [partition.errorCode, null]])
        // COMPACT_RECORDS: the size is one more than the bytes that follow.
        let recordsSize = r.readUnsignedVarInt()
        if (recordsSize === 0) partition.records = null
        if (recordsSize > 1) {
          recordsSize--
          partition.records = readBatches(r.buffer.subarray(r.position, r.position + recordsSize).buffers)
          r.skip(recordsSize)
        }
        readKnownTaggedFields(r, {
          0: (r) => {
            partition.divergingEpoch = { epoch: r.readInt32(), endOffset: r.readInt64() }
          },
          1: (r) => {
            partition.currentLeader = { leaderId: r.readInt32(), leaderEpoch: r.readInt32() }
          },
          2: (r) => {
            partition.snapshotId = { endOffset: r.readInt64(), epoch: r.readInt32() }
          }
        })
        return partition
      }, true, false)
    }))
  }
  readKnownTaggedFields(reader, {})
  if (errors.length) throw new ResponseError(apiKey, apiVersion, Object.fromEntries(errors), response)
  return response
}

/** Fetch v13: the client's request, this module's response parser. */
export const fetchApi = createAPI<Parameters<typeof fetchV13.createRequest>, FetchResponse>(1, 13, fetchV13.createRequest, parseResponse)
