// PostgresStore: workflow definitions, starting, claiming, cancelling and reading runs.
// The lease-holder calls (steps, run completion, pause) are in steps.cc.
//
// Lock order, everywhere: a run's trigger message, then the run row. ClaimRun gets the
// message from the dequeue statement (FOR UPDATE SKIP LOCKED), so two daemons never claim
// one run, and a lease holder mid-write keeps its message locked, so it is never claimed
// from under it.
#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/postgres/store_impl.h"

namespace pgqrs::storage::pg {
namespace {

// A run's trigger message must never be dead-lettered: pauses, retries and lost workers
// all end leases, and a run is bounded by its steps' retry policy instead.
constexpr int64_t kTriggerQueueMaxReads = 1000000;
constexpr int64_t kTriggerQueueTimeoutMs = 30000;

#define PGQRS_WORKFLOW_COLUMNS \
  "id, name, max_attempts, base_backoff_ms, max_backoff_ms, jitter, " PGQRS_US("created_at")
#define PGQRS_RUN_COLUMNS \
  "r.id, w.name, r.status, r.input::text, r.output::text, r.error::text, "                 \
  "r.idempotency_key, r.worker_id, " PGQRS_US("r.created_at") ", " PGQRS_US("r.updated_at") \
  ", " PGQRS_US("r.resume_at")                                                             \
  " FROM pgqrs_workflow_runs r JOIN pgqrs_workflows w ON w.id = r.workflow_id "

constexpr Statement kGetWorkflow{
    "get_workflow", "SELECT " PGQRS_WORKFLOW_COLUMNS " FROM pgqrs_workflows WHERE name = $1"};
constexpr Statement kListWorkflows{"list_workflows",
                                   "SELECT " PGQRS_WORKFLOW_COLUMNS
                                   " FROM pgqrs_workflows WHERE name > $1 ORDER BY name LIMIT $2"};
constexpr Statement kFindWorkflow{
    "find_workflow",
    "SELECT w.id, q.id, q.max_read_count, q.visibility_timeout_ms "
    "FROM pgqrs_workflows w JOIN pgqrs_queues q ON q.id = w.queue_id WHERE w.name = $1"};
constexpr Statement kInsertTriggerQueue{
    "insert_trigger_queue",
    "INSERT INTO pgqrs_queues (queue_name, max_read_count, visibility_timeout_ms) "
    "VALUES ($1, $2, $3) ON CONFLICT (queue_name) DO NOTHING RETURNING id"};
constexpr Statement kInsertWorkflow{
    "insert_workflow",
    "INSERT INTO pgqrs_workflows (name, queue_id, max_attempts, base_backoff_ms, "
    "max_backoff_ms, jitter) VALUES ($1, $2, $3, $4, $5, $6::float8) "
    "RETURNING " PGQRS_WORKFLOW_COLUMNS};
// The run and its trigger message in one statement. Both ids are reserved first, so the
// message can name the run and the run its message. A taken idempotency key stores
// nothing and returns no row (the reserved ids are skipped, never reused).
constexpr Statement kInsertRun{
    "insert_run",
    "WITH ids AS (SELECT nextval(pg_get_serial_sequence('pgqrs_workflow_runs', 'id')) AS run_id, "
    "  nextval(pg_get_serial_sequence('pgqrs_messages', 'id')) AS message_id), "
    "r AS (INSERT INTO pgqrs_workflow_runs (id, workflow_id, status, input, idempotency_key, "
    "  message_id, created_at, updated_at) OVERRIDING SYSTEM VALUE "
    "  SELECT run_id, $1::int8, 1, $2::jsonb, NULLIF($3::text, ''), message_id, now(), now() "
    "  FROM ids "
    "  ON CONFLICT (workflow_id, idempotency_key) WHERE idempotency_key IS NOT NULL "
    "  DO NOTHING RETURNING id, message_id), "
    "m AS (INSERT INTO pgqrs_messages (id, queue_id, payload, priority, state, vt, "
    "  enqueued_at, read_ct) OVERRIDING SYSTEM VALUE "
    "  SELECT message_id, $4::int8, jsonb_build_object('run_id', id), 0, 0, now(), now(), 0 "
    "  FROM r) "
    "SELECT id FROM r"};
constexpr Statement kRunByKey{
    "run_by_key",
    "SELECT id FROM pgqrs_workflow_runs WHERE workflow_id = $1 AND idempotency_key = $2"};
constexpr Statement kLockRunOfMessage{
    "lock_run_of_message",
    "SELECT r.id, r.workflow_id, w.name, r.status, r.message_id FROM pgqrs_workflow_runs r "
    "JOIN pgqrs_workflows w ON w.id = r.workflow_id WHERE r.message_id = $1 FOR UPDATE OF r"};
constexpr Statement kLockRun{
    "lock_run",
    "SELECT r.id, r.workflow_id, w.name, r.status, r.message_id FROM pgqrs_workflow_runs r "
    "JOIN pgqrs_workflows w ON w.id = r.workflow_id WHERE r.id = $1 FOR UPDATE OF r"};
constexpr Statement kRunMessage{"run_message",
                                "SELECT message_id FROM pgqrs_workflow_runs WHERE id = $1"};
constexpr Statement kLockMessage{
    "lock_message",
    "SELECT state = 0 AND lease_token IS NOT NULL AND vt > now() FROM pgqrs_messages "
    "WHERE id = $1 FOR UPDATE"};
constexpr Statement kDeleteMessage{"delete_message", "DELETE FROM pgqrs_messages WHERE id = $1"};
constexpr Statement kClaimedRun{
    "claimed_run",
    "UPDATE pgqrs_workflow_runs SET status = 2, worker_id = NULLIF($2::int8, 0), "
    "resume_at = NULL, started_at = coalesce(started_at, now()), updated_at = now() "
    "WHERE id = $1"};
constexpr Statement kCancellingRun{
    "cancelling_run",
    "UPDATE pgqrs_workflow_runs SET status = 6, updated_at = now() WHERE id = $1"};
constexpr Statement kEndRun{
    "end_run",
    "WITH r AS (UPDATE pgqrs_workflow_runs SET status = $2, output = $3::jsonb, "
    "  error = $4::jsonb, message_id = NULL, resume_at = NULL, completed_at = now(), "
    "  updated_at = now() WHERE id = $1 RETURNING id) "
    "DELETE FROM pgqrs_messages WHERE id = $5"};
constexpr Statement kGetRun{"get_run", "SELECT " PGQRS_RUN_COLUMNS "WHERE r.id = $1"};
constexpr Statement kListRuns{"list_runs", "SELECT " PGQRS_RUN_COLUMNS
                                           "WHERE ($1::int8 = 0 OR r.workflow_id = $1) "
                                           "AND ($2::int4 < 0 OR r.status = $2) AND r.id > $3 "
                                           "ORDER BY r.id LIMIT $4"};
constexpr Statement kRunExists{"run_exists", "SELECT 1 FROM pgqrs_workflow_runs WHERE id = $1"};
constexpr Statement kGetStep{"get_step", "SELECT " PGQRS_STEP_COLUMNS
                                         " FROM pgqrs_workflow_steps "
                                         "WHERE run_id = $1 AND step_name = $2"};
constexpr Statement kListSteps{"list_steps", "SELECT " PGQRS_STEP_COLUMNS
                                             " FROM pgqrs_workflow_steps "
                                             "WHERE run_id = $1 AND id > $2 "
                                             "ORDER BY id LIMIT $3"};

struct WorkflowRow {
  int64_t id = 0;
  QueueRow queue;
};

WorkflowInfo ReadWorkflow(const Rows& rows, int row) {
  WorkflowInfo w;
  w.id = rows.Int(row, 0);
  w.name = rows.Text(row, 1);
  w.retry_policy.max_attempts = static_cast<int32_t>(rows.Int(row, 2));
  w.retry_policy.base_backoff = absl::Milliseconds(rows.Int(row, 3));
  w.retry_policy.max_backoff = absl::Milliseconds(rows.Int(row, 4));
  w.retry_policy.jitter = std::strtod(rows.Text(row, 5).c_str(), nullptr);
  w.created_at = rows.Time(row, 6);
  return w;
}

RunInfo ReadRun(const Rows& rows, int row) {
  RunInfo r;
  r.id = rows.Int(row, 0);
  r.workflow = rows.Text(row, 1);
  r.status = static_cast<RunStatus>(rows.Int(row, 2));
  r.input_json = rows.Text(row, 3);
  r.output_json = rows.Text(row, 4);  // NULL reads as ""
  r.error_json = rows.Text(row, 5);
  r.idempotency_key = rows.Text(row, 6);
  r.worker_id = rows.Int(row, 7);  // NULL reads as 0
  r.created_at = rows.Time(row, 8);
  r.updated_at = rows.Time(row, 9);
  r.resume_at = rows.OptionalTime(row, 10);
  return r;
}

std::optional<RunRow> ReadRunRow(const Rows& rows) {
  if (rows.size() == 0) return std::nullopt;
  RunRow run{rows.Int(0, 0), rows.Int(0, 1), rows.Text(0, 2),
             static_cast<RunStatus>(rows.Int(0, 3)), std::nullopt};
  if (!rows.IsNull(0, 4)) run.message_id = rows.Int(0, 4);
  return run;
}

absl::Status RunNotFound(int64_t run_id) {
  return absl::NotFoundError(absl::StrCat("run ", run_id, " not found"));
}

absl::StatusOr<WorkflowRow> FindWorkflow(Tx& tx, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kFindWorkflow, Params().Add(name)));
  if (rows.size() == 0) {
    return absl::NotFoundError(absl::StrCat("workflow \"", name, "\" not found"));
  }
  return WorkflowRow{
      rows.Int(0, 0),
      {rows.Int(0, 1), static_cast<int32_t>(rows.Int(0, 2)), absl::Milliseconds(rows.Int(0, 3))}};
}

