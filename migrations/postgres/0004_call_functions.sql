-- Server-side functions for the message lifecycle calls (Enqueue, Dequeue and the lease
-- calls), so that each call is one statement and the adapter sends it with its
-- transaction settings in one round trip. They hold the same SQL the adapter ran
-- statement by statement before; ClaimRun shares pgqrs_lease_visible and
-- pgqrs_worker_refusal. They send no wake-ups: a NOTIFY holds a database-wide lock
-- through its transaction's commit, fsync included, so the adapter sends wake-ups in a
-- transaction of their own (storage/postgres/README.md).
--
-- A call the rules refuse changes nothing and reports why as a refusal code, which the
-- adapter turns into the same status and message as before (RefusalStatus in
-- storage/postgres/messages.cc):
--   0 none, 1 queue not found, 2 the queue is a workflow's trigger queue,
--   3 worker not found, 4 worker stopped, 5 worker registered for another queue,
--   6 consumer suspended or interrupted.
--
-- Each function keeps the schema it was created in (SET search_path FROM CURRENT: the
-- migration runner's SET LOCAL search_path), whatever the caller's search_path. Their
-- statements use PostgreSQL's plan cache, except pgqrs_settle_leases: a generic plan for
-- its lease match can scan a queue's in-flight rows (the vt > now() estimate is far off),
-- so it plans with the real parameters every time.

-- The queue a call names: NULL id when there is none.
CREATE OR REPLACE FUNCTION pgqrs_call_queue(p_name TEXT, OUT id BIGINT,
                                            OUT max_read_count INTEGER,
                                            OUT visibility_timeout_ms BIGINT,
                                            OUT is_trigger BOOLEAN)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT q.id, q.max_read_count, q.visibility_timeout_ms,
         EXISTS (SELECT 1 FROM pgqrs_workflows w WHERE w.queue_id = q.id)
  FROM pgqrs_queues q WHERE q.queue_name = p_name
$$;

-- Whether worker p_worker may produce to (p_consuming false) or consume from queue
-- p_queue_id: it must exist, not be stopped and belong to the queue (an admin has none);
-- a consumer must also be ready or polling, and becomes polling with a fresh heartbeat.
-- Returns a refusal code, 0 when allowed.
CREATE OR REPLACE FUNCTION pgqrs_worker_refusal(p_worker BIGINT, p_queue_id BIGINT,
                                                p_consuming BOOLEAN)
RETURNS INTEGER LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  w RECORD;
BEGIN
  SELECT queue_id, status INTO w FROM pgqrs_workers WHERE id = p_worker FOR SHARE;
  IF NOT FOUND THEN RETURN 3; END IF;
  IF w.status = 4 THEN RETURN 4; END IF;
  IF w.queue_id IS NOT NULL AND w.queue_id <> p_queue_id THEN RETURN 5; END IF;
  IF p_consuming THEN
    UPDATE pgqrs_workers SET status = 1, heartbeat_at = now()
    WHERE id = p_worker AND status IN (0, 1);
    IF NOT FOUND THEN RETURN 6; END IF;
  END IF;
  RETURN 0;
END
$$;

-- Enqueue: stores the rows under fresh ids (ascending in row order), all or nothing. A
-- row whose dedup key an unarchived message holds stores nothing and gets that message's
-- id. ids[i] answers row i.
CREATE OR REPLACE FUNCTION pgqrs_enqueue(p_queue TEXT, p_producer BIGINT, p_payloads TEXT[],
                                         p_priorities INTEGER[], p_delays_us BIGINT[],
                                         p_dedup_keys TEXT[], OUT refusal INTEGER,
                                         OUT ids BIGINT[])
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  q RECORD;
  reserved BIGINT[];
  stored BIGINT[];
BEGIN
  SELECT * INTO q FROM pgqrs_call_queue(p_queue);
  refusal := CASE WHEN q.id IS NULL THEN 1 WHEN q.is_trigger THEN 2 ELSE 0 END;
  IF refusal = 0 AND p_producer <> 0 THEN
    refusal := pgqrs_worker_refusal(p_producer, q.id, false);
  END IF;
  IF refusal <> 0 THEN RETURN; END IF;

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

-- Leases up to p_max visible messages of queue p_queue_id in dequeue order (priority
-- descending, then vt, then id), FOR UPDATE SKIP LOCKED: read_ct + 1, vt = now() +
-- p_timeout_us, lease token p_tokens[k] for the k-th message leased. Messages whose final
-- lease expired are dead-lettered on the way, never returned; a round that dead-letters
-- some is followed by another while the batch is not full.
CREATE OR REPLACE FUNCTION pgqrs_lease_visible(p_queue_id BIGINT, p_max_read_count INTEGER,
                                               p_max INTEGER, p_timeout_us BIGINT,
                                               p_consumer BIGINT, p_tokens BIGINT[])
RETURNS TABLE (id BIGINT, payload TEXT, enqueued_us BIGINT, vt_us BIGINT, read_ct INTEGER,
               priority INTEGER, token BIGINT)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  leased INTEGER := 0;
  dead INTEGER;
  r RECORD;
BEGIN
  -- Each round dead-letters at least one message or ends, so this terminates.
  LOOP
    dead := 0;
    FOR r IN
      WITH c AS (
        SELECT m.id, m.priority, m.vt,
               (m.lease_token IS NOT NULL AND m.read_ct >= p_max_read_count) AS dead
        FROM pgqrs_messages m WHERE m.queue_id = p_queue_id AND m.state = 0 AND m.vt <= now()
        ORDER BY m.priority DESC, m.vt, m.id LIMIT p_max - leased FOR UPDATE SKIP LOCKED
      ), d AS (
        UPDATE pgqrs_messages m SET state = 1, lease_token = NULL, consumer_worker_id = NULL
        FROM c WHERE m.id = c.id AND c.dead
      ), l AS (
        UPDATE pgqrs_messages m SET read_ct = m.read_ct + 1,
          vt = now() + p_timeout_us * interval '1 microsecond',
          lease_token = p_tokens[leased + t.n],
          dequeued_at = coalesce(m.dequeued_at, now()),
          consumer_worker_id = NULLIF(p_consumer, 0)
        FROM (SELECT c.id, row_number() OVER (ORDER BY c.priority DESC, c.vt, c.id) AS n
              FROM c WHERE NOT c.dead) t
        WHERE m.id = t.id
        RETURNING m.id, m.payload::text AS payload, m.enqueued_at, m.vt, m.read_ct,
                  m.priority, m.lease_token
      )
      SELECT c.dead, l.id, l.payload,
             (extract(epoch FROM l.enqueued_at) * 1000000)::int8 AS enqueued_us,
             (extract(epoch FROM l.vt) * 1000000)::int8 AS vt_us, l.read_ct, l.priority,
             l.lease_token
      FROM c LEFT JOIN l ON l.id = c.id ORDER BY c.priority DESC, c.vt, c.id
    LOOP
      IF r.dead THEN
        dead := dead + 1;
        CONTINUE;
      END IF;
      id := r.id; payload := r.payload; enqueued_us := r.enqueued_us; vt_us := r.vt_us;
      read_ct := r.read_ct; priority := r.priority; token := r.lease_token;
      RETURN NEXT;
      leased := leased + 1;
    END LOOP;
    EXIT WHEN dead = 0 OR leased >= p_max;
  END LOOP;
END
$$;

-- Dequeue: the queue and consumer checks, then pgqrs_lease_visible with the queue's
-- visibility timeout unless p_timeout_us is given. A refusal is one row with only
-- `refusal` set; nothing leased is no rows.
CREATE OR REPLACE FUNCTION pgqrs_dequeue(p_queue TEXT, p_consumer BIGINT, p_max INTEGER,
                                         p_timeout_us BIGINT, p_tokens BIGINT[])
RETURNS TABLE (refusal INTEGER, id BIGINT, payload TEXT, enqueued_us BIGINT, vt_us BIGINT,
               read_ct INTEGER, priority INTEGER, token BIGINT)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  q RECORD;
  why INTEGER;
BEGIN
  SELECT * INTO q FROM pgqrs_call_queue(p_queue);
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

-- The lease calls. p_action: 'ack' archives, 'delete' removes, 'nack' ends the lease
-- (visible after p_duration_us, or dead at max_read_count), 'extend' sets vt = now() +
-- p_duration_us, 'return' undoes the lease (visible now, read_ct as before it). A lease
-- is valid while its message is live, carries its token and has not expired; an invalid
-- one changes nothing. Rows: (refusal 0, id, token, true) per lease it applied to, then
-- (0, id, NULL, false) per message of the queue that a lease it did not apply to names.
-- A refusal is one row with only `refusal` set.
CREATE OR REPLACE FUNCTION pgqrs_settle_leases(p_action TEXT, p_queue TEXT,
                                               p_allow_trigger BOOLEAN, p_ids BIGINT[],
                                               p_tokens BIGINT[], p_duration_us BIGINT)
RETURNS TABLE (refusal INTEGER, id BIGINT, token BIGINT, applied BOOLEAN)
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_custom_plan AS $$
#variable_conflict use_column
DECLARE
  q RECORD;
  done_ids BIGINT[];
  done_tokens BIGINT[];
BEGIN
  SELECT * INTO q FROM pgqrs_call_queue(p_queue);
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
      WHERE m.id = l.id AND m.queue_id = q.id AND m.state = 0 AND m.lease_token = l.token
        AND m.vt > now()
      RETURNING m.id, l.token)
    SELECT array_agg(s.id), array_agg(s.token) INTO done_ids, done_tokens FROM s;
  ELSIF p_action = 'delete' THEN
    WITH s AS (
      DELETE FROM pgqrs_messages m USING unnest(p_ids, p_tokens) AS l(id, token)
      WHERE m.id = l.id AND m.queue_id = q.id AND m.state = 0 AND m.lease_token = l.token
        AND m.vt > now()
      RETURNING m.id, l.token)
    SELECT array_agg(s.id), array_agg(s.token) INTO done_ids, done_tokens FROM s;
  ELSIF p_action = 'nack' THEN
    WITH s AS (
      UPDATE pgqrs_messages m SET lease_token = NULL, consumer_worker_id = NULL,
        vt = CASE WHEN m.read_ct >= q.max_read_count THEN now()
                  ELSE now() + p_duration_us * interval '1 microsecond' END,
        state = CASE WHEN m.read_ct >= q.max_read_count THEN 1 ELSE 0 END
      FROM unnest(p_ids, p_tokens) AS l(id, token)
      WHERE m.id = l.id AND m.queue_id = q.id AND m.state = 0 AND m.lease_token = l.token
        AND m.vt > now()
      RETURNING m.id, l.token)
    SELECT array_agg(s.id), array_agg(s.token) INTO done_ids, done_tokens FROM s;
  ELSIF p_action = 'extend' THEN
    WITH s AS (
      UPDATE pgqrs_messages m SET vt = now() + p_duration_us * interval '1 microsecond'
      FROM unnest(p_ids, p_tokens) AS l(id, token)
      WHERE m.id = l.id AND m.queue_id = q.id AND m.state = 0 AND m.lease_token = l.token
        AND m.vt > now()
      RETURNING m.id, l.token)
    SELECT array_agg(s.id), array_agg(s.token) INTO done_ids, done_tokens FROM s;
  ELSIF p_action = 'return' THEN
    WITH s AS (
      UPDATE pgqrs_messages m SET lease_token = NULL, consumer_worker_id = NULL, vt = now(),
        read_ct = greatest(m.read_ct - 1, 0)
      FROM unnest(p_ids, p_tokens) AS l(id, token)
      WHERE m.id = l.id AND m.queue_id = q.id AND m.state = 0 AND m.lease_token = l.token
        AND m.vt > now()
      RETURNING m.id, l.token)
    SELECT array_agg(s.id), array_agg(s.token) INTO done_ids, done_tokens FROM s;
  ELSE
    RAISE EXCEPTION 'unknown lease action %', p_action;
  END IF;

  RETURN QUERY SELECT 0, d.id, d.token, true FROM unnest(done_ids, done_tokens) AS d(id, token);
  -- Only leases that failed need telling apart: lost (the message exists) or not found.
  RETURN QUERY
    SELECT 0, m.id, NULL::BIGINT, false FROM pgqrs_messages m
    WHERE m.queue_id = q.id AND m.id IN (
      SELECT l.id FROM unnest(p_ids, p_tokens) AS l(id, token)
      LEFT JOIN unnest(done_ids, done_tokens) AS d(id, token)
        ON d.id = l.id AND d.token = l.token
      WHERE d.id IS NULL);
END
$$;
