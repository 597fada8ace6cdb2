-- Offsets belong to one incarnation of a topic (see the MySQL migration of the same number).
-- SQLite cannot change a primary key in place: the table is rebuilt.
CREATE TABLE sluice_offsets_by_topic_id (
  consumer_group     VARCHAR(255) NOT NULL,
  topic              VARCHAR(255) NOT NULL,
  topic_id           VARCHAR(64)  NOT NULL DEFAULT '',
  "partition"        INT          NOT NULL,
  sink               VARCHAR(32)  NOT NULL,
  next_offset        BIGINT       NOT NULL,
  decisions_version  BIGINT       NULL,
  updated_at         TEXT         NOT NULL,
  PRIMARY KEY (consumer_group, topic, topic_id, "partition", sink)
) WITHOUT ROWID;

INSERT INTO sluice_offsets_by_topic_id (consumer_group, topic, topic_id, "partition", sink, next_offset, updated_at)
SELECT consumer_group, topic, '', "partition", sink, next_offset, updated_at FROM sluice_offsets;

DROP TABLE sluice_offsets;

ALTER TABLE sluice_offsets_by_topic_id RENAME TO sluice_offsets;

CREATE TABLE IF NOT EXISTS sluice_decisions (
  version     BIGINT  NOT NULL PRIMARY KEY,
  content     TEXT    NOT NULL,
  created_at  TEXT    NOT NULL
);