absl::StatusOr<std::optional<WorkflowInfo>> SelectWorkflow(Tx& tx, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kGetWorkflow, Params().Add(name)));
  if (rows.size() == 0) return std::nullopt;
  return ReadWorkflow(rows, 0);
}

absl::Status CheckRetryPolicy(const RetryPolicy& p) {
  if (p.max_attempts <= 0 || p.base_backoff < absl::ZeroDuration() ||
      p.max_backoff < absl::ZeroDuration() || !(p.jitter >= 0 && p.jitter <= 1)) {
    return absl::InvalidArgumentError(
        "retry_policy: max_attempts must be positive, backoffs non-negative, jitter 0 to 1");
  }
  return absl::OkStatus();
}

// Inserts the workflow and its trigger queue; nullopt when the queue name is taken.
absl::StatusOr<std::optional<WorkflowInfo>> InsertWorkflow(Tx& tx, const WorkflowOptions& options) {
  Params queue;
  queue.Add(options.name).Add(kTriggerQueueMaxReads).Add(kTriggerQueueTimeoutMs);
  PGQRS_ASSIGN_OR_RETURN(Rows q, tx.Query(kInsertTriggerQueue, queue));
  if (q.size() == 0) return std::nullopt;
  const RetryPolicy& p = options.retry_policy;
  Params params;
  params.Add(options.name).Add(q.Int(0, 0)).Add(int64_t{p.max_attempts});
  params.Add(absl::ToInt64Milliseconds(p.base_backoff));
  params.Add(absl::ToInt64Milliseconds(p.max_backoff));
  params.Add(absl::StrCat(p.jitter));
  PGQRS_ASSIGN_OR_RETURN(Rows w, tx.Query(kInsertWorkflow, params));
  return ReadWorkflow(w, 0);
}

}  // namespace

