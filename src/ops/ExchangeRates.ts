/**
 * Where the EUR rates come from: the compacted `exchange_rates` topic when it exists (read to its
 * end at start-up), else the built-in table. Malformed rate messages are reported and skipped.
 */
import { Effect, Result } from "effect"
import { decodeExchangeRate, defaultExchangeRates, type ExchangeRate, RateTable } from "../domain/ExchangeRate.ts"
import type { KafkaError } from "../topology/Fetch.ts"
import { readTopic } from "../topology/TopicReader.ts"
import { topicPartitions } from "./KafkaAdmin.ts"

export interface LoadedRates {
  readonly table: RateTable
  /** Where they came from, for the start-up line. */
  readonly source: string
}

export const loadExchangeRates = (brokers: ReadonlyArray<string>, topic: string): Effect.Effect<LoadedRates, KafkaError> =>
  Effect.gen(function*() {
    if ((yield* topicPartitions(brokers, topic)) === undefined) {
      return { table: new RateTable(defaultExchangeRates), source: `built-in table (${defaultExchangeRates.length} currencies; no ${topic} topic)` }
    }
    const records = yield* readTopic(brokers, topic)
    const rates: Array<ExchangeRate> = []
    for (const r of records) {
      let json: unknown
      try {
        json = JSON.parse(r.value?.toString("utf8") ?? "")
      } catch {
        yield* Effect.logWarning(`${topic}/${r.partition}@${r.offset}: not JSON; skipped`)
        continue
      }
      const rate = decodeExchangeRate(json)
      if (Result.isFailure(rate)) yield* Effect.logWarning(`${topic}/${r.partition}@${r.offset}: ${rate.failure}; skipped`)
      else rates.push(rate.success)
    }
    const table = new RateTable(rates)
    return { table, source: `topic ${topic} (${table.size} rates from ${records.length} messages)` }
  })
