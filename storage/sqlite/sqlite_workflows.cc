// SqliteStore: workflow definitions, starting, claiming, cancelling and reading runs.
// The lease-holder calls (steps, run completion, pause) are in sqlite_steps.cc.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/sqlite/sqlite_store_impl.h"

namespace pgqrs::storage::sqlite {
namespace {

// A run's trigger message must never be dead-lettered: pauses, retries and lost workers
// all end leases, and a run is bounded by its steps' retry policy instead.
constexpr int32_t kTriggerQueueMaxReads = 1000000;
constexpr int64_t kJitterScale = 1000000;  // jitter_ppm

constexpr char kWorkflowColumns[] =
    "SELECT id, name, max_attempts, base_backoff_ms, max_backoff_ms, jitter_ppm, created_at "
    "FROM pgqrs_workflows ";

constexpr char kRunColumns[] =
    "SELECT r.id, w.name, r.status, r.input, r.output, r.error, r.idempotency_key, "
    "r.worker_id, r.created_at, r.updated_at, r.resume_at "
    "FROM pgqrs_workflow_runs r JOIN pgqrs_workflows w ON w.id = r.workflow_id ";

constexpr char kStepColumns[] =
    "SELECT id, run_id, step_name, status, output, error, attempts, retry_at, exhausted, "
    "started_at, completed_at, lease_token FROM pgqrs_workflow_steps ";

WorkflowInfo ReadWorkflow(const Statement& st) {
  WorkflowInfo w;
  w.id = st.Int(0);
  w.name = st.Text(1);
  w.retry_policy.max_attempts = static_cast<int32_t>(st.Int(2));
  w.retry_policy.base_backoff = absl::Milliseconds(st.Int(3));
  w.retry_policy.max_backoff = absl::Milliseconds(st.Int(4));
  w.retry_policy.jitter = static_cast<double>(st.Int(5)) / kJitterScale;
  w.created_at = FromMicros(st.Int(6));
  return w;
}

RunInfo ReadRun(const Statement& st) {
  RunInfo r;
  r.id = st.Int(0);
  r.workflow = st.Text(1);
  r.status = static_cast<RunStatus>(st.Int(2));
  r.input_json = st.Text(3);
  r.output_json = st.Text(4);  // NULL reads as ""
  r.error_json = st.Text(5);
  r.idempotency_key = st.Text(6);
  r.worker_id = st.OptionalInt(7).value_or(0);
  r.created_at = FromMicros(st.Int(8));
  r.updated_at = FromMicros(st.Int(9));
  if (!st.IsNull(10)) r.resume_at = FromMicros(st.Int(10));
  return r;
}

StepRow ReadStep(const Statement& st) {
  StepRow row;
  row.id = st.Int(0);
  StepInfo& s = row.info;
  s.id = row.id;
  s.run_id = st.Int(1);
  s.name = st.Text(2);
  s.status = static_cast<StepStatus>(st.Int(3));
  s.output_json = st.Text(4);
  s.error_json = st.Text(5);
  s.attempts = static_cast<int32_t>(st.Int(6));
  if (!st.IsNull(7)) s.retry_at = FromMicros(st.Int(7));
  s.exhausted = st.Int(8) != 0;
  s.started_at = FromMicros(st.Int(9));
  if (!st.IsNull(10)) s.completed_at = FromMicros(st.Int(10));
  row.owner = st.OptionalInt(11);
  return row;
}

struct WorkflowRow {
  int64_t id = 0;
  QueueRow queue;
};

absl::StatusOr<WorkflowRow> FindWorkflow(Connection& db, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st, db.Prepare("SELECT w.id, q.id, q.max_read_count, q.visibility_timeout_ms "
                                 "FROM pgqrs_workflows w JOIN pgqrs_queues q ON q.id = w.queue_id "
                                 "WHERE w.name = ?"));
  st->BindAll(name);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return absl::NotFoundError(absl::StrCat("workflow \"", name, "\" not found"));
  WorkflowRow row{st->Int(0),
                  {st->Int(1), static_cast<int32_t>(st->Int(2)), absl::Milliseconds(st->Int(3))}};
  st->Reset();
  return row;
}

absl::StatusOr<std::optional<WorkflowInfo>> SelectWorkflow(Connection& db,
                                                           const std::string& name) {
  static const std::string sql = absl::StrCat(kWorkflowColumns, "WHERE name = ?");
  PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
  st->BindAll(name);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  std::optional<WorkflowInfo> w;
  if (found) w = ReadWorkflow(*st);
  st->Reset();
  return w;
}

// The run that `message_id` triggers, if any.
absl::StatusOr<std::optional<RunRow>> RunOfMessage(Connection& db, int64_t message_id) {
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("SELECT id, workflow_id, status, message_id FROM pgqrs_workflow_runs "
                 "WHERE message_id = ?"));
  st->BindAll(message_id);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  std::optional<RunRow> run;
  if (found) {
    run = RunRow{st->Int(0), st->Int(1), static_cast<RunStatus>(st->Int(2)), st->OptionalInt(3)};
  }
  st->Reset();
  return run;
}

}  // namespace

