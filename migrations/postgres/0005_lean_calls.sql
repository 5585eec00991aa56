-- The lifecycle functions of 0004 with less database work per call: same signatures, same
-- results. Measured with pgbench calling them (tools/bench/pgmq_baseline's lifecycle, 8
-- clients; pg_stat_statements with track = all, and the backends' CPU time):
--
-- * pgqrs_call_queue is gone: a SQL-language function that cannot be inlined (it has a SET
--   clause) is parsed and planned again on every call, 0.13 ms each time and three times
--   a message, more than the statements that do the work. Each function reads its queue
--   with a statement of its own, which PL/pgSQL plans once per connection.
-- * Generic plans, forced. With plan_cache_mode auto the plan cache kept planning the
--   statements on unnest(array parameter) again on every call: a generic plan's estimate
--   (10 rows) never beats a custom plan's (1 row). pgqrs_settle_leases matches leases by
--   primary key only: its other conditions sit inside IS TRUE, which no index can serve,
--   and sequential scans and hash and merge joins are off, so a generic plan never scans
--   a queue's in-flight rows whatever the statistics say (the reason 0004 re-planned it).
-- * Enqueue without dedup keys is a plain INSERT: ON CONFLICT's speculative insertion
--   costs a check and an extra WAL record per row, and the identity default numbers the
--   rows (reserving ids first, with a catalog lookup of the sequence per id, cost as much
--   as the insert).
-- * The queue foreign key of messages ran a check, and a row lock on the queue, for every
--   message inserted. pgqrs_enqueue locks its queue FOR KEY SHARE once per call instead,
--   so a queue still cannot be deleted under an enqueue (StartRun's inserts go to a
--   trigger queue, which DeleteQueue refuses).
-- * pgqrs_lease_visible collects each round's rows into arrays with one statement instead
--   of walking them with a cursor and RETURN NEXT.
--
-- Backend CPU per message, before -> after (pgmq's SQL on the same cluster): batch 1
-- about 2,100 -> 1,100 us (680), batch 100 about 80 -> 52 us (31).

DROP FUNCTION IF EXISTS pgqrs_call_queue(TEXT);
ALTER TABLE pgqrs_messages DROP CONSTRAINT IF EXISTS pgqrs_messages_queue_id_fkey;

CREATE OR REPLACE FUNCTION pgqrs_enqueue(p_queue TEXT, p_producer BIGINT, p_payloads TEXT[],
                                         p_priorities INTEGER[], p_delays_us BIGINT[],
                                         p_dedup_keys TEXT[], OUT refusal INTEGER,
                                         OUT ids BIGINT[])
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  q RECORD;
  reserved BIGINT[];
  stored BIGINT[];
BEGIN
  -- FOR KEY SHARE, as the dropped foreign key did per row: DeleteQueue (FOR UPDATE) waits
  -- until this call commits.
  SELECT qs.id, EXISTS (SELECT 1 FROM pgqrs_workflows w WHERE w.queue_id = qs.id) AS is_trigger
    INTO q FROM pgqrs_queues qs WHERE qs.queue_name = p_queue FOR KEY SHARE OF qs;
  refusal := CASE WHEN q.id IS NULL THEN 1 WHEN q.is_trigger THEN 2 ELSE 0 END;
  IF refusal = 0 AND p_producer <> 0 THEN
    refusal := pgqrs_worker_refusal(p_producer, q.id, false);
  END IF;
  IF refusal <> 0 THEN RETURN; END IF;

  IF cardinality(array_remove(p_dedup_keys, NULL)) = 0 THEN
    -- No dedup key: every row is stored, without ON CONFLICT's speculative insertion. The
    -- identity numbers the rows as they are inserted, in input order, so the ids in
    -- ascending order answer the rows in order.
    WITH inserted AS (
      INSERT INTO pgqrs_messages AS m (queue_id, payload, priority, state, vt, enqueued_at,
                                       read_ct, producer_worker_id)
      SELECT q.id, t.payload::jsonb, t.priority, 0,
             now() + t.delay_us * interval '1 microsecond', now(), 0, NULLIF(p_producer, 0)
      FROM unnest(p_payloads, p_priorities, p_delays_us) AS t(payload, priority, delay_us)
      RETURNING m.id
    )
    SELECT array_agg(inserted.id ORDER BY inserted.id) INTO ids FROM inserted;
    RETURN;
  END IF;

  reserved := ARRAY(SELECT nextval(pg_get_serial_sequence('pgqrs_messages', 'id'))
                    FROM generate_series(1, cardinality(p_payloads)));

  WITH inserted AS (
    INSERT INTO pgqrs_messages (id, queue_id, payload, priority, state, vt, enqueued_at,
                                read_ct, producer_worker_id, dedup_key)
    OVERRIDING SYSTEM VALUE
    SELECT t.id, q.id, t.payload::jsonb, t.priority, 0,
           now() + t.delay_us * interval '1 microsecond', now(), 0, NULLIF(p_producer, 0),
           t.dedup_key
    FROM unnest(reserved, p_payloads, p_priorities, p_delays_us, p_dedup_keys)
      AS t(id, payload, priority, delay_us, dedup_key)
    ON CONFLICT (queue_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
    RETURNING pgqrs_messages.id
  )
  SELECT array_agg(inserted.id) INTO stored FROM inserted;
  IF cardinality(stored) = cardinality(reserved) THEN
    ids := reserved;
    RETURN;
  END IF;

  -- Rows not stored point at the unarchived message that holds their key.
  ids := ARRAY(
    SELECT coalesce(s.id, holder.id)
    FROM unnest(reserved, p_dedup_keys) WITH ORDINALITY AS t(id, dedup_key, n)
    LEFT JOIN unnest(stored) AS s(id) ON s.id = t.id
    LEFT JOIN pgqrs_messages holder
      ON s.id IS NULL AND holder.queue_id = q.id AND holder.dedup_key = t.dedup_key
    ORDER BY t.n);
  IF array_position(ids, NULL) IS NOT NULL THEN
    -- The holder was archived between the insert and this read: retried as a conflict.
    RAISE EXCEPTION 'dedup key released concurrently' USING ERRCODE = 'serialization_failure';
  END IF;
END
$$;

-- pgqrs_lease_visible (see 0004), each round's rows collected into arrays and returned at
-- the end.
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
      ORDER BY m.priority DESC, m.vt, m.id LIMIT p_max - cardinality(ids)
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

CREATE OR REPLACE FUNCTION pgqrs_dequeue(p_queue TEXT, p_consumer BIGINT, p_max INTEGER,
                                         p_timeout_us BIGINT, p_tokens BIGINT[])
RETURNS TABLE (refusal INTEGER, id BIGINT, payload TEXT, enqueued_us BIGINT, vt_us BIGINT,
               read_ct INTEGER, priority INTEGER, token BIGINT)
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  q RECORD;
  why INTEGER;
BEGIN
  SELECT qs.id, qs.max_read_count, qs.visibility_timeout_ms,
         EXISTS (SELECT 1 FROM pgqrs_workflows w WHERE w.queue_id = qs.id) AS is_trigger
    INTO q FROM pgqrs_queues qs WHERE qs.queue_name = p_queue;
  why := CASE WHEN q.id IS NULL THEN 1 WHEN q.is_trigger THEN 2 ELSE 0 END;
  IF why = 0 AND p_consumer <> 0 THEN
    why := pgqrs_worker_refusal(p_consumer, q.id, true);
  END IF;
  IF why <> 0 THEN
    refusal := why;
    RETURN NEXT;
    RETURN;
  END IF;
  RETURN QUERY
    SELECT 0, l.* FROM pgqrs_lease_visible(q.id, q.max_read_count, p_max,
                                           coalesce(p_timeout_us, q.visibility_timeout_ms * 1000),
                                           p_consumer, p_tokens) l;
END
$$;

CREATE OR REPLACE FUNCTION pgqrs_settle_leases(p_action TEXT, p_queue TEXT,
                                               p_allow_trigger BOOLEAN, p_ids BIGINT[],
                                               p_tokens BIGINT[], p_duration_us BIGINT)
RETURNS TABLE (refusal INTEGER, id BIGINT, token BIGINT, applied BOOLEAN)
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
#variable_conflict use_column
DECLARE
  q RECORD;
  done_ids BIGINT[];
  done_tokens BIGINT[];
BEGIN
  SELECT qs.id, qs.max_read_count, qs.visibility_timeout_ms,
         EXISTS (SELECT 1 FROM pgqrs_workflows w WHERE w.queue_id = qs.id) AS is_trigger
    INTO q FROM pgqrs_queues qs WHERE qs.queue_name = p_queue;
  IF q.id IS NULL OR (q.is_trigger AND NOT p_allow_trigger) THEN
    refusal := CASE WHEN q.id IS NULL THEN 1 ELSE 2 END;
    RETURN NEXT;
    RETURN;
  END IF;

  IF p_action = 'ack' THEN
    WITH s AS (
      UPDATE pgqrs_messages m SET state = 2, archived_at = now(), lease_token = NULL,
        consumer_worker_id = NULL, dedup_key = NULL
      FROM unnest(p_ids, p_tokens) AS l(id, token)
      WHERE m.id = l.id AND (m.queue_id = q.id AND m.state = 0 AND m.lease_token = l.token
                             AND m.vt > now()) IS TRUE
      RETURNING m.id, l.token)
    SELECT array_agg(s.id), array_agg(s.token) INTO done_ids, done_tokens FROM s;
  ELSIF p_action = 'delete' THEN
    WITH s AS (
      DELETE FROM pgqrs_messages m USING unnest(p_ids, p_tokens) AS l(id, token)
      WHERE m.id = l.id AND (m.queue_id = q.id AND m.state = 0 AND m.lease_token = l.token
                             AND m.vt > now()) IS TRUE
      RETURNING m.id, l.token)
    SELECT array_agg(s.id), array_agg(s.token) INTO done_ids, done_tokens FROM s;
  ELSIF p_action = 'nack' THEN
    WITH s AS (
      UPDATE pgqrs_messages m SET lease_token = NULL, consumer_worker_id = NULL,
        vt = CASE WHEN m.read_ct >= q.max_read_count THEN now()
                  ELSE now() + p_duration_us * interval '1 microsecond' END,
        state = CASE WHEN m.read_ct >= q.max_read_count THEN 1 ELSE 0 END
      FROM unnest(p_ids, p_tokens) AS l(id, token)
      WHERE m.id = l.id AND (m.queue_id = q.id AND m.state = 0 AND m.lease_token = l.token
                             AND m.vt > now()) IS TRUE
      RETURNING m.id, l.token)
    SELECT array_agg(s.id), array_agg(s.token) INTO done_ids, done_tokens FROM s;
  ELSIF p_action = 'extend' THEN
    WITH s AS (
      UPDATE pgqrs_messages m SET vt = now() + p_duration_us * interval '1 microsecond'
      FROM unnest(p_ids, p_tokens) AS l(id, token)
      WHERE m.id = l.id AND (m.queue_id = q.id AND m.state = 0 AND m.lease_token = l.token
                             AND m.vt > now()) IS TRUE
      RETURNING m.id, l.token)
    SELECT array_agg(s.id), array_agg(s.token) INTO done_ids, done_tokens FROM s;
  ELSIF p_action = 'return' THEN
    WITH s AS (
      UPDATE pgqrs_messages m SET lease_token = NULL, consumer_worker_id = NULL, vt = now(),
        read_ct = greatest(m.read_ct - 1, 0)
      FROM unnest(p_ids, p_tokens) AS l(id, token)
      WHERE m.id = l.id AND (m.queue_id = q.id AND m.state = 0 AND m.lease_token = l.token
                             AND m.vt > now()) IS TRUE
      RETURNING m.id, l.token)
    SELECT array_agg(s.id), array_agg(s.token) INTO done_ids, done_tokens FROM s;
  ELSE
    RAISE EXCEPTION 'unknown lease action %', p_action;
  END IF;

  RETURN QUERY SELECT 0, d.id, d.token, true FROM unnest(done_ids, done_tokens) AS d(id, token);
  IF coalesce(cardinality(done_ids), 0) = cardinality(p_ids) THEN
    RETURN;
  END IF;
  -- Only leases that failed need telling apart: lost (the message exists) or not found.
  RETURN QUERY
    SELECT 0, m.id, NULL::BIGINT, false FROM pgqrs_messages m
    WHERE (m.queue_id = q.id) IS TRUE AND m.id IN (
      SELECT l.id FROM unnest(p_ids, p_tokens) AS l(id, token)
      LEFT JOIN unnest(done_ids, done_tokens) AS d(id, token)
        ON d.id = l.id AND d.token = l.token
      WHERE d.id IS NULL);
END
$$;
