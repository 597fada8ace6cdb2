/**
 * Reading an output topic in a test as a read_committed consumer sees it once nothing is in flight:
 * a transaction still open holds the last stable offset back, and a reader that stopped there would
 * take the records behind it for missing; so the read waits for every partition to settle, and says
 * which one did not.
 */
import { Consumer, FetchIsolationLevels, ListOffsetTimestamps } from "@platformatic/kafka"
import { Effect } from "effect"
import { readTopic, type TopicRecord } from "../../src/topology/TopicReader.ts"

const ends = async (consumer: Consumer, topic: string, isolationLevel: number) =>
  ((await consumer.listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.LATEST, isolationLevel })).get(topic) ?? []).map(Number)

/** Every committed record of `topic`, once its last stable offset has reached its end on every partition (within `timeoutMs`). */
export const readSettled = async (brokers: string, topic: string, timeoutMs = 60_000): Promise<Array<TopicRecord>> => {
  const consumer = new Consumer({ clientId: "test-settled", groupId: "test-settled", bootstrapBrokers: [brokers] })
  try {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const stable = await ends(consumer, topic, FetchIsolationLevels.READ_COMMITTED)
      const high = await ends(consumer, topic, FetchIsolationLevels.READ_UNCOMMITTED)
      const open = high.flatMap((h, p) => (stable[p] === h ? [] : [`${p}: stable up to ${stable[p]}, written up to ${h}`]))
      if (open.length === 0) break
      if (Date.now() > deadline) throw new Error(`${topic} has a transaction open after ${timeoutMs / 1000} s (${open.join("; ")})`)
      await new Promise((r) => setTimeout(r, 250))
    }
  } finally {
    await consumer.close(true).catch(() => undefined)
  }
  return Effect.runPromise(readTopic([brokers], topic))
}