absl::StatusOr<RunRow> FindRun(Connection& db, int64_t run_id) {
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("SELECT id, workflow_id, status, message_id FROM pgqrs_workflow_runs "
                 "WHERE id = ?"));
  st->BindAll(run_id);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return absl::NotFoundError(absl::StrCat("run ", run_id, " not found"));
  RunRow run{st->Int(0), st->Int(1), static_cast<RunStatus>(st->Int(2)), st->OptionalInt(3)};
  st->Reset();
  return run;
}

absl::StatusOr<RunInfo> LoadRun(Connection& db, int64_t run_id) {
  static const std::string sql = absl::StrCat(kRunColumns, "WHERE r.id = ?");
  PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
  st->BindAll(run_id);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return absl::NotFoundError(absl::StrCat("run ", run_id, " not found"));
  RunInfo run = ReadRun(*st);
  st->Reset();
  return run;
}

absl::StatusOr<bool> LeaseLive(Connection& db, const Lease& lease, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(Statement * st,
                         db.Prepare("SELECT 1 FROM pgqrs_messages WHERE id = ? AND state = 0 AND "
                                    "lease_token = ? AND vt > ?"));
  st->BindAll(lease.message_id, lease.token, now);
  PGQRS_ASSIGN_OR_RETURN(bool live, st->Step());
  st->Reset();
  return live;
}

absl::Status EndRun(Connection& db, const RunRow& run, RunStatus status,
                    const std::string& output_json, const std::string& error_json, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("UPDATE pgqrs_workflow_runs SET status = ?, output = ?, error = ?, "
                 "message_id = NULL, resume_at = NULL, completed_at = ?, updated_at = ? "
                 "WHERE id = ?"));
  st->BindAll(static_cast<int64_t>(status), output_json, error_json, now, now, run.id);
  if (output_json.empty()) st->BindNull(2);
  if (error_json.empty()) st->BindNull(3);
  PGQRS_RETURN_IF_ERROR(st->Run());
  if (!run.message_id) return absl::OkStatus();
  PGQRS_ASSIGN_OR_RETURN(Statement * del, db.Prepare("DELETE FROM pgqrs_messages WHERE id = ?"));
  del->BindAll(*run.message_id);
  return del->Run();
}

absl::StatusOr<RetryPolicy> LoadRetryPolicy(Connection& db, int64_t workflow_id) {
  static const std::string sql = absl::StrCat(kWorkflowColumns, "WHERE id = ?");
  PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
  st->BindAll(workflow_id);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return absl::NotFoundError(absl::StrCat("workflow ", workflow_id, " not found"));
  RetryPolicy policy = ReadWorkflow(*st).retry_policy;
  st->Reset();
  return policy;
}

absl::StatusOr<std::optional<StepRow>> LoadStep(Connection& db, int64_t run_id,
                                                const std::string& name) {
  static const std::string sql = absl::StrCat(kStepColumns, "WHERE run_id = ? AND step_name = ?");
  PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
  st->BindAll(run_id, name);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  std::optional<StepRow> step;
  if (found) step = ReadStep(*st);
  st->Reset();
  return step;
}

