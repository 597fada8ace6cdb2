/**
 * The flow of the transaction topic, as the seeds' ksqlDB streams made it: its processors (the
 * valid records, their anonymization, the blacklist join), its lake feeds and output topics, and
 * its decisions (the decoder with EUR valuation, the blacklist, the size cap) as one versioned
 * value that a replay can rebuild from its stored content.
 */
import { Result, Schema } from "effect"
import { type AnonymizedTransaction, makeAnonymizer } from "../domain/Anonymize.ts"
import { BlacklistTable, decodeBlacklistRecord, parseBlacklist, serializeBlacklist } from "../domain/Blacklist.ts"
import { decodeExchangeRate, defaultExchangeRates, type EurTransaction, type ExchangeRate, RateTable, valueInEur } from "../domain/ExchangeRate.ts"
import { decodeTransaction } from "../domain/Transaction.ts"
import {
  type BlacklistedTransaction,
  deadLetterFeed,
  transactionAnonymizedFeed,
  transactionBlacklistedFeed,
  transactionFlattenedFeed,
  transactionStreamFeed
} from "../sinks/lake/Feeds.ts"
import type { LakeFeed } from "../sinks/lake/Feeds.ts"
import type { KafkaOutput } from "../sinks/kafka/KafkaSink.ts"
import { type Decisions, decisionsVersion, type DecisionSource } from "../topology/Decisions.ts"
import type { ValueDecoder } from "../topology/Decode.ts"
import { filterMap, map, type Processor, records } from "../topology/Processor.ts"
import type { StateTopic } from "../topology/StateTopic.ts"

/** The state transaction processors read, at one version. */
export interface TransactionState {
  readonly rates: RateTable
  readonly blacklist: BlacklistTable
}

/** The processors of the transaction topic. */
export interface TransactionProcessors {
  readonly valid: Processor<EurTransaction, EurTransaction>
  readonly anonymized: Processor<EurTransaction, AnonymizedTransaction>
  readonly blacklisted: Processor<EurTransaction, BlacklistedTransaction>
}

/**
 * The processors of `topic`; pseudonyms are keyed with `key` (see AnonymizationKey.ts). Without a
 * key the processors only describe the flow (`sluice topology`, the reports): anonymizing fails.
 */
export const transactionProcessors = (topic: string, key?: Uint8Array): TransactionProcessors => {
  const valid = records<EurTransaction>(topic)
  const anonymize = key === undefined
    ? () => {
      throw new Error("the anonymized feed needs its key: these processors only describe the flow")
    }
    : makeAnonymizer(key)
  return {
    valid,
    anonymized: map(valid, "anonymize", "user id → keyed pseudonym; name, email, city, card dropped; email domain and country kept; IP → /24 or /48", (t) =>
      anonymize(t)),
    blacklisted: filterMap(
      valid,
      "blacklist",
      "the blacklist entries in force at event_time: user id, email, email domain, IP, card, payment method, first match kept",
      (t, _record, decisions: Decisions<EurTransaction, TransactionState>) => {
        const entry = decisions.state.blacklist.match(t)
        return entry === undefined ? undefined : { ...t, blacklist: entry }
      },
      "join"
    )
  }
}

/** The lake feeds of the transaction topic, in the order they are committed. */
export const transactionFeeds = (topic: string, processors: TransactionProcessors = transactionProcessors(topic)): Array<LakeFeed<any>> => [
  transactionStreamFeed(processors.valid),
  transactionFlattenedFeed(processors.valid),
  transactionAnonymizedFeed(processors.anonymized),
  transactionBlacklistedFeed(processors.blacklisted),
  deadLetterFeed(topic)
]

/** The output topics `SLUICE_PUBLISH` may name, as a Kafka sink writes them. */
export const transactionOutputs = (processors: TransactionProcessors, prefix = ""): Record<"anonymized" | "blacklisted", KafkaOutput<EurTransaction, any>> => ({
  anonymized: {
    topic: `${prefix}transaction_stream_anonymized`,
    input: processors.anonymized,
    key: (a: AnonymizedTransaction) => a.transactionId,
    value: (a: AnonymizedTransaction, record) =>
      JSON.stringify({
        transaction_id: a.transactionId,
        event_time: new Date(a.eventTimeMs).toISOString(),
        transaction_type: a.transactionType,
        status: a.status,
        amount: a.amountCents / 100,
        currency: a.currency,
        amount_eur: a.amountEurCents / 100,
        user: { id: a.user.pseudonym, email_domain: a.user.emailDomain, country: a.user.country },
        payment_method: a.paymentMethod,
        product: a.product === null ? null : { id: a.product.id, name: a.product.name, category: a.product.category, price: a.product.priceCents / 100 },
        quantity: a.quantity,
        ip_network: a.ipNetwork,
        _kafka_partition: record.partition,
        _kafka_offset: record.offset
      })
  },
  blacklisted: {
    topic: `${prefix}transaction_stream_blacklisted`,
    input: processors.blacklisted,
    key: (b: BlacklistedTransaction) => b.transactionId,
    value: (b: BlacklistedTransaction, record) =>
      JSON.stringify({
        transaction_id: b.transactionId,
        event_time: new Date(b.eventTimeMs).toISOString(),
        transaction_type: b.transactionType,
        status: b.status,
        amount: b.amountCents / 100,
        currency: b.currency,
        user: b.user,
        payment_method: b.paymentMethod,
        ip_address: b.ipAddress,
        card_last4: b.cardLast4,
        blacklist_kind: b.blacklist.kind,
        blacklist_value: b.blacklist.value,
        blacklist_reason: b.blacklist.reason,
        _kafka_partition: record.partition,
        _kafka_offset: record.offset
      })
  }
})

