/**
 * The lake's feeds of a transaction topic: which rows each table takes from a window (the
 * decoded records or the dead letters), their columns, and the instant that partitions them.
 */
import type { AnonymizedTransaction } from "../../domain/Anonymize.ts"
import type { BlacklistEntry } from "../../domain/Blacklist.ts"
import type { EurTransaction } from "../../domain/ExchangeRate.ts"
import type { Processor } from "../../topology/Processor.ts"
import type { DeadLetter, Decoded } from "../../topology/Record.ts"
import { type Column, scalar, source, struct } from "./Columns.ts"
import type { DateFolders } from "./HivePartition.ts"
import { clampPartitionTime } from "./HivePartition.ts"

/** Where a feed's table lives under the lake root. */
export type FeedKind = "streams" | "tables" | "_deadletter"

/** One lake table fed by a topic: its rows, their columns, and their partitioning instant. */
export interface LakeFeed<R> {
  readonly name: string
  readonly kind: FeedKind
  readonly description: string
  /**
   * Which rows of a window the feed takes: the values of a processor of the topology (each row a
   * `Decoded` value with its lineage), or the dead letters. Feeds of the same input share their
   * built columns and must partition alike.
   */
  readonly input: Processor<any, any> | "deadLetters"
  readonly columns: ReadonlyArray<Column<R>>
  readonly offsetOf: (row: R) => number
  /** The instant (epoch millis, UTC) whose date partitions the row. */
  readonly partitionTime: (row: R) => number
  /** How its date folders are spelled (default `year=/month=/day=`). */
  readonly folders?: DateFolders | undefined
}

type Tx = Decoded<EurTransaction>

// Every value a transaction feed reads, once: feeds that show the same value share its column.
const s = {
  transactionId: source.string<Tx>("transaction_id", (r) => r.value.transactionId),
  eventTime: source.timestamp<Tx>("event_time", (r) => r.value.eventTimeMs),
  type: source.string<Tx>("transaction_type", (r) => r.value.transactionType),
  status: source.string<Tx>("status", (r) => r.value.status),
  amount: source.decimal<Tx>("amount", (r) => r.value.amountCents),
  currency: source.string<Tx>("currency", (r) => r.value.currency),
  userId: source.string<Tx>("user.id", (r) => r.value.user.id),
  userName: source.string<Tx>("user.name", (r) => r.value.user.name),
  userEmail: source.string<Tx>("user.email", (r) => r.value.user.email),
  userCountry: source.string<Tx>("user.country", (r) => r.value.user.country),
  userCity: source.string<Tx>("user.city", (r) => r.value.user.city),
  methodId: source.string<Tx>("payment_method.id", (r) => r.value.paymentMethod.id),
  methodName: source.string<Tx>("payment_method.name", (r) => r.value.paymentMethod.name),
  methodCategory: source.string<Tx>("payment_method.category", (r) => r.value.paymentMethod.category),
  hasProduct: source.boolean<Tx>("product?", (r) => r.value.product !== null),
  productId: source.string<Tx>("product.id", (r) => r.value.product?.id ?? null, true),
  productName: source.string<Tx>("product.name", (r) => r.value.product?.name ?? null, true),
  productCategory: source.string<Tx>("product.category", (r) => r.value.product?.category ?? null, true),
  productPrice: source.decimal<Tx>("product.price", (r) => r.value.product?.priceCents ?? null, true),
  quantity: source.int32<Tx>("quantity", (r) => r.value.quantity),
  ip: source.string<Tx>("ip_address", (r) => r.value.ipAddress, true),
  card: source.string<Tx>("card_last4", (r) => r.value.cardLast4, true),
  amountEur: source.decimal<Tx>("amount_eur", (r) => r.value.amountEurCents),
  rate: source.float64<Tx>("rate_to_eur", (r) => r.value.rate.rateToEur),
  rateValidFrom: source.timestamp<Tx>("rate_valid_from", (r) => r.value.rate.validFrom),
  partition: source.int32<Tx>("_kafka_partition", (r) => r.partition),
  offset: source.int64<Tx>("_kafka_offset", (r) => r.offset),
  timestamp: source.timestamp<Tx>("_kafka_timestamp", (r) => r.timestamp)
}