absl::StatusOr<WorkflowInfo> SqliteStore::CreateWorkflow(const WorkflowOptions& options) {
  PGQRS_RETURN_IF_ERROR(CheckText("name", options.name));
  WorkflowInfo info;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(std::optional<WorkflowInfo> existing, SelectWorkflow(db, options.name));
    if (existing) {
      if (!options.if_not_exists) {
        return absl::AlreadyExistsError(
            absl::StrCat("workflow \"", options.name, "\" already exists"));
      }
      info = *existing;
      return absl::OkStatus();
    }
    absl::StatusOr<QueueRow> queue = FindQueue(db, options.name);
    if (queue.ok()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "queue \"", options.name, "\" already exists; a workflow needs a queue of its own"));
    }
    if (!absl::IsNotFound(queue.status())) return queue.status();
    int64_t now = NowMicros();
    PGQRS_ASSIGN_OR_RETURN(int64_t queue_id, TakeIds(db, kQueueSequence, 1));
    PGQRS_ASSIGN_OR_RETURN(Statement * q,
                           db.Prepare("INSERT INTO pgqrs_queues (id, queue_name, max_read_count, "
                                      "visibility_timeout_ms, created_at) VALUES (?,?,?,?,?)"));
    q->BindAll(queue_id, options.name, int64_t{kTriggerQueueMaxReads}, int64_t{30000}, now);
    PGQRS_RETURN_IF_ERROR(q->Run());
    PGQRS_ASSIGN_OR_RETURN(int64_t id, TakeIds(db, kWorkflowSequence, 1));
    const RetryPolicy& p = options.retry_policy;
    PGQRS_ASSIGN_OR_RETURN(
        Statement * w, db.Prepare("INSERT INTO pgqrs_workflows (id, name, queue_id, max_attempts, "
                                  "base_backoff_ms, max_backoff_ms, jitter_ppm, created_at) "
                                  "VALUES (?,?,?,?,?,?,?,?)"));
    w->BindAll(id, options.name, queue_id, int64_t{p.max_attempts},
               absl::ToInt64Milliseconds(p.base_backoff), absl::ToInt64Milliseconds(p.max_backoff),
               static_cast<int64_t>(p.jitter * kJitterScale + 0.5), now);
    PGQRS_RETURN_IF_ERROR(w->Run());
    PGQRS_ASSIGN_OR_RETURN(existing, SelectWorkflow(db, options.name));
    info = *existing;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return info;
}

absl::StatusOr<WorkflowInfo> SqliteStore::GetWorkflow(const std::string& name) {
  std::optional<WorkflowInfo> info;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(info, SelectWorkflow(db, name));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!info) return absl::NotFoundError(absl::StrCat("workflow \"", name, "\" not found"));
  return *info;
}

absl::StatusOr<std::vector<WorkflowInfo>> SqliteStore::ListWorkflows(const std::string& after_name,
                                                                     int32_t limit) {
  std::vector<WorkflowInfo> workflows;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    static const std::string sql =
        absl::StrCat(kWorkflowColumns, "WHERE name > ? ORDER BY name LIMIT ?");
    PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
    st->BindAll(after_name, int64_t{limit});
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) return absl::OkStatus();
      workflows.push_back(ReadWorkflow(*st));
    }
  });
  if (!status.ok()) return status;
  return workflows;
}

