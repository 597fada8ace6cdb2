/**
 * The flow of the transaction topic: its lake feeds, and its decisions (the decoder with EUR
 * valuation, from a rate table and the message size cap) as a versioned value that a replay can
 * rebuild from its stored content.
 */
import { Result, Schema } from "effect"
import { decodeExchangeRate, defaultExchangeRates, type EurTransaction, type ExchangeRate, RateTable, valueInEur } from "../domain/ExchangeRate.ts"
import { decodeTransaction } from "../domain/Transaction.ts"
import { deadLetterFeed, transactionFlattenedFeed, transactionStreamFeed } from "../sinks/lake/Feeds.ts"
import { type Decisions, decisionsVersion, type DecisionSource } from "../topology/Decisions.ts"
import type { ValueDecoder } from "../topology/Decode.ts"
import { records } from "../topology/Processor.ts"
import type { StateTopic } from "../topology/StateTopic.ts"

/** The lake feeds of the transaction topic, in the order they are committed. */
export const transactionFeeds = (topic: string) => {
  const valid = records<EurTransaction>(topic)
  return [transactionStreamFeed(valid), transactionFlattenedFeed(valid), deadLetterFeed(topic)]
}

/** Decodes a transaction and values it in EUR; a currency without a rate makes a dead letter. */
export const transactionDecoder = (rates: RateTable): ValueDecoder<EurTransaction> => (json) =>
  Result.flatMap(decodeTransaction(json), (t) => valueInEur(t, rates))

/** What the decisions of a transaction depend on, as stored. */
const Content = Schema.Struct({
  maxMessageBytes: Schema.Int,
  rates: Schema.Array(Schema.Struct({ currency: Schema.String, rateToEur: Schema.Number, validFrom: Schema.Number }))
})

const decodeContent = Schema.decodeUnknownSync(Schema.fromJsonString(Content))

/** The state transaction processors read, at one version. */
export interface TransactionState {
  readonly rates: RateTable
}

const build = (rates: ReadonlyArray<ExchangeRate>, maxMessageBytes: number, origin: string): Decisions<EurTransaction, TransactionState> => {
  const table = new RateTable(rates)
  // Canonical: the table's own order (by currency, then validFrom), so equal tables hash equally.
  const content = JSON.stringify({
    maxMessageBytes,
    rates: table.all().map((r) => ({ currency: r.currency, rateToEur: r.rateToEur, validFrom: r.validFrom }))
  })
  return {
    version: decisionsVersion(content),
    content,
    decode: transactionDecoder(table),
    policy: { maxMessageBytes },
    state: { rates: table },
    summary: `${table.size} EUR rates (${origin}), messages up to ${maxMessageBytes} bytes`
  }
}

/** Where the transaction topic's reference data comes from while the service runs. */
export interface TransactionStateTopics {
  /** The compacted topic of EUR rates; the built-in table while it does not exist. */
  readonly rates: StateTopic<ExchangeRate>
}

/**
 * The decisions of the transaction topic: the rates in force and the size cap now (rebuilt when
 * the rates topic changes), and any recorded before.
 */
export const transactionDecisions = (topics: TransactionStateTopics, maxMessageBytes: number): DecisionSource<EurTransaction, TransactionState> => {
  let cached: { readonly key: string; readonly decisions: Decisions<EurTransaction, TransactionState> } | undefined
  return {
    current: () => {
      const key = `${topics.rates.exists()}/${topics.rates.revision()}`
      if (cached?.key !== key) {
        const decisions = topics.rates.exists()
          ? build([...topics.rates.entries().values()], maxMessageBytes, `topic ${topics.rates.topic}`)
          : build(defaultExchangeRates, maxMessageBytes, `built-in table; no ${topics.rates.topic} topic`)
        cached = { key, decisions }
      }
      return cached.decisions
    },
    restore: (text) => {
      const c = decodeContent(text)
      return build(c.rates, c.maxMessageBytes, "as recorded")
    }
  }
}

/** An `exchange_rates` message's value, decoded. */
export const decodeRateMessage = (_key: string, value: Buffer): Result.Result<ExchangeRate, string> => {
  let json: unknown
  try {
    json = JSON.parse(value.toString("utf8"))
  } catch {
    return Result.fail("not JSON")
  }
  return decodeExchangeRate(json)
}