/** A feed of valid transactions: the common head and tail columns around `body`, partitioned by event time. */
const transactionFeed = (input: Processor<any, EurTransaction>, name: string, description: string, body: ReadonlyArray<Column<Tx>>): LakeFeed<Tx> => ({
  name,
  kind: "streams",
  description,
  input,
  columns: [
    scalar("transaction_id", s.transactionId),
    scalar("event_time", s.eventTime),
    scalar("transaction_type", s.type),
    scalar("status", s.status),
    scalar("amount", s.amount),
    scalar("currency", s.currency),
    ...body,
    scalar("quantity", s.quantity),
    scalar("ip_address", s.ip),
    scalar("card_last4", s.card),
    scalar("_kafka_partition", s.partition),
    scalar("_kafka_offset", s.offset),
    scalar("_kafka_timestamp", s.timestamp)
  ],
  offsetOf: (r) => r.offset,
  partitionTime: (r) => r.value.eventTimeMs
})

/** `transaction_stream`: every valid transaction in its original nested shape, plus lineage. */
export const transactionStreamFeed = (input: Processor<any, EurTransaction>) => transactionFeed(
  input,
  "transaction_stream",
  "Every valid transaction as produced (nested user, payment method, product), with Kafka lineage",
  [
    struct("user", [
      scalar("id", s.userId),
      scalar("name", s.userName),
      scalar("email", s.userEmail),
      scalar("country", s.userCountry),
      scalar("city", s.userCity)
    ]),
    struct("payment_method", [scalar("id", s.methodId), scalar("name", s.methodName), scalar("category", s.methodCategory)]),
    struct(
      "product",
      [scalar("id", s.productId), scalar("name", s.productName), scalar("category", s.productCategory), scalar("price", s.productPrice)],
      s.hasProduct
    )
  ]
)

/** `transaction_flattened`: one flat row per transaction, the nested fields as prefixed columns. */
export const transactionFlattenedFeed = (input: Processor<any, EurTransaction>) => transactionFeed(
  input,
  "transaction_flattened",
  "One flat row per valid transaction (user_*, payment_method_*, product_* columns, the amount in EUR and the rate applied), with Kafka lineage",
  [
    scalar("user_id", s.userId),
    scalar("user_name", s.userName),
    scalar("user_email", s.userEmail),
    scalar("user_country", s.userCountry),
    scalar("user_city", s.userCity),
    scalar("payment_method_id", s.methodId),
    scalar("payment_method_name", s.methodName),
    scalar("payment_method_category", s.methodCategory),
    scalar("product_id", s.productId),
    scalar("product_name", s.productName),
    scalar("product_category", s.productCategory),
    scalar("product_price", s.productPrice),
    scalar("amount_eur", s.amountEur),
    scalar("rate_to_eur", s.rate),
    scalar("rate_valid_from", s.rateValidFrom)
  ]
)

/** A blacklisted transaction: the transaction, and the first entry it matched. */
export type BlacklistedTransaction = EurTransaction & { readonly blacklist: BlacklistEntry }

/** `transaction_stream_blacklisted`: the stream's columns, and the entry matched. */
export const transactionBlacklistedFeed = (input: Processor<any, BlacklistedTransaction>): LakeFeed<Decoded<BlacklistedTransaction>> => {
  const stream = transactionStreamFeed(input as Processor<any, EurTransaction>)
  type B = Decoded<BlacklistedTransaction>
  const tail = stream.columns.slice(-3) as unknown as ReadonlyArray<Column<B>>
  return {
    ...(stream as unknown as LakeFeed<B>),
    name: "transaction_stream_blacklisted",
    description: "Valid transactions whose user id, email, email domain, IP, card or payment method was on the blacklist at their event time, with the first entry they matched",
    columns: [
      ...(stream.columns.slice(0, -3) as unknown as ReadonlyArray<Column<B>>),
      scalar("blacklist_kind", source.string<B>("blacklist_kind", (r) => r.value.blacklist.kind)),
      scalar("blacklist_value", source.string<B>("blacklist_value", (r) => r.value.blacklist.value)),
      scalar("blacklist_reason", source.string<B>("blacklist_reason", (r) => r.value.blacklist.reason)),
      ...tail
    ]
  }
}

type Anon = Decoded<AnonymizedTransaction>

