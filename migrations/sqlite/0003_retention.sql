-- Retention (file stores): the reaper deletes finished runs and stopped workers once they
-- are older than the daemon's --run_retention_ms / --worker_retention_ms. These indexes let
-- it find the oldest ones without scanning the tables. completed_at is set exactly when a
-- run reaches a terminal status; shutdown_at exactly while a worker is stopped.
CREATE INDEX pgqrs_workflow_runs_completed ON pgqrs_workflow_runs (completed_at)
  WHERE completed_at IS NOT NULL;
CREATE INDEX pgqrs_workers_shutdown ON pgqrs_workers (shutdown_at)
  WHERE shutdown_at IS NOT NULL;
