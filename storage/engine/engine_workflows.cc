// EngineStore: workflow definitions, starting, claiming, cancelling and reading runs.
// The lease-holder calls (steps, run completion, pause) are in engine_steps.cc.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"

namespace pgqrs::storage::enginestore {
namespace {

// A run's trigger message must never be dead-lettered: pauses, retries and lost workers
// all end leases, and a run is bounded by its steps' retry policy instead.
constexpr int32_t kTriggerQueueMaxReads = 1000000;
constexpr int64_t kJitterScale = 1000000;  // jitter_ppm

WorkflowInfo ToWorkflowInfo(const Row& row) {
  WorkflowInfo w;
  w.id = Int(row, workflow::kId);
  w.name = Text(row, workflow::kName);
  w.retry_policy.max_attempts = static_cast<int32_t>(Int(row, workflow::kMaxAttempts));
  w.retry_policy.base_backoff = absl::Milliseconds(Int(row, workflow::kBaseBackoffMs));
  w.retry_policy.max_backoff = absl::Milliseconds(Int(row, workflow::kMaxBackoffMs));
  w.retry_policy.jitter = static_cast<double>(Int(row, workflow::kJitterPpm)) / kJitterScale;
  w.created_at = FromMicros(Int(row, workflow::kCreatedAt));
  return w;
}

absl::StatusOr<std::optional<Row>> WorkflowByName(Transaction& txn, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(auto ids, RowidsWithPrefix(txn, kWorkflowsByName, {Value::Text(name)}));
  if (ids.empty()) return std::optional<Row>();
  PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kWorkflows, ids[0], "workflow"));
  return std::optional<Row>(std::move(row));
}

struct WorkflowRow {
  int64_t id = 0;
  QueueRow queue;
};

absl::StatusOr<WorkflowRow> FindWorkflow(Transaction& txn, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<Row> row, WorkflowByName(txn, name));
  if (!row) return absl::NotFoundError(absl::StrCat("workflow \"", name, "\" not found"));
  PGQRS_ASSIGN_OR_RETURN(QueueRow q, QueueById(txn, Int(*row, workflow::kQueueId)));
  return WorkflowRow{Int(*row, workflow::kId), q};
}

absl::StatusOr<RunInfo> ToRunInfo(Transaction& txn, const Row& row) {
  RunInfo r;
  r.id = Int(row, run::kId);
  PGQRS_ASSIGN_OR_RETURN(Row w, GetRow(txn, kWorkflows, Int(row, run::kWorkflowId), "workflow"));
  r.workflow = Text(w, workflow::kName);
  r.status = static_cast<RunStatus>(Int(row, run::kStatus));
  r.input_json = Text(row, run::kInput);
  r.output_json = Text(row, run::kOutput);
  r.error_json = Text(row, run::kError);
  r.idempotency_key = Text(row, run::kIdempotencyKey);
  r.worker_id = Int(row, run::kWorkerId);
  r.created_at = FromMicros(Int(row, run::kCreatedAt));
  r.updated_at = FromMicros(Int(row, run::kUpdatedAt));
  if (std::optional<int64_t> at = OptInt(row, run::kResumeAt)) r.resume_at = FromMicros(*at);
  return r;
}

// The run that `message_id` triggers, if any.
absl::StatusOr<std::optional<RunRow>> RunOfMessage(Transaction& txn, int64_t message_id) {
  PGQRS_ASSIGN_OR_RETURN(auto ids,
                         RowidsWithPrefix(txn, kRunsByMessage, {Value::Integer(message_id)}));
  if (ids.empty()) return std::optional<RunRow>();
  PGQRS_ASSIGN_OR_RETURN(RunRow run, FindRun(txn, ids[0]));
  return std::optional<RunRow>(run);
}

Row NewQueueRow(int64_t id, const std::string& name, int64_t now) {
  return {Value::Integer(id), Value::Text(name), Value::Integer(kTriggerQueueMaxReads),
          Value::Integer(30000), Value::Integer(now)};
}

Row NewWorkflowRow(int64_t id, int64_t queue_id, const WorkflowOptions& options, int64_t now) {
  const RetryPolicy& p = options.retry_policy;
  return {Value::Integer(id),
          Value::Text(options.name),
          Value::Integer(queue_id),
          Value::Integer(p.max_attempts),
          Value::Integer(absl::ToInt64Milliseconds(p.base_backoff)),
          Value::Integer(absl::ToInt64Milliseconds(p.max_backoff)),
          Value::Integer(static_cast<int64_t>(p.jitter * kJitterScale + 0.5)),
          Value::Integer(now)};
}

