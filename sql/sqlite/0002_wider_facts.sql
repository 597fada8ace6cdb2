-- Wider, exact money in the embedded warehouse's daily facts (sql/mysql/0002_wider_facts.sql
-- widens MySQL's to DECIMAL(38,2)): a day's total adds up thousands of amounts below 10^13 each.
--
-- 0001 kept money as REAL at the double nearest to a whole number of cents, with triggers rounding
-- every write back to it; that is exact only while a double's spacing is far below a cent, up to
-- about 2^44 (1.8 * 10^13): two of the largest amounts already pass it. Money is now exact decimal
-- text, as MySQL's DECIMAL prints it ("123.45": digits, a point, two decimals, a leading "-" when
-- negative), which the CHECK enforces (SQLite would otherwise store a number, or text that is none);
-- the sink adds to it with decimal_add(), exact at any size, registered on every connection by
-- src/sinks/warehouse/SqliteDecimal.ts. The column is declared TEXT: a DECIMAL declaration would
-- give it NUMERIC affinity, which turns such text back into a double. The cents triggers go with
-- the old tables.
-- Averages stay generated, rounded half away from zero to the cent in integer cents; exact while a
-- total is below 4.6 * 10^16 (2 * cents within 64 bits), approximate (a double) beyond.
--
-- SQLite cannot change a column's type: each table is rebuilt (new table, copy, drop, rename) in
-- the migration's transaction. Existing amounts are canonical doubles: printf('%.2f') writes them
-- exactly. Nothing references the facts, so the foreign keys need no pause.

CREATE TABLE fact_user_transaction_summary_0002 (
  id                 INTEGER       PRIMARY KEY AUTOINCREMENT,
  user_id            VARCHAR(128)  NOT NULL,
  transaction_type   VARCHAR(16)   NOT NULL,
  snapshot_date      TEXT          NOT NULL,
  total_amount       TEXT          NOT NULL CHECK (typeof(total_amount) = 'text'
    AND (total_amount GLOB '[0-9]*.[0-9][0-9]' OR total_amount GLOB '-[0-9]*.[0-9][0-9]')
    AND substr(total_amount, 2) NOT GLOB '*[^0-9.]*' AND total_amount NOT GLOB '*.*.*'),
  transaction_count  BIGINT        NOT NULL,
  avg_amount         DECIMAL(18,2) GENERATED ALWAYS AS (
    (CASE WHEN total_amount GLOB '-*' THEN -1 ELSE 1 END)
    * ((2 * ABS(CAST(REPLACE(total_amount, '.', '') AS NUMERIC)) + transaction_count) / (2 * transaction_count))
    / 100.0
  ) VIRTUAL,
  CONSTRAINT uq_user_transaction_summary UNIQUE (user_id, transaction_type, snapshot_date),
  CONSTRAINT fk_user_transaction_summary_user FOREIGN KEY (user_id) REFERENCES dim_users (user_id) ON DELETE CASCADE
);

INSERT INTO fact_user_transaction_summary_0002 (id, user_id, transaction_type, snapshot_date, total_amount, transaction_count)
SELECT id, user_id, transaction_type, snapshot_date, printf('%.2f', total_amount), transaction_count FROM fact_user_transaction_summary;

DROP TABLE fact_user_transaction_summary;

ALTER TABLE fact_user_transaction_summary_0002 RENAME TO fact_user_transaction_summary;

CREATE TABLE fact_user_transaction_summary_eur_0002 (
  id                 INTEGER       PRIMARY KEY AUTOINCREMENT,
  user_id            VARCHAR(128)  NOT NULL,
  transaction_type   VARCHAR(16)   NOT NULL,
  snapshot_date      TEXT          NOT NULL,
  total_amount_eur   TEXT          NOT NULL CHECK (typeof(total_amount_eur) = 'text'
    AND (total_amount_eur GLOB '[0-9]*.[0-9][0-9]' OR total_amount_eur GLOB '-[0-9]*.[0-9][0-9]')
    AND substr(total_amount_eur, 2) NOT GLOB '*[^0-9.]*' AND total_amount_eur NOT GLOB '*.*.*'),
  transaction_count  BIGINT        NOT NULL,
  avg_amount_eur     DECIMAL(18,2) GENERATED ALWAYS AS (
    (CASE WHEN total_amount_eur GLOB '-*' THEN -1 ELSE 1 END)
    * ((2 * ABS(CAST(REPLACE(total_amount_eur, '.', '') AS NUMERIC)) + transaction_count) / (2 * transaction_count))
    / 100.0
  ) VIRTUAL,
  CONSTRAINT uq_user_transaction_summary_eur UNIQUE (user_id, transaction_type, snapshot_date),
  CONSTRAINT fk_user_transaction_summary_eur_user FOREIGN KEY (user_id) REFERENCES dim_users (user_id) ON DELETE CASCADE
);