/** Decodes a transaction and values it in EUR; a currency without a rate makes a dead letter. */
export const transactionDecoder = (rates: RateTable): ValueDecoder<EurTransaction> => (json) =>
  Result.flatMap(decodeTransaction(json), (t) => valueInEur(t, rates))

/** What the decisions of a transaction depend on, as stored. */
const Content = Schema.Struct({
  maxMessageBytes: Schema.Int,
  rates: Schema.Array(Schema.Struct({ currency: Schema.String, rateToEur: Schema.Number, validFrom: Schema.Number })),
  blacklist: Schema.optionalKey(Schema.Unknown)
})

const decodeContent = Schema.decodeUnknownSync(Schema.fromJsonString(Content))

const build = (
  rates: ReadonlyArray<ExchangeRate>,
  blacklist: BlacklistTable,
  maxMessageBytes: number,
  origin: string
): Decisions<EurTransaction, TransactionState> => {
  const table = new RateTable(rates)
  // Canonical: the tables' own orders (rates by currency then validFrom, the blacklist by key), so equal tables hash equally.
  const content = JSON.stringify({
    maxMessageBytes,
    rates: table.all().map((r) => ({ currency: r.currency, rateToEur: r.rateToEur, validFrom: r.validFrom })),
    blacklist: JSON.parse(serializeBlacklist(blacklist))
  })
  return {
    version: decisionsVersion(content),
    content,
    decode: transactionDecoder(table),
    policy: { maxMessageBytes },
    state: { rates: table, blacklist },
    summary: `${table.size} EUR rates (${origin}), ${blacklist.size} blacklist entries, messages up to ${maxMessageBytes} bytes`
  }
}

/** Where the transaction topic's reference data comes from while the service runs. */
export interface TransactionStateTopics {
  /** The compacted topic of EUR rates; the built-in table while it does not exist. */
  readonly rates: StateTopic<ExchangeRate>
  /** The compacted topic of blacklist entries; an empty blacklist while it does not exist. */
  readonly blacklist: StateTopic<import("../domain/Blacklist.ts").BlacklistEntry>
}

/**
 * The decisions of the transaction topic: the rates, the blacklist and the size cap in force now
 * (rebuilt when a state topic changes), and any recorded before.
 */
export const transactionDecisions = (topics: TransactionStateTopics, maxMessageBytes: number): DecisionSource<EurTransaction, TransactionState> => {
  let cached: { readonly key: string; readonly decisions: Decisions<EurTransaction, TransactionState> } | undefined
  return {
    current: () => {
      const key = `${topics.rates.exists()}/${topics.rates.revision()}/${topics.blacklist.revision()}`
      if (cached?.key !== key) {
        const blacklist = new BlacklistTable(topics.blacklist.entries().values())
        const decisions = topics.rates.exists()
          ? build([...topics.rates.entries().values()], blacklist, maxMessageBytes, `topic ${topics.rates.topic}`)
          : build(defaultExchangeRates, blacklist, maxMessageBytes, `built-in table; no ${topics.rates.topic} topic`)
        cached = { key, decisions }
      }
      return cached.decisions
    },
    restore: restoreTransactionDecisions
  }
}

/** The decisions a commit recorded, rebuilt from their stored content; throws when it is not theirs. */
export const restoreTransactionDecisions = (text: string): Decisions<EurTransaction, TransactionState> => {
  const c = decodeContent(text)
  const blacklist = c.blacklist === undefined ? new BlacklistTable() : Result.getOrThrow(parseBlacklist(JSON.stringify(c.blacklist)))
  return build(c.rates, blacklist, c.maxMessageBytes, "as recorded")
}

const parseJson = (value: Buffer): Result.Result<unknown, string> => {
  try {
    return Result.succeed(JSON.parse(value.toString("utf8")))
  } catch {
    return Result.fail("not JSON")
  }
}

/** An `exchange_rates` message's value, decoded. */
export const decodeRateMessage = (_key: string, value: Buffer): Result.Result<ExchangeRate, string> =>
  Result.flatMap(parseJson(value), decodeExchangeRate)

/** A `blacklist` message's value, decoded and checked against its key (`<kind>:<value>`). */
export const decodeBlacklistMessage = (key: string, value: Buffer) =>
  Result.flatMap(parseJson(value), (json) =>
    Result.mapError(
      Result.flatMap(decodeBlacklistRecord(key, json), (r) => (r.entry === null ? Result.fail("a null entry") : Result.succeed(r.entry))),
      (e) => (typeof e === "string" ? e : e.message)
    ))