absl::StatusOr<RunRow> LockRun(Tx& tx, int64_t run_id) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kLockRun, Params().Add(run_id)));
  std::optional<RunRow> run = ReadRunRow(rows);
  if (!run) return RunNotFound(run_id);
  return *run;
}

absl::StatusOr<RunInfo> LoadRun(Tx& tx, int64_t run_id) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kGetRun, Params().Add(run_id)));
  if (rows.size() == 0) return RunNotFound(run_id);
  return ReadRun(rows, 0);
}

absl::Status EndRun(Tx& tx, const RunRow& run, RunStatus status, const std::string& output_json,
                    const std::string& error_json) {
  Params params;
  params.Add(run.id).Add(static_cast<int64_t>(status));
  output_json.empty() ? params.AddNull() : params.Add(output_json);
  error_json.empty() ? params.AddNull() : params.Add(error_json);
  run.message_id ? params.Add(*run.message_id) : params.AddNull();
  return tx.Query(kEndRun, params).status();
}

StepRow ReadStepRow(const Rows& rows, int row) {
  StepRow step;
  step.id = rows.Int(row, 0);
  StepInfo& s = step.info;
  s.id = step.id;
  s.run_id = rows.Int(row, 1);
  s.name = rows.Text(row, 2);
  s.status = static_cast<StepStatus>(rows.Int(row, 3));
  s.output_json = rows.Text(row, 4);
  s.error_json = rows.Text(row, 5);
  s.attempts = static_cast<int32_t>(rows.Int(row, 6));
  s.retry_at = rows.OptionalTime(row, 7);
  s.exhausted = rows.Bool(row, 8);
  s.started_at = rows.Time(row, 9);
  s.completed_at = rows.OptionalTime(row, 10);
  if (!rows.IsNull(row, 11)) step.owner = rows.Int(row, 11);
  step.due = rows.Bool(row, 12);
  return step;
}