INSERT INTO fact_user_transaction_summary_eur_0002 (id, user_id, transaction_type, snapshot_date, total_amount_eur, transaction_count)
SELECT id, user_id, transaction_type, snapshot_date, printf('%.2f', total_amount_eur), transaction_count FROM fact_user_transaction_summary_eur;

DROP TABLE fact_user_transaction_summary_eur;

ALTER TABLE fact_user_transaction_summary_eur_0002 RENAME TO fact_user_transaction_summary_eur;

CREATE TABLE fact_payment_method_totals_0002 (
  id                 INTEGER       PRIMARY KEY AUTOINCREMENT,
  payment_method_id  VARCHAR(128)  NOT NULL,
  snapshot_date      TEXT          NOT NULL,
  total_amount_eur   TEXT          NOT NULL CHECK (typeof(total_amount_eur) = 'text'
    AND (total_amount_eur GLOB '[0-9]*.[0-9][0-9]' OR total_amount_eur GLOB '-[0-9]*.[0-9][0-9]')
    AND substr(total_amount_eur, 2) NOT GLOB '*[^0-9.]*' AND total_amount_eur NOT GLOB '*.*.*'),
  transaction_count  BIGINT        NOT NULL,
  avg_amount_eur     DECIMAL(18,2) GENERATED ALWAYS AS (
    (CASE WHEN total_amount_eur GLOB '-*' THEN -1 ELSE 1 END)
    * ((2 * ABS(CAST(REPLACE(total_amount_eur, '.', '') AS NUMERIC)) + transaction_count) / (2 * transaction_count))
    / 100.0
  ) VIRTUAL,
  CONSTRAINT uq_payment_method_totals UNIQUE (payment_method_id, snapshot_date),
  CONSTRAINT fk_payment_method_totals_method FOREIGN KEY (payment_method_id) REFERENCES dim_payment_methods (payment_method_id) ON DELETE CASCADE
);

INSERT INTO fact_payment_method_totals_0002 (id, payment_method_id, snapshot_date, total_amount_eur, transaction_count)
SELECT id, payment_method_id, snapshot_date, printf('%.2f', total_amount_eur), transaction_count FROM fact_payment_method_totals;

DROP TABLE fact_payment_method_totals;

ALTER TABLE fact_payment_method_totals_0002 RENAME TO fact_payment_method_totals;

CREATE TABLE fact_product_purchase_counts_0002 (
  id                 INTEGER       PRIMARY KEY AUTOINCREMENT,
  product_id         VARCHAR(128)  NOT NULL,
  snapshot_date      TEXT          NOT NULL,
  product_name       VARCHAR(255)  NOT NULL,
  product_category   VARCHAR(64)   NOT NULL,
  purchase_count     BIGINT        NOT NULL,
  units_sold         BIGINT        NOT NULL,
  total_revenue_eur  TEXT          NOT NULL CHECK (typeof(total_revenue_eur) = 'text'
    AND (total_revenue_eur GLOB '[0-9]*.[0-9][0-9]' OR total_revenue_eur GLOB '-[0-9]*.[0-9][0-9]')
    AND substr(total_revenue_eur, 2) NOT GLOB '*[^0-9.]*' AND total_revenue_eur NOT GLOB '*.*.*'),
  avg_price_eur      DECIMAL(18,2) GENERATED ALWAYS AS (
    (CASE WHEN total_revenue_eur GLOB '-*' THEN -1 ELSE 1 END)
    * ((2 * ABS(CAST(REPLACE(total_revenue_eur, '.', '') AS NUMERIC)) + units_sold) / (2 * units_sold))
    / 100.0
  ) VIRTUAL,
  unique_buyers      BIGINT        NOT NULL DEFAULT 0,
  CONSTRAINT uq_product_purchase_counts UNIQUE (product_id, snapshot_date)
);

INSERT INTO fact_product_purchase_counts_0002 (id, product_id, snapshot_date, product_name, product_category, purchase_count, units_sold, total_revenue_eur, unique_buyers)
SELECT id, product_id, snapshot_date, product_name, product_category, purchase_count, units_sold, printf('%.2f', total_revenue_eur), unique_buyers FROM fact_product_purchase_counts;

DROP TABLE fact_product_purchase_counts;

ALTER TABLE fact_product_purchase_counts_0002 RENAME TO fact_product_purchase_counts;
