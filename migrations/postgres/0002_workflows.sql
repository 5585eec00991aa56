-- Durable workflows for postgres://: definitions, runs and memoised steps. The same state
-- model as the file stores (migrations/sqlite/0002), in PostgreSQL's own types: identity
-- ids, TIMESTAMPTZ from the database clock, JSONB documents (returned as the same JSON
-- value, in PostgreSQL's normal spacing). IF NOT EXISTS keeps a re-run harmless.
--
-- A run rides on the queue machinery: each live run has one trigger message on its
-- workflow's queue. Claiming a run leases that message (the queue's SKIP LOCKED dequeue);
-- the lease (message id + token) is the run's receipt and guards every step and run
-- write. A terminal run's message is deleted, so nothing of a finished run stays leasable.
-- Writers lock the trigger message before the run row, so they never deadlock.

-- The retry policy applies to every step of the workflow's runs. jitter is the fraction
-- of a backoff randomised away (0.25 = up to 25 % shorter).
CREATE TABLE IF NOT EXISTS pgqrs_workflows (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL,
  queue_id BIGINT NOT NULL REFERENCES pgqrs_queues (id),
  max_attempts INTEGER NOT NULL CHECK (max_attempts > 0),
  base_backoff_ms BIGINT NOT NULL CHECK (base_backoff_ms >= 0),
  max_backoff_ms BIGINT NOT NULL CHECK (max_backoff_ms >= 0),
  jitter DOUBLE PRECISION NOT NULL CHECK (jitter >= 0 AND jitter <= 1),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS pgqrs_workflows_name ON pgqrs_workflows (name);
-- One workflow per trigger queue; also serves the queue foreign key.
CREATE UNIQUE INDEX IF NOT EXISTS pgqrs_workflows_queue ON pgqrs_workflows (queue_id);

-- status (the numbers of pgqrs.v1.RunStatus): 1 queued, 2 running, 3 paused,
-- 4 succeeded, 5 failed, 6 cancelling, 7 cancelled.
-- message_id is the trigger message while the run is not terminal, NULL after. It is not
-- a foreign key on purpose: queue-level calls (purge, retention of archived rows) must
-- never fail, or stall a reaper, because a run still names a message.
-- worker_id is the registered worker of the latest claim (NULL for anonymous claims).
CREATE TABLE IF NOT EXISTS pgqrs_workflow_runs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workflow_id BIGINT NOT NULL REFERENCES pgqrs_workflows (id),
  status SMALLINT NOT NULL CHECK (status BETWEEN 1 AND 7),
  input JSONB NOT NULL,
  output JSONB,
  error JSONB,
  idempotency_key TEXT,
  message_id BIGINT,
  worker_id BIGINT REFERENCES pgqrs_workers (id) ON DELETE SET NULL,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  started_at TIMESTAMPTZ,
  completed_at TIMESTAMPTZ,
  resume_at TIMESTAMPTZ,
  CHECK ((message_id IS NULL) = (status IN (4, 5, 7)))
);
-- StartRun's idempotency (its ON CONFLICT target): one run per key and workflow.
CREATE UNIQUE INDEX IF NOT EXISTS pgqrs_workflow_runs_key
  ON pgqrs_workflow_runs (workflow_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- ClaimRun: from a leased trigger message to its run. Only live runs have one.
CREATE UNIQUE INDEX IF NOT EXISTS pgqrs_workflow_runs_message ON pgqrs_workflow_runs (message_id)
  WHERE message_id IS NOT NULL;
-- ListRuns of one workflow (and status) in id order; also serves the workflow foreign key.
CREATE INDEX IF NOT EXISTS pgqrs_workflow_runs_list
  ON pgqrs_workflow_runs (workflow_id, status, id);
-- ListRuns of one live status across workflows (finished runs pile up; live ones do not).
CREATE INDEX IF NOT EXISTS pgqrs_workflow_runs_live ON pgqrs_workflow_runs (status, id)
  WHERE status IN (1, 2, 3, 6);
-- Foreign key checks when workers go away.
CREATE INDEX IF NOT EXISTS pgqrs_workflow_runs_worker ON pgqrs_workflow_runs (worker_id)
  WHERE worker_id IS NOT NULL;

-- status (the numbers of pgqrs.v1.StepStatus): 1 started, 2 completed, 3 failed.
-- lease_token is the owner: the run lease under which the step was last started. Only
-- the holder of the run's current lease may complete or fail a step it started.
-- A failed step is retried at retry_at, or never when exhausted.
CREATE TABLE IF NOT EXISTS pgqrs_workflow_steps (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id BIGINT NOT NULL REFERENCES pgqrs_workflow_runs (id) ON DELETE CASCADE,
  step_name TEXT NOT NULL,
  status SMALLINT NOT NULL CHECK (status BETWEEN 1 AND 3),
  output JSONB,
  error JSONB,
  attempts INTEGER NOT NULL CHECK (attempts > 0),
  retry_at TIMESTAMPTZ,
  exhausted BOOLEAN NOT NULL DEFAULT false,
  lease_token BIGINT,
  started_at TIMESTAMPTZ NOT NULL,
  completed_at TIMESTAMPTZ
);
-- BeginStep and friends by (run, name); its run_id prefix serves ListSteps and the run
-- foreign key.
CREATE UNIQUE INDEX IF NOT EXISTS pgqrs_workflow_steps_run
  ON pgqrs_workflow_steps (run_id, step_name);
