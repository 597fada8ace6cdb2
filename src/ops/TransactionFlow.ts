/**
 * The flow of the transaction topic: its lake feeds, and its decisions (the decoder with EUR
 * valuation, from a rate table and the message size cap) as a versioned value that a replay can
 * rebuild from its stored content.
 */
import { Result, Schema } from "effect"
import { type EurTransaction, type ExchangeRate, RateTable, valueInEur } from "../domain/ExchangeRate.ts"
import { decodeTransaction } from "../domain/Transaction.ts"
import { deadLetterFeed, transactionFlattenedFeed, transactionStreamFeed } from "../sinks/lake/Feeds.ts"
import { type Decisions, decisionsVersion, type DecisionSource } from "../topology/Decisions.ts"
import type { ValueDecoder } from "../topology/Decode.ts"

/** The lake feeds of the transaction topic, in the order they are committed. */
export const transactionFeeds = (topic: string) => [transactionStreamFeed, transactionFlattenedFeed, deadLetterFeed(topic)]

/** Decodes a transaction and values it in EUR; a currency without a rate makes a dead letter. */
export const transactionDecoder = (rates: RateTable): ValueDecoder<EurTransaction> => (json) =>
  Result.flatMap(decodeTransaction(json), (t) => valueInEur(t, rates))

/** What the decisions of a transaction depend on, as stored. */
const Content = Schema.Struct({
  maxMessageBytes: Schema.Int,
  rates: Schema.Array(Schema.Struct({ currency: Schema.String, rateToEur: Schema.Number, validFrom: Schema.Number }))
})

const decodeContent = Schema.decodeUnknownSync(Schema.fromJsonString(Content))

const build = (rates: ReadonlyArray<ExchangeRate>, maxMessageBytes: number): Decisions<EurTransaction> => {
  const table = new RateTable(rates)
  // Canonical: the table's own order (by currency, then validFrom), so equal tables hash equally.
  const content = JSON.stringify({
    maxMessageBytes,
    rates: table.all().map((r) => ({ currency: r.currency, rateToEur: r.rateToEur, validFrom: r.validFrom }))
  })
  return { version: decisionsVersion(content), content, decode: transactionDecoder(table), policy: { maxMessageBytes } }
}

/** The decisions of the transaction topic: the rates in force and the size cap now, and any recorded before. */
export const transactionDecisions = (rates: ReadonlyArray<ExchangeRate>, maxMessageBytes: number): DecisionSource<EurTransaction> => {
  const current = build(rates, maxMessageBytes)
  return {
    current: () => current,
    restore: (text) => {
      const c = decodeContent(text)
      return build(c.rates, c.maxMessageBytes)
    }
  }
}