absl::StatusOr<std::optional<StepRow>> LoadStep(Tx& tx, int64_t run_id, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kGetStep, Params().Add(run_id).Add(name)));
  if (rows.size() == 0) return std::nullopt;
  return ReadStepRow(rows, 0);
}

absl::StatusOr<WorkflowInfo> PostgresStore::CreateWorkflow(const WorkflowOptions& options) {
  if (options.name.empty()) return absl::InvalidArgumentError("workflow needs a name");
  PGQRS_RETURN_IF_ERROR(CheckText("name", options.name));
  PGQRS_RETURN_IF_ERROR(CheckRetryPolicy(options.retry_policy));
  WorkflowInfo info;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(std::optional<WorkflowInfo> existing, SelectWorkflow(tx, options.name));
    if (!existing) {
      PGQRS_ASSIGN_OR_RETURN(std::optional<WorkflowInfo> created, InsertWorkflow(tx, options));
      if (created) {
        info = *created;
        return absl::OkStatus();
      }
      // The name is a queue's: a plain one, or a workflow's committed since we looked.
      PGQRS_ASSIGN_OR_RETURN(existing, SelectWorkflow(tx, options.name));
      if (!existing) {
        return absl::AlreadyExistsError(absl::StrCat(
            "queue \"", options.name, "\" already exists; a workflow needs a queue of its own"));
      }
    }
    if (!options.if_not_exists) {
      return absl::AlreadyExistsError(
          absl::StrCat("workflow \"", options.name, "\" already exists"));
    }
    info = *existing;
    return absl::OkStatus();
  }));
  return info;
}

absl::StatusOr<WorkflowInfo> PostgresStore::GetWorkflow(const std::string& name) {
  std::optional<WorkflowInfo> info;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(info, SelectWorkflow(tx, name));
    return absl::OkStatus();
  }));
  if (!info) return absl::NotFoundError(absl::StrCat("workflow \"", name, "\" not found"));
  return *info;
}

absl::StatusOr<std::vector<WorkflowInfo>> PostgresStore::ListWorkflows(
    const std::string& after_name, int32_t limit) {
  if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  int64_t bounded = std::min<int64_t>(limit, kMaxBatch);
  std::vector<WorkflowInfo> workflows;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    workflows.clear();
    PGQRS_ASSIGN_OR_RETURN(Rows rows,
                           tx.Query(kListWorkflows, Params().Add(after_name).Add(bounded)));
    for (int i = 0; i < rows.size(); ++i) workflows.push_back(ReadWorkflow(rows, i));
    return absl::OkStatus();
  }));
  return workflows;
}

absl::StatusOr<StartRunResult> PostgresStore::StartRun(const NewRun& run) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("input_json", run.input_json));
  if (run.idempotency_key.size() > kMaxIdempotencyKeyBytes) {
    return absl::InvalidArgumentError("idempotency_key: longer than 255 bytes");
  }
  PGQRS_RETURN_IF_ERROR(CheckText("idempotency_key", run.idempotency_key));
  StartRunResult result;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(WorkflowRow w, FindWorkflow(tx, run.workflow));
    Params params;
    params.Add(w.id).Add(run.input_json).Add(run.idempotency_key).Add(w.queue.id);
    PGQRS_ASSIGN_OR_RETURN(Rows inserted, tx.Query(kInsertRun, params));
    result.created = inserted.size() == 1;
    int64_t run_id = 0;
    if (result.created) {
      run_id = inserted.Int(0, 0);
      PGQRS_RETURN_IF_ERROR(Notify(tx, run.workflow));
    } else {
      PGQRS_ASSIGN_OR_RETURN(Rows existing,
                             tx.Query(kRunByKey, Params().Add(w.id).Add(run.idempotency_key)));
      if (existing.size() == 0) return absl::AbortedError("idempotency key released concurrently");
      run_id = existing.Int(0, 0);
    }
    PGQRS_ASSIGN_OR_RETURN(result.run, LoadRun(tx, run_id));
    return result.created ? absl::OkStatus() : SameRunInput(result.run, run);
  }));
  return result;
}