Row NewRunRow(int64_t id, int64_t workflow_id, const NewRun& run, int64_t message_id, int64_t now) {
  Row row(run::kCount);
  row[run::kId] = Value::Integer(id);
  row[run::kWorkflowId] = Value::Integer(workflow_id);
  row[run::kStatus] = Value::Integer(static_cast<int64_t>(RunStatus::kQueued));
  row[run::kInput] = Value::Text(run.input_json);
  row[run::kIdempotencyKey] = TextOrNull(run.idempotency_key);
  row[run::kMessageId] = Value::Integer(message_id);
  row[run::kCreatedAt] = Value::Integer(now);
  row[run::kUpdatedAt] = Value::Integer(now);
  return row;
}

}  // namespace

RunRow ToRunRow(const Row& row) {
  return {Int(row, run::kId), Int(row, run::kWorkflowId),
          static_cast<RunStatus>(Int(row, run::kStatus)), OptInt(row, run::kMessageId)};
}

StepRow ToStepRow(const Row& row) {
  StepRow out;
  out.id = Int(row, step::kId);
  StepInfo& s = out.info;
  s.id = out.id;
  s.run_id = Int(row, step::kRunId);
  s.name = Text(row, step::kStepName);
  s.status = static_cast<StepStatus>(Int(row, step::kStatus));
  s.output_json = Text(row, step::kOutput);
  s.error_json = Text(row, step::kError);
  s.attempts = static_cast<int32_t>(Int(row, step::kAttempts));
  if (std::optional<int64_t> at = OptInt(row, step::kRetryAt)) s.retry_at = FromMicros(*at);
  s.exhausted = Int(row, step::kExhausted) != 0;
  s.started_at = FromMicros(Int(row, step::kStartedAt));
  if (std::optional<int64_t> at = OptInt(row, step::kCompletedAt)) s.completed_at = FromMicros(*at);
  out.owner = OptInt(row, step::kLeaseToken);
  return out;
}

absl::StatusOr<RunRow> FindRun(Transaction& txn, int64_t run_id) {
  PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kRuns, run_id, "run"));
  return ToRunRow(row);
}

absl::StatusOr<RunInfo> LoadRun(Transaction& txn, int64_t run_id) {
  PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kRuns, run_id, "run"));
  return ToRunInfo(txn, row);
}

absl::StatusOr<bool> LeaseLive(Transaction& txn, const Lease& lease, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<Row> m, txn.Get(kMessages, lease.message_id));
  return m && Int(*m, msg::kState) == kLive && OptInt(*m, msg::kLeaseToken) == lease.token &&
         Int(*m, msg::kVt) > now;
}

absl::Status EndRun(Transaction& txn, const RunRow& run, RunStatus status,
                    const std::string& output_json, const std::string& error_json, int64_t now) {
  PGQRS_RETURN_IF_ERROR(EditRow(txn, kRuns, run.id, "run", [&](Row& row) {
    row[run::kStatus] = Value::Integer(static_cast<int64_t>(status));
    row[run::kOutput] = TextOrNull(output_json);
    row[run::kError] = TextOrNull(error_json);
    row[run::kMessageId] = Value::Null();
    row[run::kResumeAt] = Value::Null();
    row[run::kCompletedAt] = Value::Integer(now);
    row[run::kUpdatedAt] = Value::Integer(now);
    return absl::OkStatus();
  }));
  if (!run.message_id) return absl::OkStatus();
  return txn.Delete(kMessages, *run.message_id).status();
}

absl::StatusOr<RetryPolicy> LoadRetryPolicy(Transaction& txn, int64_t workflow_id) {
  PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kWorkflows, workflow_id, "workflow"));
  return ToWorkflowInfo(row).retry_policy;
}

absl::StatusOr<std::optional<StepRow>> LoadStep(Transaction& txn, int64_t run_id,
                                                const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(
      auto ids, RowidsWithPrefix(txn, kStepsByRun, {Value::Integer(run_id), Value::Text(name)}));
  if (ids.empty()) return std::optional<StepRow>();
  PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kSteps, ids[0], "step"));
  return std::optional<StepRow>(ToStepRow(row));
}

