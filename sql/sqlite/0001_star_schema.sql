-- The embedded warehouse's star schema: the same tables, columns, keys and cascades as
-- sql/mysql/0001_star_schema.sql, in SQLite's dialect (node:sqlite, SQLite 3.53 with Node 24).
--
-- Money. SQLite has no exact DECIMAL: a column declared DECIMAL(18,2) has NUMERIC affinity and
-- keeps a value with cents as a REAL (a double). The declared type stays DECIMAL(p,s) because the
-- dialect (src/sinks/warehouse/NodeSqliteDialect.ts) reads every DECIMAL(p,s) column back as exact
-- text with s decimals (`toFixed(s)`), as mysql2 returns DECIMAL: the Kysely types, the sink and
-- `sluice verify` see "123.45" on both databases. What keeps the sums exact rather than merely close:
--   * a stored amount is always the double nearest to a whole number of cents ("canonical");
--     inserts of "123.45" give it, and the *_cents triggers round every other insert or update
--     back to it with ROUND(x, 2) (MySQL's DECIMAL(18,2) rounds the same way on assignment);
--   * the sink adds canonical amounts (`total = total + excluded.total`): the double sum is within
--     a few ulps of the exact sum, so ROUND(sum, 2) is the canonical double of the exact sum. By
--     induction no error ever accumulates, however many windows add to a row (without the triggers
--     it drifts by up to an ulp per addition: 2e-5 after 100,000 additions at 1e10).
--   * this holds while a double's ulp is far below half a cent: up to 2^42 (about 4.4 trillion)
--     per amount, where DECIMAL(18,2) allows 10^16 (the embedded warehouse is for demos and
--     single machines; MySQL remains the production target).
-- CHECK (typeof(…) IN ('integer', 'real')) refuses text that is not a number, which NUMERIC
-- affinity would otherwise store as text (MySQL refuses it in strict mode).
-- Averages are generated, never stored: total / count rounded half away from zero to the cent,
-- computed in integer cents (ROUND(total * 100) is exact for a canonical amount) so that a half
-- cent is not at the mercy of binary fractions; count 0 gives NULL as on MySQL.
--
-- Dates and times are ISO-8601 text in UTC (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS.mmm`), as MySQL's DATE
-- and DATETIME(3) print and as strings sort; TEXT rather than DATE so that no value is ever
-- coerced to a number. VARCHAR(n) has TEXT affinity: SQLite does not enforce the lengths.
-- Tables keyed by text are WITHOUT ROWID: clustered on their key, as InnoDB is, one b-tree each.
-- Facts keep a surrogate INTEGER PRIMARY KEY AUTOINCREMENT and exactly one UNIQUE key, the
-- target of the sink's ON CONFLICT (entity…, snapshot_date) DO UPDATE.
-- Foreign keys need `PRAGMA foreign_keys = ON` on every connection, which the dialect sets.
--
-- The migrator splits statements at a semicolon that ends a line: each trigger's BEGIN … END is
-- written on ONE line so that its inner semicolon is not taken for the end of the statement.

CREATE TABLE IF NOT EXISTS dim_users (
  user_id     VARCHAR(128) NOT NULL,
  name        VARCHAR(255) NOT NULL,
  email       VARCHAR(255) NOT NULL,
  country     VARCHAR(64)  NOT NULL,
  city        VARCHAR(128) NOT NULL,
  first_seen  TEXT         NOT NULL,
  last_seen   TEXT         NOT NULL,
  PRIMARY KEY (user_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS dim_payment_methods (
  payment_method_id VARCHAR(128) NOT NULL,
  name              VARCHAR(255) NOT NULL,
  category          VARCHAR(64)  NOT NULL,
  first_seen        TEXT         NOT NULL,
  last_seen         TEXT         NOT NULL,
  PRIMARY KEY (payment_method_id)
) WITHOUT ROWID;

-- The rates applied to the EUR facts, as they were in force at the transactions' event times.
-- Read back with 10 decimals; a rate is written once and never summed.
CREATE TABLE IF NOT EXISTS dim_exchange_rates (
  currency     CHAR(3)        NOT NULL,
  valid_from   TEXT           NOT NULL,
  rate_to_eur  DECIMAL(20,10) NOT NULL CHECK (typeof(rate_to_eur) IN ('integer', 'real')),
  PRIMARY KEY (currency, valid_from)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS fact_user_transaction_summary (
  id                 INTEGER       PRIMARY KEY AUTOINCREMENT,
  user_id            VARCHAR(128)  NOT NULL,
  transaction_type   VARCHAR(16)   NOT NULL,
  snapshot_date      TEXT          NOT NULL,
  total_amount       DECIMAL(18,2) NOT NULL CHECK (typeof(total_amount) IN ('integer', 'real')),
  transaction_count  BIGINT        NOT NULL,
  avg_amount         DECIMAL(18,2) GENERATED ALWAYS AS (
    (CASE WHEN total_amount < 0 THEN -1 ELSE 1 END)
    * ((2 * ABS(CAST(ROUND(total_amount * 100) AS INTEGER)) + transaction_count) / (2 * transaction_count))
    / 100.0
  ) VIRTUAL,
  CONSTRAINT uq_user_transaction_summary UNIQUE (user_id, transaction_type, snapshot_date),
  CONSTRAINT fk_user_transaction_summary_user FOREIGN KEY (user_id) REFERENCES dim_users (user_id) ON DELETE CASCADE
);

CREATE TRIGGER IF NOT EXISTS fact_user_transaction_summary_cents_insert AFTER INSERT ON fact_user_transaction_summary
WHEN NEW.total_amount <> ROUND(NEW.total_amount, 2)
BEGIN UPDATE fact_user_transaction_summary SET total_amount = ROUND(NEW.total_amount, 2) WHERE id = NEW.id; END;

CREATE TRIGGER IF NOT EXISTS fact_user_transaction_summary_cents_update AFTER UPDATE OF total_amount ON fact_user_transaction_summary
WHEN NEW.total_amount <> ROUND(NEW.total_amount, 2)
BEGIN UPDATE fact_user_transaction_summary SET total_amount = ROUND(NEW.total_amount, 2) WHERE id = NEW.id; END;

CREATE TABLE IF NOT EXISTS fact_user_transaction_summary_eur (
  id                 INTEGER       PRIMARY KEY AUTOINCREMENT,
  user_id            VARCHAR(128)  NOT NULL,
  transaction_type   VARCHAR(16)   NOT NULL,
  snapshot_date      TEXT          NOT NULL,
  total_amount_eur   DECIMAL(18,2) NOT NULL CHECK (typeof(total_amount_eur) IN ('integer', 'real')),
  transaction_count  BIGINT        NOT NULL,
  avg_amount_eur     DECIMAL(18,2) GENERATED ALWAYS AS (
    (CASE WHEN total_amount_eur < 0 THEN -1 ELSE 1 END)
    * ((2 * ABS(CAST(ROUND(total_amount_eur * 100) AS INTEGER)) + transaction_count) / (2 * transaction_count))
    / 100.0
  ) VIRTUAL,
  CONSTRAINT uq_user_transaction_summary_eur UNIQUE (user_id, transaction_type, snapshot_date),
  CONSTRAINT fk_user_transaction_summary_eur_user FOREIGN KEY (user_id) REFERENCES dim_users (user_id) ON DELETE CASCADE
);

CREATE TRIGGER IF NOT EXISTS fact_user_transaction_summary_eur_cents_insert AFTER INSERT ON fact_user_transaction_summary_eur
WHEN NEW.total_amount_eur <> ROUND(NEW.total_amount_eur, 2)
BEGIN UPDATE fact_user_transaction_summary_eur SET total_amount_eur = ROUND(NEW.total_amount_eur, 2) WHERE id = NEW.id; END;

CREATE TRIGGER IF NOT EXISTS fact_user_transaction_summary_eur_cents_update AFTER UPDATE OF total_amount_eur ON fact_user_transaction_summary_eur
WHEN NEW.total_amount_eur <> ROUND(NEW.total_amount_eur, 2)
BEGIN UPDATE fact_user_transaction_summary_eur SET total_amount_eur = ROUND(NEW.total_amount_eur, 2) WHERE id = NEW.id; END;

CREATE TABLE IF NOT EXISTS fact_payment_method_totals (
  id                 INTEGER       PRIMARY KEY AUTOINCREMENT,
  payment_method_id  VARCHAR(128)  NOT NULL,
  snapshot_date      TEXT          NOT NULL,
  total_amount_eur   DECIMAL(18,2) NOT NULL CHECK (typeof(total_amount_eur) IN ('integer', 'real')),
  transaction_count  BIGINT        NOT NULL,
  avg_amount_eur     DECIMAL(18,2) GENERATED ALWAYS AS (
    (CASE WHEN total_amount_eur < 0 THEN -1 ELSE 1 END)
    * ((2 * ABS(CAST(ROUND(total_amount_eur * 100) AS INTEGER)) + transaction_count) / (2 * transaction_count))
    / 100.0
  ) VIRTUAL,
  CONSTRAINT uq_payment_method_totals UNIQUE (payment_method_id, snapshot_date),
  CONSTRAINT fk_payment_method_totals_method FOREIGN KEY (payment_method_id) REFERENCES dim_payment_methods (payment_method_id) ON DELETE CASCADE
);

CREATE TRIGGER IF NOT EXISTS fact_payment_method_totals_cents_insert AFTER INSERT ON fact_payment_method_totals
WHEN NEW.total_amount_eur <> ROUND(NEW.total_amount_eur, 2)
BEGIN UPDATE fact_payment_method_totals SET total_amount_eur = ROUND(NEW.total_amount_eur, 2) WHERE id = NEW.id; END;

CREATE TRIGGER IF NOT EXISTS fact_payment_method_totals_cents_update AFTER UPDATE OF total_amount_eur ON fact_payment_method_totals
WHEN NEW.total_amount_eur <> ROUND(NEW.total_amount_eur, 2)
BEGIN UPDATE fact_payment_method_totals SET total_amount_eur = ROUND(NEW.total_amount_eur, 2) WHERE id = NEW.id; END;

CREATE TABLE IF NOT EXISTS fact_product_purchase_counts (
  id                 INTEGER       PRIMARY KEY AUTOINCREMENT,
  product_id         VARCHAR(128)  NOT NULL,
  snapshot_date      TEXT          NOT NULL,
  product_name       VARCHAR(255)  NOT NULL,
  product_category   VARCHAR(64)   NOT NULL,
  purchase_count     BIGINT        NOT NULL,
  units_sold         BIGINT        NOT NULL,
  total_revenue_eur  DECIMAL(18,2) NOT NULL CHECK (typeof(total_revenue_eur) IN ('integer', 'real')),
  avg_price_eur      DECIMAL(18,2) GENERATED ALWAYS AS (
    (CASE WHEN total_revenue_eur < 0 THEN -1 ELSE 1 END)
    * ((2 * ABS(CAST(ROUND(total_revenue_eur * 100) AS INTEGER)) + units_sold) / (2 * units_sold))
    / 100.0
  ) VIRTUAL,
  unique_buyers      BIGINT        NOT NULL DEFAULT 0,
  CONSTRAINT uq_product_purchase_counts UNIQUE (product_id, snapshot_date)
);

CREATE TRIGGER IF NOT EXISTS fact_product_purchase_counts_cents_insert AFTER INSERT ON fact_product_purchase_counts
WHEN NEW.total_revenue_eur <> ROUND(NEW.total_revenue_eur, 2)
BEGIN UPDATE fact_product_purchase_counts SET total_revenue_eur = ROUND(NEW.total_revenue_eur, 2) WHERE id = NEW.id; END;

CREATE TRIGGER IF NOT EXISTS fact_product_purchase_counts_cents_update AFTER UPDATE OF total_revenue_eur ON fact_product_purchase_counts
WHEN NEW.total_revenue_eur <> ROUND(NEW.total_revenue_eur, 2)
BEGIN UPDATE fact_product_purchase_counts SET total_revenue_eur = ROUND(NEW.total_revenue_eur, 2) WHERE id = NEW.id; END;

-- One row per (product, day, buyer): unique_buyers is COUNT(*) over it, exact whatever the replays.
CREATE TABLE IF NOT EXISTS product_buyers (
  product_id     VARCHAR(128) NOT NULL,
  snapshot_date  TEXT         NOT NULL,
  user_id        VARCHAR(128) NOT NULL,
  PRIMARY KEY (product_id, snapshot_date, user_id),
  CONSTRAINT fk_product_buyers_user FOREIGN KEY (user_id) REFERENCES dim_users (user_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- The cascade from dim_users looks buyers up by user.
CREATE INDEX IF NOT EXISTS ix_product_buyers_user ON product_buyers (user_id);

-- The exactly-once protocol: a window of partition p commits in the same transaction that moves
-- next_offset from its first offset to the one after its last. "partition" is quoted everywhere:
-- it is a keyword of window functions (SQLite accepts it bare as a name, MySQL does not).
CREATE TABLE IF NOT EXISTS sluice_offsets (
  consumer_group  VARCHAR(255) NOT NULL,
  topic           VARCHAR(255) NOT NULL,
  "partition"     INT          NOT NULL,
  sink            VARCHAR(32)  NOT NULL,
  next_offset     BIGINT       NOT NULL,
  updated_at      TEXT         NOT NULL,
  PRIMARY KEY (consumer_group, topic, "partition", sink)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS data_lake_permissions (
  id           INTEGER       PRIMARY KEY AUTOINCREMENT,
  user_email   VARCHAR(255)  NOT NULL,
  folder_path  VARCHAR(1024) NOT NULL,
  permission   VARCHAR(8)    NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
  granted_by   VARCHAR(255)  NOT NULL,
  granted_at   TEXT          NOT NULL,
  expires_at   TEXT          NULL,
  revoked_at   TEXT          NULL
);

CREATE INDEX IF NOT EXISTS ix_data_lake_permissions_email ON data_lake_permissions (user_email);
