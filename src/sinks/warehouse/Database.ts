/**
 * The warehouse's tables as Kysely types (sql/ holds their DDL). Values travel as text where
 * exactness matters: DECIMAL comes back as a string, BIGINT as a string (MySQL) or a number
 * (SQLite), dates as `YYYY-MM-DD`, datetimes as `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
 */
import type { ColumnType, Generated } from "kysely"

/** A DECIMAL: written as a number or string, read as a string. */
type Decimal = ColumnType<string, string | number, string | number>
/** A BIGINT: written as a number, read as a string (or a number, depending on the driver). */
type BigInt = ColumnType<string | number, number | string, number | string>
/** A generated column: read only. */
type Derived<T> = ColumnType<T, never, never>

export interface DimUsers {
  user_id: string
  name: string
  email: string
  country: string
  city: string
  first_seen: string
  last_seen: string
}

export interface DimPaymentMethods {
  payment_method_id: string
  name: string
  category: string
  first_seen: string
  last_seen: string
}

export interface DimExchangeRates {
  currency: string
  valid_from: string
  rate_to_eur: Decimal
}

export interface FactUserTransactionSummary {
  id: Generated<BigInt>
  user_id: string
  transaction_type: string
  snapshot_date: string
  total_amount: Decimal
  transaction_count: BigInt
  avg_amount: Derived<string>
}

export interface FactUserTransactionSummaryEur {
  id: Generated<BigInt>
  user_id: string
  transaction_type: string
  snapshot_date: string
  total_amount_eur: Decimal
  transaction_count: BigInt
  avg_amount_eur: Derived<string>
}

export interface FactPaymentMethodTotals {
  id: Generated<BigInt>
  payment_method_id: string
  snapshot_date: string
  total_amount_eur: Decimal
  transaction_count: BigInt
  avg_amount_eur: Derived<string>
}

export interface FactProductPurchaseCounts {
  id: Generated<BigInt>
  product_id: string
  snapshot_date: string
  product_name: string
  product_category: string
  purchase_count: BigInt
  units_sold: BigInt
  total_revenue_eur: Decimal
  avg_price_eur: Derived<string>
  unique_buyers: ColumnType<string | number, number | undefined, number>
}

export interface ProductBuyers {
  product_id: string
  snapshot_date: string
  user_id: string
}

export interface SluiceOffsets {
  consumer_group: string
  topic: string
  /** The topic's id: offsets belong to one incarnation of a topic ('' for rows written before ids were kept). */
  topic_id: Generated<string>
  partition: number
  sink: string
  next_offset: BigInt
  /** The decisions version the last window committed was decided with. */
  decisions_version: BigInt | null
  updated_at: string
}

export interface SluiceDecisions {
  version: BigInt
  content: string
  created_at: string
}

export interface DataLakePermissions {
  /** Read as a string (MySQL) or a number (SQLite); Kysely does not unwrap a generated `BigInt`. */
  id: Generated<string | number>
  user_email: string
  folder_path: string
  permission: "read" | "write" | "admin"
  granted_by: string
  granted_at: string
  expires_at: string | null
  revoked_at: string | null
}

export interface SluiceMigrations {
  version: number
  name: string
  checksum: string
  applied_at: string
}

export interface Database {
  dim_users: DimUsers
  dim_payment_methods: DimPaymentMethods
  dim_exchange_rates: DimExchangeRates
  fact_user_transaction_summary: FactUserTransactionSummary
  fact_user_transaction_summary_eur: FactUserTransactionSummaryEur
  fact_payment_method_totals: FactPaymentMethodTotals
  fact_product_purchase_counts: FactProductPurchaseCounts
  product_buyers: ProductBuyers
  sluice_offsets: SluiceOffsets
  sluice_decisions: SluiceDecisions
  data_lake_permissions: DataLakePermissions
  sluice_migrations: SluiceMigrations
}