absl::StatusOr<StartRunResult> SqliteStore::StartRun(const NewRun& run) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("input_json", run.input_json));
  if (run.idempotency_key.size() > kMaxIdempotencyKeyBytes) {
    return absl::InvalidArgumentError("idempotency_key: longer than 255 bytes");
  }
  PGQRS_RETURN_IF_ERROR(CheckText("idempotency_key", run.idempotency_key));
  StartRunResult result;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(WorkflowRow w, FindWorkflow(db, run.workflow));
    if (!run.idempotency_key.empty()) {
      PGQRS_ASSIGN_OR_RETURN(
          Statement * st, db.Prepare("SELECT id FROM pgqrs_workflow_runs WHERE workflow_id = ? AND "
                                     "idempotency_key = ?"));
      st->BindAll(w.id, run.idempotency_key);
      PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
      int64_t existing = found ? st->Int(0) : 0;
      st->Reset();
      if (found) {
        PGQRS_ASSIGN_OR_RETURN(result.run, LoadRun(db, existing));
        result.created = false;
        return SameRunInput(result.run, run);
      }
    }
    int64_t now = NowMicros();
    PGQRS_ASSIGN_OR_RETURN(int64_t run_id, TakeIds(db, kRunSequence, 1));
    PGQRS_ASSIGN_OR_RETURN(int64_t message_id, TakeIds(db, kMessageSequence, 1));
    NewMessage trigger;
    trigger.payload_json = nlohmann::json{{"run_id", run_id}}.dump();
    PGQRS_RETURN_IF_ERROR(InsertMessage(db, message_id, w.queue.id, trigger, 0, now));
    PGQRS_ASSIGN_OR_RETURN(
        Statement * st,
        db.Prepare("INSERT INTO pgqrs_workflow_runs (id, workflow_id, status, input, "
                   "idempotency_key, message_id, created_at, updated_at) "
                   "VALUES (?, ?, 1, ?, ?, ?, ?, ?)"));
    st->BindAll(run_id, w.id, run.input_json, run.idempotency_key, message_id, now, now);
    if (run.idempotency_key.empty()) st->BindNull(4);
    PGQRS_RETURN_IF_ERROR(st->Run());
    PGQRS_ASSIGN_OR_RETURN(result.run, LoadRun(db, run_id));
    result.created = true;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<ClaimResult> SqliteStore::ClaimRun(const std::string& workflow,
                                                  const ClaimOptions& options) {
  ClaimResult result;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    result = ClaimResult();
    PGQRS_ASSIGN_OR_RETURN(WorkflowRow w, FindWorkflow(db, workflow));
    int64_t now = NowMicros();
    if (options.worker_id)
      PGQRS_RETURN_IF_ERROR(ClaimConsumer(db, options.worker_id, w.queue.id, now));
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(std::vector<Candidate> visible,
                             VisibleCandidates(db, w.queue.id, now, 1));
      if (visible.empty()) return absl::OkStatus();
      int64_t message_id = visible[0].id;
      PGQRS_ASSIGN_OR_RETURN(std::optional<RunRow> run, RunOfMessage(db, message_id));
      if (!run || IsTerminal(run->status)) {
        // Not a live run's trigger (a stray message on the workflow queue): drop it.
        PGQRS_ASSIGN_OR_RETURN(Statement * del,
                               db.Prepare("DELETE FROM pgqrs_messages WHERE id = ?"));
        del->BindAll(message_id);
        PGQRS_RETURN_IF_ERROR(del->Run());
        continue;
      }
      if (run->status == RunStatus::kCancelling) {
        PGQRS_RETURN_IF_ERROR(EndRun(db, *run, RunStatus::kCancelled, "", "", now));
        result.cancelled.push_back(run->id);
        continue;
      }
      DequeueOptions lease_options;
      lease_options.visibility_timeout = options.visibility_timeout;
      lease_options.consumer_worker_id = options.worker_id;
      PGQRS_ASSIGN_OR_RETURN(Message m,
                             LeaseOne(db, message_id, workflow, w.queue, lease_options, now));
      PGQRS_ASSIGN_OR_RETURN(
          Statement * st,
          db.Prepare("UPDATE pgqrs_workflow_runs SET status = 2, worker_id = ?, "
                     "resume_at = NULL, started_at = COALESCE(started_at, ?), updated_at = ? "
                     "WHERE id = ?"));
      st->BindAll(options.worker_id ? std::optional<int64_t>(options.worker_id) : std::nullopt, now,
                  now, run->id);
      PGQRS_RETURN_IF_ERROR(st->Run());
      PGQRS_ASSIGN_OR_RETURN(result.run, LoadRun(db, run->id));
      result.lease = *m.lease;
      return absl::OkStatus();
    }
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<RunInfo> SqliteStore::CancelRun(int64_t run_id) {
  return embedded::CancelRun(RunWriter(), run_id);
}

absl::StatusOr<RunInfo> SqliteStore::GetRun(int64_t run_id) {
  absl::StatusOr<RunInfo> result;
  absl::Status status = Read([&](Connection& db) {
    result = LoadRun(db, run_id);
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<RunInfo>> SqliteStore::ListRuns(const RunFilter& filter) {
  std::vector<RunInfo> runs;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    if (!filter.workflow.empty()) PGQRS_RETURN_IF_ERROR(FindWorkflow(db, filter.workflow).status());
    static const std::string sql =
        absl::StrCat(kRunColumns,
                     "WHERE (?1 = '' OR w.name = ?1) AND (?2 < 0 OR r.status = ?2) AND r.id > ?3 "
                     "ORDER BY r.id LIMIT ?4");
    PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
    st->BindAll(filter.workflow, filter.status ? static_cast<int64_t>(*filter.status) : int64_t{-1},
                filter.after_id, int64_t{filter.limit});
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) return absl::OkStatus();
      runs.push_back(ReadRun(*st));
    }
  });
  if (!status.ok()) return status;
  return runs;
}

absl::StatusOr<std::vector<StepInfo>> SqliteStore::ListSteps(const StepFilter& filter) {
  std::vector<StepInfo> steps;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    PGQRS_RETURN_IF_ERROR(FindRun(db, filter.run_id).status());
    static const std::string sql =
        absl::StrCat(kStepColumns, "WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?");
    PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
    st->BindAll(filter.run_id, filter.after_id, int64_t{filter.limit});
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) return absl::OkStatus();
      steps.push_back(ReadStep(*st).info);
    }
  });
  if (!status.ok()) return status;
  return steps;
}

}  // namespace pgqrs::storage::sqlite