absl::StatusOr<ClaimResult> PostgresStore::ClaimRun(const std::string& workflow,
                                                    const ClaimOptions& options) {
  if (options.visibility_timeout && *options.visibility_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("visibility timeout must not be negative");
  }
  ClaimResult result;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    result = ClaimResult();
    PGQRS_ASSIGN_OR_RETURN(WorkflowRow w, FindWorkflow(tx, workflow));
    if (options.worker_id != 0) {
      PGQRS_RETURN_IF_ERROR(ClaimConsumer(tx, options.worker_id, w.queue.id));
    }
    absl::Duration timeout = options.visibility_timeout.value_or(w.queue.visibility_timeout);
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(std::vector<Message> leased,
                             LeaseVisible(tx, workflow, w.queue, 1, timeout, options.worker_id));
      if (leased.empty()) return absl::OkStatus();
      const Message& m = leased[0];
      PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kLockRunOfMessage, Params().Add(m.id)));
      std::optional<RunRow> run = ReadRunRow(rows);
      if (!run || IsTerminal(run->status)) {
        // Not a live run's trigger (a stray message on the workflow queue): drop it.
        PGQRS_RETURN_IF_ERROR(tx.Query(kDeleteMessage, Params().Add(m.id)).status());
        continue;
      }
      if (run->status == RunStatus::kCancelling) {
        PGQRS_RETURN_IF_ERROR(EndRun(tx, *run, RunStatus::kCancelled, "", ""));
        result.cancelled.push_back(run->id);
        continue;
      }
      PGQRS_RETURN_IF_ERROR(
          tx.Query(kClaimedRun, Params().Add(run->id).Add(options.worker_id)).status());
      PGQRS_ASSIGN_OR_RETURN(result.run, LoadRun(tx, run->id));
      result.lease = *m.lease;
      return absl::OkStatus();
    }
  }));
  return result;
}

absl::StatusOr<RunInfo> PostgresStore::CancelRun(int64_t run_id) {
  RunInfo result;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    // The trigger first (the lock order), then the run, re-read under its lock.
    PGQRS_ASSIGN_OR_RETURN(Rows hint, tx.Query(kRunMessage, Params().Add(run_id)));
    if (hint.size() == 0) return RunNotFound(run_id);
    bool leased = false;
    if (!hint.IsNull(0, 0)) {
      PGQRS_ASSIGN_OR_RETURN(Rows m, tx.Query(kLockMessage, Params().Add(hint.Int(0, 0))));
      leased = m.size() == 1 && m.Bool(0, 0);
    }
    PGQRS_ASSIGN_OR_RETURN(RunRow run, LockRun(tx, run_id));
    if (run.status == RunStatus::kSucceeded || run.status == RunStatus::kFailed) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run ", run_id, " already ", run.status == RunStatus::kSucceeded ? "succeeded" : "failed",
          " and cannot be cancelled"));
    }
    if (run.status != RunStatus::kCancelled) {
      // A run is only really running while a worker holds a live lease on its trigger.
      if (leased) {
        PGQRS_RETURN_IF_ERROR(tx.Query(kCancellingRun, Params().Add(run_id)).status());
      } else {
        PGQRS_RETURN_IF_ERROR(EndRun(tx, run, RunStatus::kCancelled, "", ""));
      }
    }
    PGQRS_ASSIGN_OR_RETURN(result, LoadRun(tx, run_id));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<RunInfo> PostgresStore::GetRun(int64_t run_id) {
  RunInfo result;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(result, LoadRun(tx, run_id));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<std::vector<RunInfo>> PostgresStore::ListRuns(const RunFilter& filter) {
  if (filter.limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  int64_t bounded = std::min<int64_t>(filter.limit, kMaxBatch);
  std::vector<RunInfo> runs;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    runs.clear();
    int64_t workflow_id = 0;
    if (!filter.workflow.empty()) {
      PGQRS_ASSIGN_OR_RETURN(WorkflowRow w, FindWorkflow(tx, filter.workflow));
      workflow_id = w.id;
    }
    Params params;
    params.Add(workflow_id);
    params.Add(filter.status ? static_cast<int64_t>(*filter.status) : int64_t{-1});
    params.Add(filter.after_id).Add(bounded);
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kListRuns, params));
    for (int i = 0; i < rows.size(); ++i) runs.push_back(ReadRun(rows, i));
    return absl::OkStatus();
  }));
  return runs;
}

absl::StatusOr<std::vector<StepInfo>> PostgresStore::ListSteps(const StepFilter& filter) {
  std::vector<StepInfo> steps;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    steps.clear();
    PGQRS_ASSIGN_OR_RETURN(Rows run, tx.Query(kRunExists, Params().Add(filter.run_id)));
    if (run.size() == 0) return RunNotFound(filter.run_id);
    Params params;
    params.Add(filter.run_id).Add(filter.after_id).Add(int64_t{filter.limit});
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kListSteps, params));
    for (int i = 0; i < rows.size(); ++i) steps.push_back(ReadStepRow(rows, i).info);
    return absl::OkStatus();
  }));
  return steps;
}

}  // namespace pgqrs::storage::pg
