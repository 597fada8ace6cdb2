/**
 * Turns raw Kafka values into typed records, and anything that cannot be one into a dead letter
 * with its reason: empty, over the size cap, not UTF-8, not JSON, or not the schema.
 */
import { isUtf8 } from "node:buffer"
import { Result } from "effect"
import type { DeadLetter, DeadLetterKind, Decoded, SourceRecord } from "./Record.ts"

/** A decoder of parsed JSON values, as the domain gives them; a failure may name its dead-letter kind (default `schema`). */
export type ValueDecoder<T> = (json: unknown) => Result.Result<T, { readonly message: string; readonly kind?: DeadLetterKind }>

export interface DecodePolicy {
  /** Values larger than this many bytes are dead letters. */
  readonly maxMessageBytes: number
}

export const defaultDecodePolicy: DecodePolicy = { maxMessageBytes: 1024 * 1024 }

const deadLetter = (topic: string, partition: number, record: SourceRecord, kind: DeadLetterKind, error: string): DeadLetter => ({
  topic,
  partition,
  offset: record.offset,
  timestamp: record.timestamp,
  // Copies: a slice would keep the whole fetch response alive until the window commits.
  key: record.key === null ? null : Buffer.from(record.key),
  raw: record.value === null ? null : Buffer.from(record.value),
  kind,
  error
})

/** Decodes one record: a typed value, or a dead letter saying why not. */
export const decodeRecord = <T>(
  topic: string,
  partition: number,
  record: SourceRecord,
  decode: ValueDecoder<T>,
  policy: DecodePolicy
): Decoded<T> | DeadLetter => {
  const raw = record.value
  if (raw === null || raw.length === 0) return deadLetter(topic, partition, record, "empty", "empty message")
  if (raw.length > policy.maxMessageBytes) {
    return deadLetter(topic, partition, record, "too-large", `message of ${raw.length} bytes exceeds the cap of ${policy.maxMessageBytes}`)
  }
  if (!isUtf8(raw)) return deadLetter(topic, partition, record, "not-utf8", "message is not valid UTF-8")
  let json: unknown
  try {
    json = JSON.parse(raw.toString("utf8"))
  } catch (e) {
    return deadLetter(topic, partition, record, "not-json", `not JSON: ${(e as Error).message}`)
  }
  const decoded = decode(json)
  if (Result.isFailure(decoded)) return deadLetter(topic, partition, record, decoded.failure.kind ?? "schema", decoded.failure.message)
  return { value: decoded.success, partition, offset: record.offset, timestamp: record.timestamp }
}

export const isDeadLetter = <T>(r: Decoded<T> | DeadLetter): r is DeadLetter => "kind" in r
