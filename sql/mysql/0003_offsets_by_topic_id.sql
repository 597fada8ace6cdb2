-- Offsets belong to one incarnation of a topic: a topic deleted and created again under the same
-- name gets a new id, and is a new source read from its start. Rows written before topic ids were
-- recorded keep an empty topic_id: an earlier incarnation as far as the service is concerned.
-- Each offsets row also records the version of the decisions (rates, size cap, blacklist) the
-- window it committed was decided with, so that a replay of that window decides the same.
ALTER TABLE sluice_offsets
  ADD COLUMN topic_id VARCHAR(64) NOT NULL DEFAULT '' AFTER topic,
  ADD COLUMN decisions_version BIGINT NULL AFTER next_offset,
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (consumer_group, topic, topic_id, `partition`, sink);

-- The decisions snapshots that commits name by version: immutable, written before first use.
CREATE TABLE IF NOT EXISTS sluice_decisions (
  version     BIGINT       NOT NULL PRIMARY KEY,
  content     LONGTEXT     NOT NULL,
  created_at  DATETIME(3)  NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
