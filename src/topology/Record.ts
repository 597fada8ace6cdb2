/**
 * What flows through a topology: raw Kafka records as the source delivers them, the decoded
 * records with their lineage, and the dead letters that could not be decoded.
 */

/** One Kafka record. Offsets and timestamps fit a JS number (below 2^53). */
export interface SourceRecord {
  readonly offset: number
  /** The record's Kafka timestamp, epoch millis. */
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: Buffer | null
}

/** The records of one partition from one fetch, in offset order. */
export interface RecordBatch {
  readonly topic: string
  readonly partition: number
  readonly records: ReadonlyArray<SourceRecord>
  /** The offset after the last one this batch covers (control records, aborted records and gaps included). */
  readonly nextOffset: number
  /** Where the partition ended for a read_committed reader when the batch was fetched: its last stable offset. */
  readonly endOffset: number
  /** The partition's first offset still in the log when the batch was fetched. */
  readonly logStartOffset: number
  /** When the batch was fetched, epoch millis. */
  readonly fetchedAt: number
}

/** The partition a record comes from, tied to one incarnation of its topic. */
export interface SourcePartition {
  readonly topic: string
  /** The topic's id: a topic deleted and created again under the same name gets a new one. */
  readonly topicId: string
  readonly partition: number
}

/** A decoded value with the Kafka coordinates it came from. */
export interface Decoded<T> {
  readonly value: T
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  /** The partition's state before this record, when its flow keeps one (see `PartitionState`). */
  stateBefore?: number
}

/** Why a record is a dead letter. */
export type DeadLetterKind = "empty" | "too-large" | "not-utf8" | "not-json" | "schema" | "no-rate"

/** A record that could not be decoded: kept whole, with the reason, never dropped. */
export interface DeadLetter {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  readonly key: Buffer | null
  readonly raw: Buffer | null
  readonly kind: DeadLetterKind
  readonly error: string
}
