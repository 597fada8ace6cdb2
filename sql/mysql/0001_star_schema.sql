-- The warehouse star schema (dimensions, daily facts), the offsets of its exactly-once protocol,
-- and the lake's folder permissions. Runs unchanged on MySQL 8 and MariaDB 10.11.
-- Money is DECIMAL(18,2); averages are generated from total / count, never stored as a copy.
-- Every fact has exactly one unique key, (entity…, snapshot_date), besides its surrogate key, so
-- that INSERT … ON DUPLICATE KEY UPDATE can only ever meet the row of that entity and day.

CREATE TABLE IF NOT EXISTS dim_users (
  user_id     VARCHAR(128) NOT NULL,
  name        VARCHAR(255) NOT NULL,
  email       VARCHAR(255) NOT NULL,
  country     VARCHAR(64)  NOT NULL,
  city        VARCHAR(128) NOT NULL,
  first_seen  DATETIME(3)  NOT NULL,
  last_seen   DATETIME(3)  NOT NULL,
  PRIMARY KEY (user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS dim_payment_methods (
  payment_method_id VARCHAR(128) NOT NULL,
  name              VARCHAR(255) NOT NULL,
  category          VARCHAR(64)  NOT NULL,
  first_seen        DATETIME(3)  NOT NULL,
  last_seen         DATETIME(3)  NOT NULL,
  PRIMARY KEY (payment_method_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The rates applied to the EUR facts, as they were in force at the transactions' event times.
CREATE TABLE IF NOT EXISTS dim_exchange_rates (
  currency     CHAR(3)        NOT NULL,
  valid_from   DATETIME(3)    NOT NULL,
  rate_to_eur  DECIMAL(20,10) NOT NULL,
  PRIMARY KEY (currency, valid_from)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS fact_user_transaction_summary (
  id                 BIGINT        NOT NULL AUTO_INCREMENT,
  user_id            VARCHAR(128)  NOT NULL,
  transaction_type   VARCHAR(16)   NOT NULL,
  snapshot_date      DATE          NOT NULL,
  total_amount       DECIMAL(18,2) NOT NULL,
  transaction_count  BIGINT        NOT NULL,
  avg_amount         DECIMAL(18,2) AS (total_amount / transaction_count) VIRTUAL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_user_transaction_summary (user_id, transaction_type, snapshot_date),
  CONSTRAINT fk_user_transaction_summary_user FOREIGN KEY (user_id) REFERENCES dim_users (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS fact_user_transaction_summary_eur (
  id                 BIGINT        NOT NULL AUTO_INCREMENT,
  user_id            VARCHAR(128)  NOT NULL,
  transaction_type   VARCHAR(16)   NOT NULL,
  snapshot_date      DATE          NOT NULL,
  total_amount_eur   DECIMAL(18,2) NOT NULL,
  transaction_count  BIGINT        NOT NULL,
  avg_amount_eur     DECIMAL(18,2) AS (total_amount_eur / transaction_count) VIRTUAL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_user_transaction_summary_eur (user_id, transaction_type, snapshot_date),
  CONSTRAINT fk_user_transaction_summary_eur_user FOREIGN KEY (user_id) REFERENCES dim_users (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS fact_payment_method_totals (
  id                 BIGINT        NOT NULL AUTO_INCREMENT,
  payment_method_id  VARCHAR(128)  NOT NULL,
  snapshot_date      DATE          NOT NULL,
  total_amount_eur   DECIMAL(18,2) NOT NULL,
  transaction_count  BIGINT        NOT NULL,
  avg_amount_eur     DECIMAL(18,2) AS (total_amount_eur / transaction_count) VIRTUAL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_payment_method_totals (payment_method_id, snapshot_date),
  CONSTRAINT fk_payment_method_totals_method FOREIGN KEY (payment_method_id) REFERENCES dim_payment_methods (payment_method_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS fact_product_purchase_counts (
  id                 BIGINT        NOT NULL AUTO_INCREMENT,
  product_id         VARCHAR(128)  NOT NULL,
  snapshot_date      DATE          NOT NULL,
  product_name       VARCHAR(255)  NOT NULL,
  product_category   VARCHAR(64)   NOT NULL,
  purchase_count     BIGINT        NOT NULL,
  units_sold         BIGINT        NOT NULL,
  total_revenue_eur  DECIMAL(18,2) NOT NULL,
  avg_price_eur      DECIMAL(18,2) AS (total_revenue_eur / units_sold) VIRTUAL,
  unique_buyers      BIGINT        NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  UNIQUE KEY uq_product_purchase_counts (product_id, snapshot_date)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per (product, day, buyer): unique_buyers is COUNT(*) over it, exact whatever the replays.
CREATE TABLE IF NOT EXISTS product_buyers (
  product_id     VARCHAR(128) NOT NULL,
  snapshot_date  DATE         NOT NULL,
  user_id        VARCHAR(128) NOT NULL,
  PRIMARY KEY (product_id, snapshot_date, user_id),
  KEY ix_product_buyers_user (user_id),
  CONSTRAINT fk_product_buyers_user FOREIGN KEY (user_id) REFERENCES dim_users (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The exactly-once protocol: a window of partition p commits in the same transaction that moves
-- next_offset from its first offset to the one after its last.
CREATE TABLE IF NOT EXISTS sluice_offsets (
  consumer_group  VARCHAR(255) NOT NULL,
  topic           VARCHAR(255) NOT NULL,
  `partition`     INT          NOT NULL,
  sink            VARCHAR(32)  NOT NULL,
  next_offset     BIGINT       NOT NULL,
  updated_at      DATETIME(3)  NOT NULL,
  PRIMARY KEY (consumer_group, topic, `partition`, sink)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS data_lake_permissions (
  id           BIGINT        NOT NULL AUTO_INCREMENT,
  user_email   VARCHAR(255)  NOT NULL,
  folder_path  VARCHAR(1024) NOT NULL,
  permission   ENUM('read', 'write', 'admin') NOT NULL,
  granted_by   VARCHAR(255)  NOT NULL,
  granted_at   DATETIME(3)   NOT NULL,
  expires_at   DATETIME(3)   NULL,
  revoked_at   DATETIME(3)   NULL,
  PRIMARY KEY (id),
  KEY ix_data_lake_permissions_email (user_email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
