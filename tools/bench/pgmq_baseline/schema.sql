-- pgmq-style tables for the baseline: one queue table and its archive, laid out as pgmq
-- lays out a logged queue (identity msg_id, read_ct, enqueued_at, vt, JSONB message; the
-- archive adds archived_at; an index on vt serves the read). Recreated on every run.
SET client_min_messages = warning;
DROP TABLE IF EXISTS pgmq_baseline_q, pgmq_baseline_a;
CREATE TABLE pgmq_baseline_q (
  msg_id BIGINT PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  read_ct INTEGER NOT NULL DEFAULT 0,
  enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  vt TIMESTAMPTZ NOT NULL,
  message JSONB
);
CREATE INDEX pgmq_baseline_q_vt ON pgmq_baseline_q (vt ASC);
CREATE TABLE pgmq_baseline_a (
  msg_id BIGINT PRIMARY KEY,
  read_ct INTEGER NOT NULL DEFAULT 0,
  enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  archived_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  vt TIMESTAMPTZ NOT NULL,
  message JSONB
);
CREATE INDEX pgmq_baseline_a_archived_at ON pgmq_baseline_a (archived_at);
