/**
 * The Fetch v13 API with a record reader of its own. The client's reader reads each field of each
 * record through a buffer made of the socket's chunks, searching them from the first at every read
 * (a 4 MB response is some 64 chunks), with a BigInt per timestamp and an array per varint: most of
 * the main thread's time went there. Here each partition's records are made one contiguous buffer
 * (a copy only when they span chunks) and read with plain byte reads; the response is otherwise the
 * client's, field for field.
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
/** Bytes of a batch from its start to its first record (v2 format). */
const RECORDS_START = 61
const NO_HEADERS: Array<[Buffer | null, Buffer | null]> = []

/** A cursor over one contiguous buffer. */
class Cursor {
  readonly buffer: Buffer
  at: number

  constructor(buffer: Buffer, at: number) {
    this.buffer = buffer
    this.at = at
  }

  /** A zig-zag varint of at most 32 bits. */
  varInt(): number {
    const b = this.buffer
    let value = 0
    let shift = 0
    let byte: number
    do {
      byte = b[this.at++]!
      if (byte === undefined) throw new RangeError("record batch ends inside a varint")
      value |= (byte & 0x7f) << shift
      shift += 7
    } while (byte >= 0x80 && shift < 35)
    return (value >>> 1) ^ -(value & 1)
  }

  /** A zig-zag varint of up to 64 bits, as a number (exact up to 2^53). */
  varLong(): number {
    const b = this.buffer
    let value = 0
    let scale = 1
    let byte: number
    do {
      byte = b[this.at++]!
      if (byte === undefined) throw new RangeError("record batch ends inside a varint")
      value += (byte & 0x7f) * scale
      scale *= 128
    } while (byte >= 0x80 && scale < 2 ** 70)
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2
  }

  bytes(): Buffer | null {
    const length = this.varInt()
    if (length < 0) return null
    const start = this.at
    this.at += length
    if (this.at > this.buffer.length) throw new RangeError("record batch ends inside a record")
    return this.buffer.subarray(start, this.at)
  }
}

const readRecords = (cursor: Cursor, count: number): Array<FetchedRecord> => {
  const records: Array<FetchedRecord> = []
  for (let i = 0; i < count; i++) {
    const length = cursor.varInt()
    const attributes = cursor.buffer.readInt8(cursor.at++)
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

/** The record batches of one partition's records, whole batches only (a fetch may end inside one). */
export const readBatches = (buffer: Buffer): Array<FetchedBatch> => {
  const batches: Array<FetchedBatch> = []
  let at = 0
  while (buffer.length - at >= BATCH_HEAD && buffer.length - at - BATCH_HEAD >= buffer.readInt32BE(at + 8)) {
    const length = buffer.readInt32BE(at + 8)
    const end = at + BATCH_HEAD + length
    const attributes = buffer.readInt16BE(at + 21)
    const count = buffer.readInt32BE(at + 57)
    const compression = attributes & IS_COMPRESSED
    let cursor: Cursor
    if (compression === 0) cursor = new Cursor(buffer.subarray(0, end), at + RECORDS_START)
    else {
      const algorithm = compressionsAlgorithmsByBitmask[compression]
      if (!algorithm) throw new Error(`Unsupported compression algorithm with bitmask ${compression}`)
      cursor = new Cursor(algorithm.decompressSync(buffer.subarray(at + RECORDS_START, end)) as Buffer, 0)
    }
    batches.push({
      firstOffset: buffer.readBigInt64BE(at),
      length,
      partitionLeaderEpoch: buffer.readInt32BE(at + 12),
      magic: buffer.readInt8(at + 16),
      crc: buffer.readUInt32BE(at + 17),
      attributes,
      lastOffsetDelta: buffer.readInt32BE(at + 23),
      firstTimestamp: buffer.readBigInt64BE(at + 27),
      maxTimestamp: buffer.readBigInt64BE(at + 35),
      producerId: buffer.readBigInt64BE(at + 43),
      producerEpoch: buffer.readInt16BE(at + 51),
      firstSequence: buffer.readInt32BE(at + 53),
      records: readRecords(cursor, count)
    })
    at = end
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
          partition.records = readBatches(r.buffer.slice(r.position, r.position + recordsSize))
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
