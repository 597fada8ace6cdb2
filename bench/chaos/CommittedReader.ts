/**
 * What Kafka delivers to a read_committed reader of a topic: each data record's partition, offset
 * and key, without aborted transactions and control markers. The harness's own fetches: the count of
 * what was produced never depends on the code under test.
 */
import { Consumer, FetchIsolationLevels, fetchV13, IS_CONTROL, IS_TRANSACTIONAL, type RecordsBatch } from "@platformatic/kafka"

/** One data record as the reader saw it; `key` is the record key as UTF-8 ("" when absent). */
export interface RecordId {
  readonly partition: number
  readonly offset: number
  readonly key: string
}

/** An aborted transaction the broker lists beside a fetched partition. */
export interface AbortedTransaction {
  readonly producerId: bigint
  readonly firstOffset: bigint
}

/** A control record's type (its key: int16 version, int16 type). */
const ABORT_MARKER = 0

const isAbortMarker = (batch: RecordsBatch): boolean => {
  const key = batch.records[0]?.key
  return (batch.attributes & IS_CONTROL) !== 0 && key !== null && key !== undefined && key.length >= 4 &&
    key.readInt16BE(2) === ABORT_MARKER
}

/**
 * The data records of one partition's fetched batches at or after `from`, as the Java consumer
 * selects them under read_committed (its `CompletedFetch`): a transactional batch is skipped while
 * its producer has an aborted transaction open at that point, which the broker's list of aborted
 * transactions opens and the producer's ABORT marker closes; control batches are never data.
 * `next` is the offset after the last batch, markers included.
 */
export const committedRecords = (
  partition: number,
  batches: ReadonlyArray<RecordsBatch>,
  aborted: ReadonlyArray<AbortedTransaction> | null,
  from: number
): { readonly records: Array<RecordId>; readonly next: number } => {
  const pending = [...(aborted ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0))
  const abortedProducers = new Set<bigint>()
  const records: Array<RecordId> = []
  let next = from
  for (const batch of batches) {
    const first = Number(batch.firstOffset)
    const last = first + batch.lastOffsetDelta
    next = Math.max(next, last + 1)
    if (batch.producerId >= 0n) {
      while (pending.length > 0 && Number(pending[0]!.firstOffset) <= last) abortedProducers.add(pending.shift()!.producerId)
      if (isAbortMarker(batch)) abortedProducers.delete(batch.producerId)
      else if ((batch.attributes & IS_TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId)) continue
    }
    if ((batch.attributes & IS_CONTROL) !== 0) continue
    for (const record of batch.records) {
      const offset = first + record.offsetDelta
      if (offset >= from) records.push({ partition, offset, key: record.key?.toString("utf8") ?? "" })
    }
  }
  return { records, next }
}

const DEADLINE_MS = 120_000

/**
 * Every data record of `topic` a read_committed reader gets, from each partition's log start to
 * its last stable offset at the time of the call (call it once the producers are done).
 */
export const readCommitted = async (brokers: ReadonlyArray<string>, topic: string): Promise<Array<RecordId>> => {
  const consumer = new Consumer({ clientId: "sluice-chaos-reader", groupId: "sluice-chaos-reader", bootstrapBrokers: [...brokers], retries: 3 })
  const deadline = Date.now() + DEADLINE_MS
  try {
    const list = async (timestamp: bigint) =>
      ((await consumer.listOffsets({ topics: [topic], timestamp, isolationLevel: FetchIsolationLevels.READ_COMMITTED })).get(topic) ?? []).map(Number)
    const starts = await list(-2n)
    const stable = await list(-1n)
    const positions = starts.map((offset) => offset)
    const out: Array<RecordId> = []
    for (;;) {
      const wanted = positions.flatMap((offset, partition) => (offset < stable[partition]! ? [partition] : []))
      if (wanted.length === 0) return out
      if (Date.now() > deadline) {
        throw new Error(`${topic}: not read to its last stable offsets ${stable.join(",")} within ${DEADLINE_MS / 1000} s (at ${positions.join(",")})`)
      }
      const metadata = await consumer.metadata({ topics: [topic] })
      const info = metadata.topics.get(topic)
      if (info === undefined) throw new Error(`${topic}: no metadata`)
      const byLeader = new Map<number, Array<number>>()
      for (const partition of wanted) {
        const leader = info.partitions[partition]?.leader
        if (leader === undefined) continue
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition])
      }
      for (const [node, partitions] of byLeader) {
        const broker = metadata.brokers.get(node)
        if (broker === undefined) throw new Error(`${topic}: broker ${node} is not in the metadata`)
        const connection = await new Promise<Parameters<typeof fetchV13.api.async>[0]>((resolve, reject) =>
          consumer.connections.get(broker, (error, c) => (error || c === undefined ? reject(error) : resolve(c))))
        // The raw request, not Consumer.fetch: that method drops batches it wrongly takes for aborted.
        const response = await fetchV13.api.async(connection, 100, 1, 16 * 1024 * 1024, FetchIsolationLevels.READ_COMMITTED, 0, -1, [{
          topicId: info.id,
          partitions: partitions.map((partition) => ({
            partition,
            fetchOffset: BigInt(positions[partition]!),
            partitionMaxBytes: 4 * 1024 * 1024,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1
          }))
        }], [], "")
        for (const topicResponse of response.responses) {
          for (const part of topicResponse.partitions) {
            if (part.errorCode !== 0) throw new Error(`${topic}/${part.partitionIndex}: fetch error code ${part.errorCode}`)
            const from = positions[part.partitionIndex]!
            const { records, next } = committedRecords(part.partitionIndex, part.records ?? [], part.abortedTransactions, from)
            for (const r of records) if (r.offset < stable[part.partitionIndex]!) out.push(r)
            positions[part.partitionIndex] = Math.max(from, next)
          }
        }
      }
    }
  } finally {
    await consumer.close(true).catch(() => undefined)
  }
}
