/**
 * Windows of valued transactions built in memory, for driving sinks directly in tests.
 */
import { Result } from "effect"
import { defaultExchangeRates, type EurTransaction, RateTable, valueInEur } from "../../src/domain/ExchangeRate.ts"
import { type GeneratorOptions, makeTransactionGenerator } from "../../src/domain/Generator.ts"
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
