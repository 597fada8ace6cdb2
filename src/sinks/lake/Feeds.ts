/**
 * The lake's feeds of a transaction topic: what rows each table takes from a window, how they
 * are laid out in columns, and by which instant they are partitioned.
 */
import type { EurTransaction } from "../../domain/ExchangeRate.ts"
import type { Transaction } from "../../domain/Transaction.ts"
import type { DeadLetter, Decoded } from "../../topology/Record.ts"
import type { Window } from "../../topology/Window.ts"
import { type Column, column } from "./Columns.ts"

/** Where a feed's table lives under the lake root. */
export type FeedKind = "streams" | "_deadletter"

/** One lake table fed by a topic: its rows, their columns, and their partitioning instant. */
export interface LakeFeed<T, R> {
  readonly name: string
  readonly kind: FeedKind
  readonly description: string
  readonly columns: ReadonlyArray<Column<R>>
  /** The rows this feed takes from a window, in offset order. */
  readonly rows: (window: Window<T>) => ReadonlyArray<R>
  readonly offsetOf: (row: R) => number
  /** The instant (epoch millis, UTC) whose date partitions the row. */
  readonly partitionTime: (row: R) => number
}

type Tx = Decoded<EurTransaction>

const lineage: ReadonlyArray<Column<Tx>> = [
  column.int32("_kafka_partition", (r) => r.partition),
  column.int64("_kafka_offset", (r) => r.offset),
  column.timestamp("_kafka_timestamp", (r) => r.timestamp)
]

/** The columns every transaction feed starts with. */
const transactionHead: ReadonlyArray<Column<Tx>> = [
  column.string("transaction_id", (r) => r.value.transactionId),
  column.timestamp("event_time", (r) => r.value.eventTimeMs),
  column.string("transaction_type", (r) => r.value.transactionType),
  column.string("status", (r) => r.value.status),
  column.decimal("amount", (r) => r.value.amountCents),
  column.string("currency", (r) => r.value.currency)
]

const userFields: ReadonlyArray<Column<Transaction["user"]>> = [
  column.string("id", (u) => u.id),
  column.string("name", (u) => u.name),
  column.string("email", (u) => u.email),
  column.string("country", (u) => u.country),
  column.string("city", (u) => u.city)
]

const paymentMethodFields: ReadonlyArray<Column<Transaction["paymentMethod"]>> = [
  column.string("id", (p) => p.id),
  column.string("name", (p) => p.name),
  column.string("category", (p) => p.category)
]

const productFields: ReadonlyArray<Column<NonNullable<Transaction["product"]>>> = [
  column.string("id", (p) => p.id),
  column.string("name", (p) => p.name),
  column.string("category", (p) => p.category),
  column.decimal("price", (p) => p.priceCents)
]

/** A feed of valid transactions: the common head and tail columns around `body`, partitioned by event time. */
const transactionFeed = (name: string, description: string, body: ReadonlyArray<Column<Tx>>): LakeFeed<EurTransaction, Tx> => ({
  name,
  kind: "streams",
  description,
  columns: [
    ...transactionHead,
    ...body,
    column.int32("quantity", (r) => r.value.quantity),
    column.string("ip_address", (r) => r.value.ipAddress, true),
    column.string("card_last4", (r) => r.value.cardLast4, true),
    ...lineage
  ],
  rows: (window) => window.records,
  offsetOf: (r) => r.offset,
  partitionTime: (r) => r.value.eventTimeMs
})

/** `transaction_stream`: every valid transaction in its original nested shape, plus lineage. */
export const transactionStreamFeed = transactionFeed(
  "transaction_stream",
  "Every valid transaction as produced (nested user, payment method, product), with Kafka lineage",
  [
    column.struct("user", (r) => r.value.user, userFields),
    column.struct("payment_method", (r) => r.value.paymentMethod, paymentMethodFields),
    column.struct("product", (r) => r.value.product, productFields, true)
  ]
)

/** `transaction_flattened`: one flat row per transaction, the nested fields as prefixed columns. */
export const transactionFlattenedFeed = transactionFeed(
  "transaction_flattened",
  "One flat row per valid transaction (user_*, payment_method_*, product_* columns, the amount in EUR and the rate applied), with Kafka lineage",
  [
    column.string("user_id", (r) => r.value.user.id),
    column.string("user_name", (r) => r.value.user.name),
    column.string("user_email", (r) => r.value.user.email),
    column.string("user_country", (r) => r.value.user.country),
    column.string("user_city", (r) => r.value.user.city),
    column.string("payment_method_id", (r) => r.value.paymentMethod.id),
    column.string("payment_method_name", (r) => r.value.paymentMethod.name),
    column.string("payment_method_category", (r) => r.value.paymentMethod.category),
    column.string("product_id", (r) => r.value.product?.id ?? null, true),
    column.string("product_name", (r) => r.value.product?.name ?? null, true),
    column.string("product_category", (r) => r.value.product?.category ?? null, true),
    column.decimal("product_price", (r) => r.value.product?.priceCents ?? null, true),
    column.decimal("amount_eur", (r) => r.value.amountEurCents),
    column.float64("rate_to_eur", (r) => r.value.rate.rateToEur),
    column.timestamp("rate_valid_from", (r) => r.value.rate.validFrom)
  ]
)

/** The dead letters of a topic: the raw record kept whole, and why it was refused. */
export const deadLetterFeed = <T>(topic: string): LakeFeed<T, DeadLetter> => ({
  name: topic,
  kind: "_deadletter",
  description: `Messages of ${topic} that could not be decoded, with the reason`,
  columns: [
    column.string("_kafka_topic", (d) => d.topic),
    column.int32("_kafka_partition", (d) => d.partition),
    column.int64("_kafka_offset", (d) => d.offset),
    column.timestamp("_kafka_timestamp", (d) => d.timestamp),
    column.binary("key", (d) => d.key, true),
    column.binary("value", (d) => d.raw, true),
    column.string("error_kind", (d) => d.kind),
    column.string("error", (d) => d.error)
  ],
  rows: (window) => window.deadLetters,
  offsetOf: (d) => d.offset,
  // A dead letter has no trustworthy event time: it is filed by its Kafka timestamp.
  partitionTime: (d) => d.timestamp
})
