/**
 * The local stack against the real thing: `up` twice (the second a no-op), `status`, then a topic
 * created, written, read back and deleted through @platformatic/kafka on the broker `up` returned.
 */
import { randomUUID } from "node:crypto"
import { Admin, Consumer, MessagesStreamModes, Producer, stringDeserializers, stringSerializers } from "@platformatic/kafka"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as Stack from "../../src/ops/Stack.ts"

// `down` is not exercised here: other test files share the broker (it is tried by hand instead).
const options = await Effect.runPromise(Stack.stackOptions)

/** Rejects after `ms`: @platformatic/kafka retries without end when the broker is gone. */
const within = <A>(what: string, ms: number, promise: Promise<A>): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)
    promise.then(resolve, reject).finally(() => clearTimeout(timer))
  })

/** Polls `admin.listTopics()` until `topic` is (or is no longer) listed: metadata propagates asynchronously. */
const awaitListed = async (admin: Admin, topic: string, listed: boolean): Promise<boolean> => {
  const deadline = Date.now() + 10_000
  for (;;) {
    const topics = await within("listTopics", 5_000, admin.listTopics())
    if (topics.includes(topic) === listed || Date.now() > deadline) return topics.includes(topic)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe("Stack (local Kafka from Maven Central jars)", () => {
  const closers: Array<() => Promise<unknown>> = []
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined)
  })

  it("up starts (or finds) the broker, and a second up is a fast no-op", { timeout: 240_000 }, async () => {
    const first = await Effect.runPromise(Stack.up(options))
    expect(first.kafka.running).toBe(true)
    expect(first.kafka.brokers).toBe(`127.0.0.1:${options.kafkaPort}`)

    const startedAt = Date.now()
    const second = await Effect.runPromise(Stack.up(options))
    expect(second.kafka.running).toBe(true)
    expect(second.kafka.clusterId).toBe(first.kafka.clusterId)
    expect(second.kafka.pid).toBe(first.kafka.pid)
    expect(Date.now() - startedAt).toBeLessThan(10_000)
  })

  it("status says Kafka is running and never shows a MySQL password", async () => {
    const status = await Effect.runPromise(Stack.status(options))
    expect(status.kafka.running).toBe(true)
    expect(status.kafka.message).toMatch(/^Kafka (running|answering)/)
    expect(status.mysql.message).not.toMatch(/:\/\/[^/@:]+:(?!\*\*\*@)[^/@]+@/)

    const withPassword = await Effect.runPromise(
      Stack.status({ ...options, mysqlUrl: "mysql://root:hunter2@127.0.0.1:1/sluice" })
    )
    expect(withPassword.mysql.ok).toBe(false)
    expect(withPassword.mysql.message).toContain("mysql://root:***@127.0.0.1:1/sluice")
    expect(withPassword.mysql.message).not.toContain("hunter2")
  })

  it("the broker creates a topic, takes a message, gives it back and deletes the topic", { timeout: 60_000 }, async () => {
    const brokers = Stack.brokersOf(options)
    const topic = `sluice-stack-test-${randomUUID()}`
    const admin = new Admin({ clientId: "stack-test-admin", bootstrapBrokers: [brokers] })
    closers.push(() => admin.close())

    await within("createTopics", 15_000, admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 }))
    expect(await awaitListed(admin, topic, true)).toBe(true)

    const producer = new Producer({ clientId: "stack-test-producer", bootstrapBrokers: [brokers], serializers: stringSerializers })
    closers.push(() => producer.close())
    await within("send", 15_000, producer.send({ messages: [{ topic, key: "k-1", value: "hello, lake" }] }))

    const consumer = new Consumer({
      clientId: "stack-test-consumer",
      groupId: `stack-test-${randomUUID()}`,
      bootstrapBrokers: [brokers],
      deserializers: stringDeserializers,
      autocommit: false,
      maxWaitTime: 500
    })
    closers.push(() => consumer.close(true))
    const stream = await within("consume", 15_000, consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST }))
    const first = await within("first message", 20_000, (async () => {
      for await (const message of stream) return message
      throw new Error("the stream ended without a message")
    })())
    expect(first.key).toBe("k-1")
    expect(first.value).toBe("hello, lake")
    expect(first.offset).toBe(0n)
    await stream.close()
    await consumer.close(true)

    await within("deleteTopics", 15_000, admin.deleteTopics({ topics: [topic] }))
    expect(await awaitListed(admin, topic, false)).toBe(false)
  })
})
