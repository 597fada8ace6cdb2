/**
 * Windows of valued transactions built in memory, for driving sinks directly in tests.
 */
import { Result } from "effect"
import { defaultExchangeRates, type EurTransaction, RateTable, valueInEur } from "../../src/domain/ExchangeRate.ts"
import { type GeneratorOptions, makeTransactionGenerator } from "../../src/domain/Generator.ts"
import { transactionDecisions } from "../../src/ops/TransactionFlow.ts"
import type { Decisions } from "../../src/topology/Decisions.ts"
import { emptyStateTopic } from "../../src/topology/StateTopic.ts"
import { type Sink, writeWindow } from "../../src/topology/Sink.ts"
import type { Window } from "../../src/topology/Window.ts"

const rates = new RateTable(defaultExchangeRates)

/** `count` seeded transactions valued in EUR. */
export const eurTransactions = (count: number, seed: number, options: Partial<GeneratorOptions> = {}): Array<EurTransaction> => {
  const next = makeTransactionGenerator({ ...options, seed })
  return Array.from({ length: count }, () => Result.getOrThrow(valueInEur(next(), rates)))
}

/** A window of `values` at consecutive offsets from `from`. */
export const windowOf = (topic: string, partition: number, from: number, values: ReadonlyArray<EurTransaction>): Window<EurTransaction> => ({
  topic,
  partition,
  from,
  to: from + values.length - 1,
  records: values.map((value, i) => ({ value, partition, offset: from + i, timestamp: 1_700_000_000_000 + i })),
  deadLetters: []
})

/** The topic id the in-memory windows of these tests come from. */
export const TEST_TOPIC_ID = "5c1a7e0d-3f8b-4a7e-9c2d-1e6b0f4a9d21"

/** A source partition of the test topic incarnation. */
export const spOf = (topic: string, partition: number) => ({ topic, topicId: TEST_TOPIC_ID, partition })

/** The decisions the in-memory windows are written with: the built-in rate table. */
export const TEST_DECISIONS = transactionDecisions(
  { rates: emptyStateTopic("exchange_rates"), blacklist: emptyStateTopic("blacklist") },
  1024 * 1024
).current()

/** Writes a whole window to a sink, from the test topic incarnation. */
export const writeTestWindow = <T>(sink: Sink<T>, window: Window<T>) =>
  writeWindow(sink, spOf(window.topic, window.partition), window, TEST_DECISIONS as unknown as Decisions<T, unknown>)
