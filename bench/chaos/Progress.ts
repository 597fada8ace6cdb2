/**
 * How far a scenario's service has committed, in every lake feed and in the warehouse, and how long
 * it takes after a fault to commit past the offsets produced before the fault.
 */
import { Effect } from "effect"
import { createConnection } from "mysql2/promise"
import { topicId, topicOffsets } from "../../src/ops/KafkaAdmin.ts"
import { lakeCommitted } from "../scenarios/Latency.ts"

/** Where a scenario's service commits. */
export interface CommitTarget {
  readonly brokers: ReadonlyArray<string>
  readonly topic: string
  readonly partitions: number
  readonly lakeDir: string
  readonly group: string
  /** The scenario's warehouse database. */
  readonly mysqlUrl: string
}

/** Kafka's end offset of each partition now. */
export const endOffsets = async (target: CommitTarget): Promise<Array<number>> => {
  const offsets = await Effect.runPromise(topicOffsets(target.brokers, target.topic))
  return Array.from({ length: target.partitions }, (_, p) => offsets.find((o) => o.partition === p)?.end ?? 0)
}

/** The warehouse's next offset per partition (0 where nothing is committed, or no table yet). */
export const warehouseCommitted = async (target: CommitTarget): Promise<Array<number>> => {
  const next = Array.from({ length: target.partitions }, () => 0)
  const connection = await createConnection({ uri: target.mysqlUrl, connectTimeout: 2_000 })
  try {
    const [rows] = await connection.query(
      "SELECT `partition` AS p, next_offset AS n FROM sluice_offsets WHERE consumer_group = ? AND topic = ? AND topic_id = ? AND sink = 'warehouse'",
      [target.group, target.topic, (await Effect.runPromise(topicId(target.brokers, target.topic))) ?? ""]
    )
    for (const r of rows as Array<{ p: number; n: number | string }>) if (r.p < target.partitions) next[r.p] = Number(r.n)
    return next
  } catch (error) {
    // ER_NO_SUCH_TABLE: the service has not migrated this database yet.
    if ((error as { code?: string }).code === "ER_NO_SUCH_TABLE") return next
    throw error
  } finally {
    connection.destroy()
  }
}

/** Per partition, the next offset committed by every lake feed and the warehouse. */
export const committedEverywhere = async (target: CommitTarget): Promise<Array<number>> => {
  const lake = await lakeCommitted(target.lakeDir, target.topic, target.partitions, target.brokers)
  const warehouse = await warehouseCommitted(target)
  return lake.map((l, p) => Math.min(l, warehouse[p]!))
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Seconds from now until `committed()` reaches `past` on every partition, polled every 200 ms;
 * null when `timeoutMs` passes first. A failing read (MySQL down, a log being written) counts as
 * not there yet.
 */
export const secondsUntilCommitted = async (
  past: ReadonlyArray<number>,
  committed: () => Promise<ReadonlyArray<number>>,
  timeoutMs: number,
  since = Date.now()
): Promise<number | null> => {
  for (;;) {
    const now = await committed().catch(() => undefined)
    if (now !== undefined && past.every((offset, p) => (now[p] ?? 0) >= offset)) return (Date.now() - since) / 1000
    if (Date.now() - since > timeoutMs) return null
    await sleep(200)
  }
}