absl::StatusOr<WorkflowInfo> EngineStore::CreateWorkflow(const WorkflowOptions& options) {
  PGQRS_RETURN_IF_ERROR(CheckText("name", options.name));
  WorkflowInfo info;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(std::optional<Row> existing, WorkflowByName(txn, options.name));
    if (existing) {
      if (!options.if_not_exists) {
        return absl::AlreadyExistsError(
            absl::StrCat("workflow \"", options.name, "\" already exists"));
      }
      info = ToWorkflowInfo(*existing);
      return absl::OkStatus();
    }
    absl::StatusOr<QueueRow> queue = FindQueue(txn, options.name);
    if (queue.ok()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "queue \"", options.name, "\" already exists; a workflow needs a queue of its own"));
    }
    if (!absl::IsNotFound(queue.status())) return queue.status();
    int64_t now = NowMicros();
    PGQRS_ASSIGN_OR_RETURN(int64_t queue_id, TakeIds(txn, kQueueSequence, 1));
    PGQRS_RETURN_IF_ERROR(txn.Insert(kQueues, NewQueueRow(queue_id, options.name, now)).status());
    PGQRS_ASSIGN_OR_RETURN(int64_t id, TakeIds(txn, kWorkflowSequence, 1));
    Row row = NewWorkflowRow(id, queue_id, options, now);
    info = ToWorkflowInfo(row);
    return txn.Insert(kWorkflows, std::move(row)).status();
  });
  if (!status.ok()) return status;
  return info;
}

absl::StatusOr<WorkflowInfo> EngineStore::GetWorkflow(const std::string& name) {
  std::optional<Row> row;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(row, WorkflowByName(txn, name));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!row) return absl::NotFoundError(absl::StrCat("workflow \"", name, "\" not found"));
  return ToWorkflowInfo(*row);
}

absl::StatusOr<std::vector<WorkflowInfo>> EngineStore::ListWorkflows(const std::string& after_name,
                                                                     int32_t limit) {
  std::vector<WorkflowInfo> workflows;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    engine::IndexRange range;
    range.lower = engine::IndexBound{{Value::Text(after_name)}, /*inclusive=*/false};
    PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanIndex(kWorkflowsByName, range));
    while (it->Valid() && static_cast<int32_t>(workflows.size()) < limit) {
      PGQRS_ASSIGN_OR_RETURN(Row row, it->row());
      workflows.push_back(ToWorkflowInfo(row));
      PGQRS_RETURN_IF_ERROR(it->Next());
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return workflows;
}

