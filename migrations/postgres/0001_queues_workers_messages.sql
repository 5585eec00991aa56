-- Queues, workers and messages for postgres://. The same state model as the file stores
-- (migrations/sqlite/0001), in PostgreSQL's own types: identity ids, TIMESTAMPTZ from the
-- database clock, JSONB payloads and worker labels (a payload comes back as the same JSON
-- value, in PostgreSQL's normal spacing). Every object is created in the schema the
-- runner set with SET LOCAL search_path. IF NOT EXISTS keeps a re-run harmless.

CREATE TABLE IF NOT EXISTS pgqrs_queues (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue_name TEXT NOT NULL,
  max_read_count INTEGER NOT NULL CHECK (max_read_count > 0),
  visibility_timeout_ms BIGINT NOT NULL CHECK (visibility_timeout_ms >= 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS pgqrs_queues_name ON pgqrs_queues (queue_name);

-- role: 0 producer, 1 consumer, 2 admin.
-- status: 0 ready, 1 polling, 2 suspended, 3 interrupted, 4 stopped.
CREATE TABLE IF NOT EXISTS pgqrs_workers (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL,
  queue_id BIGINT REFERENCES pgqrs_queues (id),
  role SMALLINT NOT NULL CHECK (role BETWEEN 0 AND 2),
  status SMALLINT NOT NULL CHECK (status BETWEEN 0 AND 4),
  hostname TEXT NOT NULL,
  labels JSONB NOT NULL DEFAULT '{}',
  started_at TIMESTAMPTZ NOT NULL,
  heartbeat_at TIMESTAMPTZ NOT NULL,
  shutdown_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX IF NOT EXISTS pgqrs_workers_name ON pgqrs_workers (name);
CREATE INDEX IF NOT EXISTS pgqrs_workers_queue ON pgqrs_workers (queue_id, status);
-- The heartbeat reaper: live workers by last heartbeat.
CREATE INDEX IF NOT EXISTS pgqrs_workers_heartbeat ON pgqrs_workers (heartbeat_at)
  WHERE status <> 4;

-- state: 0 live (pending, delayed or leased), 1 dead, 2 archived.
-- A live message is visible when vt <= now(). lease_token and consumer_worker_id are set
-- while a lease exists (it may have expired); a receipt is valid while its token matches
-- and vt > now(). A lease that ends at read_ct >= the queue's max_read_count makes the
-- message dead.
-- Ids come from the identity sequence (Enqueue reserves them with nextval), so an id is
-- never reused.
CREATE TABLE IF NOT EXISTS pgqrs_messages (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue_id BIGINT NOT NULL REFERENCES pgqrs_queues (id),
  payload JSONB NOT NULL,
  priority INTEGER NOT NULL,
  state SMALLINT NOT NULL CHECK (state BETWEEN 0 AND 2),
  vt TIMESTAMPTZ NOT NULL,
  enqueued_at TIMESTAMPTZ NOT NULL,
  read_ct INTEGER NOT NULL DEFAULT 0,
  lease_token BIGINT,
  dequeued_at TIMESTAMPTZ,
  producer_worker_id BIGINT REFERENCES pgqrs_workers (id) ON DELETE SET NULL,
  consumer_worker_id BIGINT REFERENCES pgqrs_workers (id) ON DELETE SET NULL,
  dedup_key TEXT,
  archived_at TIMESTAMPTZ
)
-- Every lease, ack and nack rewrites a row and its dequeue index entry (vt and state
-- are indexed, so no update is HOT). Vacuum early, before dead entries at the head of
-- the dequeue index slow every dequeue down.
WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
      autovacuum_analyze_scale_factor = 0.05);
-- Dequeue: visible messages of one queue in priority, then visibility, then id order.
-- Within one priority the visible rows come first, so a dequeue stops after LIMIT rows.
-- Its (queue_id) prefix also serves purges, counts and the queue foreign key.
CREATE INDEX IF NOT EXISTS pgqrs_messages_dequeue
  ON pgqrs_messages (queue_id, state, priority DESC, vt, id);
-- Lease expiry: only live leased rows, by expiry time.
CREATE INDEX IF NOT EXISTS pgqrs_messages_leases ON pgqrs_messages (vt)
  WHERE state = 0 AND lease_token IS NOT NULL;
-- Worker leases (what a stale or stopping worker holds) and the consumer foreign key.
CREATE INDEX IF NOT EXISTS pgqrs_messages_consumer ON pgqrs_messages (consumer_worker_id)
  WHERE consumer_worker_id IS NOT NULL;
-- Foreign key checks when workers go away.
CREATE INDEX IF NOT EXISTS pgqrs_messages_producer ON pgqrs_messages (producer_worker_id)
  WHERE producer_worker_id IS NOT NULL;
-- Deduplication among unarchived messages (the key is cleared on archive and delete).
CREATE UNIQUE INDEX IF NOT EXISTS pgqrs_messages_dedup ON pgqrs_messages (queue_id, dedup_key)
  WHERE dedup_key IS NOT NULL;
-- Dead letters of one queue by id (ListDeadLetters pages).
CREATE INDEX IF NOT EXISTS pgqrs_messages_dead ON pgqrs_messages (queue_id, id)
  WHERE state = 1;
-- Archive retention.
CREATE INDEX IF NOT EXISTS pgqrs_messages_archived ON pgqrs_messages (archived_at)
  WHERE state = 2;
