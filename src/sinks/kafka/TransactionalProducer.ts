/**
 * A transactional Kafka producer made so that a new one fences the older ones with its id: the
 * client's InitProducerId would otherwise claim producer 0, epoch 0 (not −1, −1, "a new
 * producer"), which the coordinator refuses as fenced once the id has been used.
 */
import { Producer } from "@platformatic/kafka"

export interface TransactionalProducerOptions {
  readonly clientId: string
  readonly brokers: ReadonlyArray<string>
  readonly transactionalId: string
}

export const makeTransactionalProducer = (options: TransactionalProducerOptions): Producer<Buffer, Buffer, Buffer, Buffer> =>
  new Producer({
    clientId: options.clientId,
    bootstrapBrokers: [...options.brokers],
    idempotent: true,
    transactionalId: options.transactionalId,
    acks: -1,
    retries: 5,
    // "A new producer": the coordinator then bumps the id's epoch, which fences every older producer of it.
    producerId: -1n,
    producerEpoch: -1
  })