absl::StatusOr<StartRunResult> EngineStore::StartRun(const NewRun& run) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("input_json", run.input_json));
  if (run.idempotency_key.size() > kMaxIdempotencyKeyBytes) {
    return absl::InvalidArgumentError("idempotency_key: longer than 255 bytes");
  }
  PGQRS_RETURN_IF_ERROR(CheckText("idempotency_key", run.idempotency_key));
  PGQRS_ASSIGN_OR_RETURN(const int64_t run_id, ids_.Take(kRunSequence, 1));
  PGQRS_ASSIGN_OR_RETURN(const int64_t message_id, ids_.Take(kMessageSequence, 1));
  StartRunResult result;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(WorkflowRow w, FindWorkflow(txn, run.workflow));
    if (!run.idempotency_key.empty()) {
      PGQRS_ASSIGN_OR_RETURN(auto existing, RowidsWithPrefix(txn, kRunsByKey,
                                                             {Value::Integer(w.id),
                                                              Value::Text(run.idempotency_key)}));
      if (!existing.empty()) {
        PGQRS_ASSIGN_OR_RETURN(result.run, LoadRun(txn, existing[0]));
        result.created = false;
        return SameRunInput(result.run, run);
      }
    }
    int64_t now = NowMicros();
    NewMessage trigger;
    trigger.payload_json = nlohmann::json{{"run_id", run_id}}.dump();
    PGQRS_RETURN_IF_ERROR(InsertMessage(txn, message_id, w.queue.id, trigger, 0, now));
    PGQRS_RETURN_IF_ERROR(
        txn.Insert(kRuns, NewRunRow(run_id, w.id, run, message_id, now)).status());
    PGQRS_ASSIGN_OR_RETURN(result.run, LoadRun(txn, run_id));
    result.created = true;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<ClaimResult> EngineStore::ClaimRun(const std::string& workflow,
                                                  const ClaimOptions& options) {
  ClaimResult result;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    result = ClaimResult();
    PGQRS_ASSIGN_OR_RETURN(WorkflowRow w, FindWorkflow(txn, workflow));
    int64_t now = NowMicros();
    if (options.worker_id) {
      PGQRS_RETURN_IF_ERROR(ClaimConsumer(txn, options.worker_id, w.queue.id, now));
    }
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> visible,
                             VisibleCandidates(txn, w.queue.id, now, 1));
      if (visible.empty()) return absl::OkStatus();
      int64_t message_id = visible[0];
      PGQRS_ASSIGN_OR_RETURN(std::optional<RunRow> run, RunOfMessage(txn, message_id));
      if (!run || IsTerminal(run->status)) {
        // Not a live run's trigger (a stray message on the workflow queue): drop it.
        PGQRS_RETURN_IF_ERROR(txn.Delete(kMessages, message_id).status());
        continue;
      }
      if (run->status == RunStatus::kCancelling) {
        PGQRS_RETURN_IF_ERROR(EndRun(txn, *run, RunStatus::kCancelled, "", "", now));
        result.cancelled.push_back(run->id);
        continue;
      }
      DequeueOptions lease_options;
      lease_options.visibility_timeout = options.visibility_timeout;
      lease_options.consumer_worker_id = options.worker_id;
      PGQRS_ASSIGN_OR_RETURN(std::optional<Message> m,
                             LeaseOne(txn, message_id, w.queue, lease_options, now));
      if (!m) continue;  // dead-lettered (a trigger read kTriggerQueueMaxReads times)
      PGQRS_RETURN_IF_ERROR(EditRow(txn, kRuns, run->id, "run", [&](Row& row) {
        row[run::kStatus] = Value::Integer(static_cast<int64_t>(RunStatus::kRunning));
        row[run::kWorkerId] = IdOrNull(options.worker_id);
        row[run::kResumeAt] = Value::Null();
        if (row[run::kStartedAt].is_null()) row[run::kStartedAt] = Value::Integer(now);
        row[run::kUpdatedAt] = Value::Integer(now);
        return absl::OkStatus();
      }));
      PGQRS_ASSIGN_OR_RETURN(result.run, LoadRun(txn, run->id));
      result.lease = *m->lease;
      return absl::OkStatus();
    }
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<RunInfo> EngineStore::CancelRun(int64_t run_id) {
  return embedded::CancelRun(RunWriter(), run_id);
}

absl::StatusOr<RunInfo> EngineStore::GetRun(int64_t run_id) {
  absl::StatusOr<RunInfo> result;
  absl::Status status = Read([&](Transaction& txn) {
    result = LoadRun(txn, run_id);
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<RunInfo>> EngineStore::ListRuns(const RunFilter& filter) {
  std::vector<RunInfo> runs;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    std::optional<int64_t> workflow_id;
    if (!filter.workflow.empty()) {
      PGQRS_ASSIGN_OR_RETURN(WorkflowRow w, FindWorkflow(txn, filter.workflow));
      workflow_id = w.id;
    }
    PGQRS_ASSIGN_OR_RETURN(auto it, txn.SeekTable(kRuns, filter.after_id + 1));
    while (it->Valid() && static_cast<int32_t>(runs.size()) < filter.limit) {
      PGQRS_ASSIGN_OR_RETURN(Row row, it->row());
      bool wanted =
          (!workflow_id || Int(row, run::kWorkflowId) == *workflow_id) &&
          (!filter.status || Int(row, run::kStatus) == static_cast<int64_t>(*filter.status));
      if (wanted) {
        PGQRS_ASSIGN_OR_RETURN(RunInfo info, ToRunInfo(txn, row));
        runs.push_back(std::move(info));
      }
      PGQRS_RETURN_IF_ERROR(it->Next());
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return runs;
}

absl::StatusOr<std::vector<StepInfo>> EngineStore::ListSteps(const StepFilter& filter) {
  std::vector<StepInfo> steps;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    PGQRS_RETURN_IF_ERROR(FindRun(txn, filter.run_id).status());
    PGQRS_ASSIGN_OR_RETURN(auto ids,
                           RowidsWithPrefix(txn, kStepsByRun, {Value::Integer(filter.run_id)}));
    std::sort(ids.begin(), ids.end());  // the order steps were first begun
    for (auto it = std::upper_bound(ids.begin(), ids.end(), filter.after_id);
         it != ids.end() && static_cast<int32_t>(steps.size()) < filter.limit; ++it) {
      PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kSteps, *it, "step"));
      steps.push_back(ToStepRow(row).info);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return steps;
}

}  // namespace pgqrs::storage::enginestore
