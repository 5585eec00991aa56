-- The dequeue index breaks ties by (id + 0) instead of id. A btree serves a condition on
-- any of its key columns, so with id as the last one the planner could look messages up by
-- id through this index, reading all of it for each message, whenever the statistics said
-- the table was empty: an autovacuum that finds a drained queue's table empty leaves such
-- statistics, and every index scan is then costed at one page. Dequeues and acks took up
-- to a second each until the next vacuum counted rows again (storage/postgres/README.md,
-- "Plans on a drained queue"). An expression column serves no condition on id, so lookups
-- by id take the primary key whatever the statistics say; the dequeue orders by the same
-- expression, so it still reads the index in order.
--
-- The index is built again here, holding writes to the messages table off meanwhile.

DROP INDEX IF EXISTS pgqrs_messages_dequeue;
CREATE INDEX pgqrs_messages_dequeue
  ON pgqrs_messages (queue_id, state, priority DESC, vt, (id + 0));

-- pgqrs_lease_visible of 0005, its dequeue order written as the index's.
CREATE OR REPLACE FUNCTION pgqrs_lease_visible(p_queue_id BIGINT, p_max_read_count INTEGER,
                                               p_max INTEGER, p_timeout_us BIGINT,
                                               p_consumer BIGINT, p_tokens BIGINT[])
RETURNS TABLE (id BIGINT, payload TEXT, enqueued_us BIGINT, vt_us BIGINT, read_ct INTEGER,
               priority INTEGER, token BIGINT)
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  ids BIGINT[] := '{}';
  payloads TEXT[] := '{}';
  enqueued BIGINT[] := '{}';
  vts BIGINT[] := '{}';
  read_cts INTEGER[] := '{}';
  priorities INTEGER[] := '{}';
  tokens BIGINT[] := '{}';
  round RECORD;
BEGIN
  -- Each round dead-letters at least one message or ends, so this terminates.
  LOOP
    WITH c AS (
      SELECT m.id, m.priority, m.vt,
             (m.lease_token IS NOT NULL AND m.read_ct >= p_max_read_count) AS dead
      FROM pgqrs_messages m WHERE m.queue_id = p_queue_id AND m.state = 0 AND m.vt <= now()
      ORDER BY m.priority DESC, m.vt, m.id + 0 LIMIT p_max - cardinality(ids)
      FOR UPDATE SKIP LOCKED
    ), d AS (
      UPDATE pgqrs_messages m SET state = 1, lease_token = NULL, consumer_worker_id = NULL
      FROM c WHERE m.id = c.id AND c.dead
    ), l AS (
      UPDATE pgqrs_messages m SET read_ct = m.read_ct + 1,
        vt = now() + p_timeout_us * interval '1 microsecond',
        lease_token = p_tokens[cardinality(ids) + t.n],
        dequeued_at = coalesce(m.dequeued_at, now()),
        consumer_worker_id = NULLIF(p_consumer, 0)
      FROM (SELECT c.id, row_number() OVER (ORDER BY c.priority DESC, c.vt, c.id) AS n
            FROM c WHERE NOT c.dead) t
      WHERE m.id = t.id
      RETURNING t.n, m.id, m.payload::text AS payload, m.enqueued_at, m.vt, m.read_ct,
                m.priority, m.lease_token
    ), leased AS (SELECT * FROM l ORDER BY l.n)
    SELECT array_agg(leased.id) AS ids, array_agg(leased.payload) AS payloads,
           array_agg((extract(epoch FROM leased.enqueued_at) * 1000000)::int8) AS enqueued,
           array_agg((extract(epoch FROM leased.vt) * 1000000)::int8) AS vts,
           array_agg(leased.read_ct) AS read_cts, array_agg(leased.priority) AS priorities,
           array_agg(leased.lease_token) AS tokens,
           (SELECT count(*) FROM c WHERE c.dead) AS dead
      INTO round FROM leased;
    ids := ids || round.ids;
    payloads := payloads || round.payloads;
    enqueued := enqueued || round.enqueued;
    vts := vts || round.vts;
    read_cts := read_cts || round.read_cts;
    priorities := priorities || round.priorities;
    tokens := tokens || round.tokens;
    EXIT WHEN round.dead = 0 OR cardinality(ids) >= p_max;
  END LOOP;
  RETURN QUERY SELECT * FROM unnest(ids, payloads, enqueued, vts, read_cts, priorities, tokens);
END
$$;
