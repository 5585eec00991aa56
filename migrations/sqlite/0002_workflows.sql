-- Durable workflows: definitions, runs and memoised steps (file stores).
-- Same subset rules as 0001: rowid tables with INTEGER PRIMARY KEY, explicit indexes,
-- partial indexes only `col IS [NOT] NULL`, INTEGER microsecond timestamps.
--
-- A run rides on the queue machinery: each live run has one trigger message on its
-- workflow's queue. Claiming a run leases that message; the lease (message id + token)
-- is the run's receipt and guards every step and run write. A terminal run's message is
-- deleted, so nothing of a finished run stays leasable.

-- New sequence rows: 4 = pgqrs_workflows, 5 = pgqrs_workflow_runs,
-- 6 = pgqrs_workflow_steps. Ids are never reused.
INSERT INTO pgqrs_sequences (id, next_id) VALUES (4, 1), (5, 1), (6, 1);

-- The retry policy applies to every step of the workflow's runs. jitter_ppm is the
-- fraction of a backoff randomised away, in millionths (250000 = 25 %).
CREATE TABLE pgqrs_workflows (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  queue_id INTEGER NOT NULL REFERENCES pgqrs_queues (id),
  max_attempts INTEGER NOT NULL,
  base_backoff_ms INTEGER NOT NULL,
  max_backoff_ms INTEGER NOT NULL,
  jitter_ppm INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX pgqrs_workflows_name ON pgqrs_workflows (name);
CREATE INDEX pgqrs_workflows_queue ON pgqrs_workflows (queue_id);

-- status (the numbers of pgqrs.v1.RunStatus): 1 queued, 2 running, 3 paused,
-- 4 succeeded, 5 failed, 6 cancelling, 7 cancelled.
-- message_id is the trigger message while the run is not terminal, NULL after. It is not
-- a foreign key on purpose: queue-level calls (purge, retention of archived rows) must
-- never fail, or stall a reaper, because a run still names a message.
-- worker_id is the registered worker of the latest claim (NULL for anonymous claims).
CREATE TABLE pgqrs_workflow_runs (
  id INTEGER PRIMARY KEY,
  workflow_id INTEGER NOT NULL REFERENCES pgqrs_workflows (id),
  status INTEGER NOT NULL,
  input TEXT NOT NULL,
  output TEXT,
  error TEXT,
  idempotency_key TEXT,
  message_id INTEGER,
  worker_id INTEGER REFERENCES pgqrs_workers (id),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  completed_at INTEGER,
  resume_at INTEGER
);
-- StartRun's idempotency: one run per key and workflow.
CREATE UNIQUE INDEX pgqrs_workflow_runs_key ON pgqrs_workflow_runs (workflow_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- ClaimRun: from a leased message to its run.
CREATE UNIQUE INDEX pgqrs_workflow_runs_message ON pgqrs_workflow_runs (message_id)
  WHERE message_id IS NOT NULL;
-- ListRuns by workflow (and status), in id order.
CREATE INDEX pgqrs_workflow_runs_list ON pgqrs_workflow_runs (workflow_id, status, id);
-- Foreign key checks when workers go away.
CREATE INDEX pgqrs_workflow_runs_worker ON pgqrs_workflow_runs (worker_id)
  WHERE worker_id IS NOT NULL;

-- status (the numbers of pgqrs.v1.StepStatus): 1 started, 2 completed, 3 failed.
-- lease_token is the owner: the run lease under which the step was last started. Only
-- the holder of the run's current lease may complete or fail a step it started.
-- A failed step is retried at retry_at, or never when exhausted = 1.
CREATE TABLE pgqrs_workflow_steps (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES pgqrs_workflow_runs (id),
  step_name TEXT NOT NULL,
  status INTEGER NOT NULL,
  output TEXT,
  error TEXT,
  attempts INTEGER NOT NULL,
  retry_at INTEGER,
  exhausted INTEGER NOT NULL,
  lease_token INTEGER,
  started_at INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE UNIQUE INDEX pgqrs_workflow_steps_run ON pgqrs_workflow_steps (run_id, step_name);
