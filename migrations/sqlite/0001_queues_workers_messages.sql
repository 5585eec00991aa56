-- Queues, workers and messages for the file stores (sqlite:// and engine://).
-- Kept to the subset the page engine supports: rowid tables with INTEGER PRIMARY KEY,
-- explicit CREATE [UNIQUE] INDEX, partial indexes only of the form `col IS [NOT] NULL`.
-- Timestamps are INTEGER microseconds since the Unix epoch, UTC.

-- Id allocation that never reuses an id, even after the highest row is deleted.
-- One row per table: 1 = pgqrs_queues, 2 = pgqrs_workers, 3 = pgqrs_messages.
CREATE TABLE pgqrs_sequences (
  id INTEGER PRIMARY KEY,
  next_id INTEGER NOT NULL
);
INSERT INTO pgqrs_sequences (id, next_id) VALUES (1, 1), (2, 1), (3, 1);

CREATE TABLE pgqrs_queues (
  id INTEGER PRIMARY KEY,
  queue_name TEXT NOT NULL,
  max_read_count INTEGER NOT NULL,
  visibility_timeout_ms INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX pgqrs_queues_name ON pgqrs_queues (queue_name);

-- role: 0 producer, 1 consumer, 2 admin.
-- status: 0 ready, 1 polling, 2 suspended, 3 interrupted, 4 stopped.
CREATE TABLE pgqrs_workers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  queue_id INTEGER REFERENCES pgqrs_queues (id),
  role INTEGER NOT NULL,
  status INTEGER NOT NULL,
  hostname TEXT NOT NULL,
  labels_json TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  shutdown_at INTEGER
);
CREATE UNIQUE INDEX pgqrs_workers_name ON pgqrs_workers (name);
CREATE INDEX pgqrs_workers_queue ON pgqrs_workers (queue_id, status);
-- The heartbeat reaper: live workers by last heartbeat.
CREATE INDEX pgqrs_workers_heartbeat ON pgqrs_workers (status, heartbeat_at);

-- state: 0 live (pending, delayed or leased), 1 dead, 2 archived.
-- A live message is visible when vt <= now. lease_token and consumer_worker_id are set
-- while a lease exists (it may have expired); a receipt is valid while its token matches
-- and vt > now. A lease that ends at read_ct >= the queue's max_read_count makes the
-- message dead.
CREATE TABLE pgqrs_messages (
  id INTEGER PRIMARY KEY,
  queue_id INTEGER NOT NULL REFERENCES pgqrs_queues (id),
  payload TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state INTEGER NOT NULL,
  vt INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  read_ct INTEGER NOT NULL,
  lease_token INTEGER,
  dequeued_at INTEGER,
  producer_worker_id INTEGER REFERENCES pgqrs_workers (id),
  consumer_worker_id INTEGER REFERENCES pgqrs_workers (id),
  dedup_key TEXT,
  archived_at INTEGER
);
-- Dequeue: visible messages of one queue in priority, then visibility, then id order.
-- Within one priority the visible rows come first, so a dequeue stops after LIMIT rows.
CREATE INDEX pgqrs_messages_dequeue ON pgqrs_messages (queue_id, state, priority DESC, vt, id);
-- Lease expiry: only leased rows, by expiry time.
CREATE INDEX pgqrs_messages_leases ON pgqrs_messages (vt) WHERE lease_token IS NOT NULL;
-- Worker leases: what a stale or stopping worker holds. consumer_worker_id is set only
-- while a lease exists.
CREATE INDEX pgqrs_messages_consumer ON pgqrs_messages (consumer_worker_id)
  WHERE consumer_worker_id IS NOT NULL;
-- Deduplication among unarchived messages (the key is cleared on archive and delete).
CREATE UNIQUE INDEX pgqrs_messages_dedup ON pgqrs_messages (queue_id, dedup_key)
  WHERE dedup_key IS NOT NULL;
-- Archive retention.
CREATE INDEX pgqrs_messages_archived ON pgqrs_messages (archived_at)
  WHERE archived_at IS NOT NULL;
-- Foreign key checks when workers go away.
CREATE INDEX pgqrs_messages_producer ON pgqrs_messages (producer_worker_id)
  WHERE producer_worker_id IS NOT NULL;