const a = {
  transactionId: source.string<Anon>("transaction_id", (r) => r.value.transactionId),
  eventTime: source.timestamp<Anon>("event_time", (r) => r.value.eventTimeMs),
  type: source.string<Anon>("transaction_type", (r) => r.value.transactionType),
  status: source.string<Anon>("status", (r) => r.value.status),
  amount: source.decimal<Anon>("amount", (r) => r.value.amountCents),
  currency: source.string<Anon>("currency", (r) => r.value.currency),
  amountEur: source.decimal<Anon>("amount_eur", (r) => r.value.amountEurCents),
  pseudonym: source.string<Anon>("user.id", (r) => r.value.user.pseudonym),
  emailDomain: source.string<Anon>("user.email_domain", (r) => r.value.user.emailDomain, true),
  country: source.string<Anon>("user.country", (r) => r.value.user.country),
  methodId: source.string<Anon>("payment_method.id", (r) => r.value.paymentMethod.id),
  methodName: source.string<Anon>("payment_method.name", (r) => r.value.paymentMethod.name),
  methodCategory: source.string<Anon>("payment_method.category", (r) => r.value.paymentMethod.category),
  hasProduct: source.boolean<Anon>("product?", (r) => r.value.product !== null),
  productId: source.string<Anon>("product.id", (r) => r.value.product?.id ?? null, true),
  productName: source.string<Anon>("product.name", (r) => r.value.product?.name ?? null, true),
  productCategory: source.string<Anon>("product.category", (r) => r.value.product?.category ?? null, true),
  productPrice: source.decimal<Anon>("product.price", (r) => r.value.product?.priceCents ?? null, true),
  quantity: source.int32<Anon>("quantity", (r) => r.value.quantity),
  ipNetwork: source.string<Anon>("ip_network", (r) => r.value.ipNetwork, true),
  partition: source.int32<Anon>("_kafka_partition", (r) => r.partition),
  offset: source.int64<Anon>("_kafka_offset", (r) => r.offset),
  timestamp: source.timestamp<Anon>("_kafka_timestamp", (r) => r.timestamp)
}

/** `transaction_stream_anonymized`: every valid transaction with no personal data (see src/domain/Anonymize.ts). */
export const transactionAnonymizedFeed = (input: Processor<any, AnonymizedTransaction>): LakeFeed<Anon> => ({
  name: "transaction_stream_anonymized",
  kind: "streams",
  description: "Every valid transaction without personal data: the user id as a keyed pseudonym, no name, email, city or card, the email's domain and the country kept, the IP cut to its /24 (IPv6: /48)",
  input,
  columns: [
    scalar("transaction_id", a.transactionId),
    scalar("event_time", a.eventTime),
    scalar("transaction_type", a.type),
    scalar("status", a.status),
    scalar("amount", a.amount),
    scalar("currency", a.currency),
    scalar("amount_eur", a.amountEur),
    struct("user", [scalar("id", a.pseudonym), scalar("email_domain", a.emailDomain), scalar("country", a.country)]),
    struct("payment_method", [scalar("id", a.methodId), scalar("name", a.methodName), scalar("category", a.methodCategory)]),
    struct(
      "product",
      [scalar("id", a.productId), scalar("name", a.productName), scalar("category", a.productCategory), scalar("price", a.productPrice)],
      a.hasProduct
    ),
    scalar("quantity", a.quantity),
    scalar("ip_network", a.ipNetwork),
    scalar("_kafka_partition", a.partition),
    scalar("_kafka_offset", a.offset),
    scalar("_kafka_timestamp", a.timestamp)
  ],
  offsetOf: (r) => r.offset,
  partitionTime: (r) => r.value.eventTimeMs
})

const d = {
  topic: source.string<DeadLetter>("_kafka_topic", (x) => x.topic),
  partition: source.int32<DeadLetter>("_kafka_partition", (x) => x.partition),
  offset: source.int64<DeadLetter>("_kafka_offset", (x) => x.offset),
  timestamp: source.timestamp<DeadLetter>("_kafka_timestamp", (x) => x.timestamp),
  key: source.binary<DeadLetter>("key", (x) => x.key, true),
  value: source.binary<DeadLetter>("value", (x) => x.raw, true),
  kind: source.string<DeadLetter>("error_kind", (x) => x.kind),
  error: source.string<DeadLetter>("error", (x) => x.error)
}

/** The dead letters of a topic: the raw record kept whole, and why it was refused. */
export const deadLetterFeed = (topic: string): LakeFeed<DeadLetter> => ({
  name: topic,
  kind: "_deadletter",
  description: `Messages of ${topic} that could not be decoded, with the reason`,
  input: "deadLetters",
  columns: [
    scalar("_kafka_topic", d.topic),
    scalar("_kafka_partition", d.partition),
    scalar("_kafka_offset", d.offset),
    scalar("_kafka_timestamp", d.timestamp),
    scalar("key", d.key),
    scalar("value", d.value),
    scalar("error_kind", d.kind),
    scalar("error", d.error)
  ],
  offsetOf: (x) => x.offset,
  // A dead letter has no trustworthy event time: it is filed by its Kafka timestamp, which a producer
  // sets to anything; one outside the years 1000 to 9999 goes to the nearest bound's date
  // (`_kafka_timestamp` keeps it as it was).
  partitionTime: (x) => clampPartitionTime(x.timestamp)
})
