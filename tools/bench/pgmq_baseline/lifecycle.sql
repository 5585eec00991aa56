-- One pgbench client round: send a batch, read a batch, archive what was read. Each
-- statement is its own transaction (a commit, fsynced), as pgmq's send, read and archive
-- calls are. :batch and :payload come from pgbench -D; :payload is a JSON document.

-- send (send_batch for batch > 1): one INSERT of :batch messages, visible now.
INSERT INTO pgmq_baseline_q (vt, message)
  SELECT clock_timestamp(), :payload::jsonb FROM generate_series(1, :batch);

-- read: the oldest visible messages FOR UPDATE SKIP LOCKED, leased for 30 s (vt moved,
-- read_ct bumped); the messages come back to the client.
WITH c AS (
  SELECT msg_id FROM pgmq_baseline_q WHERE vt <= clock_timestamp()
  ORDER BY msg_id LIMIT :batch FOR UPDATE SKIP LOCKED
), r AS (
  UPDATE pgmq_baseline_q m SET vt = clock_timestamp() + interval '30 seconds',
    read_ct = m.read_ct + 1
  FROM c WHERE m.msg_id = c.msg_id RETURNING m.msg_id, m.message
)
SELECT count(*) AS n, coalesce(array_agg(msg_id), '{}') AS ids,
  string_agg(message::text, ',') AS messages FROM r \gset

-- archive: DELETE ... RETURNING into the archive table.
\if :n > 0
WITH d AS (
  DELETE FROM pgmq_baseline_q WHERE msg_id = ANY(:ids::bigint[])
  RETURNING msg_id, read_ct, enqueued_at, vt, message
)
INSERT INTO pgmq_baseline_a (msg_id, read_ct, enqueued_at, vt, message)
  SELECT msg_id, read_ct, enqueued_at, vt, message FROM d;
\endif
