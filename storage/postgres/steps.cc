// PostgresStore: the calls a run's lease holder makes: step boundaries, and ending or
// pausing the run. Each is one transaction that locks the trigger message, then the run,
// and checks the lease first; see store.h "Workflows".
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/postgres/store_impl.h"
#include "storage/rules.h"

namespace pgqrs::storage::pg {
namespace {

constexpr Statement kLockLeasedMessage{
    "lock_leased_message",
    "SELECT state = 0 AND lease_token = $2 AND vt > now() FROM pgqrs_messages "
    "WHERE id = $1 FOR UPDATE"};
constexpr Statement kRetryPolicy{
    "retry_policy",
    "SELECT max_attempts, base_backoff_ms, max_backoff_ms, jitter FROM pgqrs_workflows "
    "WHERE id = $1"};
constexpr Statement kInsertStep{
    "insert_step",
    "INSERT INTO pgqrs_workflow_steps (run_id, step_name, status, attempts, exhausted, "
    "lease_token, started_at) VALUES ($1, $2, 1, 1, false, $3, now()) "
    "RETURNING " PGQRS_STEP_COLUMNS};
// Starts an existing step again under this lease: another attempt.
constexpr Statement kRestartStep{
    "restart_step",
    "UPDATE pgqrs_workflow_steps SET status = 1, attempts = attempts + 1, retry_at = NULL, "
    "lease_token = $2, started_at = now(), completed_at = NULL WHERE id = $1 "
    "RETURNING " PGQRS_STEP_COLUMNS};
constexpr Statement kCompleteStep{
    "complete_step",
    "UPDATE pgqrs_workflow_steps SET status = 2, output = $2::jsonb, error = NULL, "
    "completed_at = now() WHERE id = $1 RETURNING " PGQRS_STEP_COLUMNS};
constexpr Statement kFailStep{
    "fail_step",
    "UPDATE pgqrs_workflow_steps SET status = 3, error = $2::jsonb, exhausted = $3::bool, "
    "retry_at = CASE WHEN $3::bool THEN NULL ELSE now() + " PGQRS_MICROS("$4") " END "
    "WHERE id = $1 RETURNING " PGQRS_STEP_COLUMNS};
constexpr Statement kExtendRun{
    "extend_run", "UPDATE pgqrs_messages SET vt = now() + " PGQRS_MICROS("$2") " WHERE id = $1"};
constexpr Statement kPauseRun{
    "pause_run",
    "WITH r AS (UPDATE pgqrs_workflow_runs SET status = 3, "
    "  resume_at = now() + " PGQRS_MICROS("$2") ", updated_at = now() WHERE id = $1) "
    "UPDATE pgqrs_messages SET vt = now() + " PGQRS_MICROS("$2")
    ", lease_token = NULL, consumer_worker_id = NULL WHERE id = $3"};

absl::StatusOr<RetryPolicy> LoadRetryPolicy(Tx& tx, int64_t workflow_id) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kRetryPolicy, Params().Add(workflow_id)));
  if (rows.size() == 0) {
    return absl::NotFoundError(absl::StrCat("workflow ", workflow_id, " not found"));
  }
  RetryPolicy policy;
  policy.max_attempts = static_cast<int32_t>(rows.Int(0, 0));
  policy.base_backoff = absl::Milliseconds(rows.Int(0, 1));
  policy.max_backoff = absl::Milliseconds(rows.Int(0, 2));
  policy.jitter = std::strtod(rows.Text(0, 3).c_str(), nullptr);
  return policy;
}

// The step this lease may finish: begun, STARTED and owned by the lease. A completed
// step is returned as it is (a repeated call).
absl::StatusOr<StepRow> OwnedStep(Tx& tx, const RunLease& lease, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, LoadStep(tx, lease.run_id, name));
  PGQRS_RETURN_IF_ERROR(
      CheckStepOwned(lease, name, step ? &step->info : nullptr, step ? step->owner : std::nullopt));
  return *step;
}

absl::StatusOr<StepInfo> StepFrom(absl::StatusOr<Rows> rows) {
  if (!rows.ok()) return rows.status();
  if (rows->size() == 0) return absl::InternalError("step vanished");
  return ReadStepRow(*rows, 0).info;
}

// BeginStep's decision on an existing or missing step, under a checked lease.
absl::StatusOr<BeginStepResult> BeginUnderLease(Tx& tx, const RunLease& lease,
                                                const std::string& name) {
  BeginStepResult result;
  result.outcome = StepOutcome::kStarted;
  PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, LoadStep(tx, lease.run_id, name));
  if (!step) {
    Params params;
    params.Add(lease.run_id).Add(name).Add(lease.lease.token);
    PGQRS_ASSIGN_OR_RETURN(result.step, StepFrom(tx.Query(kInsertStep, params)));
    return result;
  }
  result.step = step->info;
  bool restart = false;
  if (step->info.status == StepStatus::kCompleted) {
    result.outcome = StepOutcome::kCompleted;
  } else if (step->info.status == StepStatus::kStarted) {
    // Started under an ended lease: its owner is gone (this lease is the only live one),
    // so the step is this lease's now. Under this lease: a repeated call.
    restart = step->owner != lease.lease.token;
  } else if (step->info.exhausted) {
    result.outcome = StepOutcome::kExhausted;
  } else if (!step->due) {
    result.outcome = StepOutcome::kNotReady;
  } else {
    restart = true;
  }
  if (restart) {
    PGQRS_ASSIGN_OR_RETURN(
        result.step,
        StepFrom(tx.Query(kRestartStep, Params().Add(step->id).Add(lease.lease.token))));
  }
  return result;
}

}  // namespace

absl::Status PostgresStore::UnderLease(const RunLease& lease, const RunChange& change,
                                       bool* cancelled) {
  return Transact([&](Tx& tx) -> absl::Status {
    *cancelled = false;
    // The lease's message first (the lock order), then the run.
    Params message;
    message.Add(lease.lease.message_id).Add(lease.lease.token);
    PGQRS_ASSIGN_OR_RETURN(Rows leased, tx.Query(kLockLeasedMessage, message));
    PGQRS_ASSIGN_OR_RETURN(RunRow run, LockRun(tx, lease.run_id));
    if (run.status == RunStatus::kCancelled) {
      *cancelled = true;  // nothing to write; the caller learns it must stop
      return absl::OkStatus();
    }
    bool live = run.message_id == lease.lease.message_id && leased.size() == 1 && leased.Bool(0, 0);
    if (!live) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run ", lease.run_id, ": lease lost (expired, released or claimed by another worker)"));
    }
    if (run.status == RunStatus::kCancelling) {
      *cancelled = true;
      return EndRun(tx, run, RunStatus::kCancelled, "", "");
    }
    if (run.status != RunStatus::kRunning) {
      return absl::FailedPreconditionError(
          absl::StrCat("run ", lease.run_id, " is ", RunStatusName(run.status)));
    }
    return change(tx, run);
  });
}

absl::Status PostgresStore::UnderLeaseUnlessCancelled(const RunLease& lease,
                                                      const RunChange& change) {
  bool cancelled = false;
  PGQRS_RETURN_IF_ERROR(UnderLease(lease, change, &cancelled));
  return cancelled ? RunCancelledError(lease.run_id) : absl::OkStatus();
}

absl::StatusOr<BeginStepResult> PostgresStore::BeginStep(const RunLease& lease,
                                                         const std::string& step_name) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  BeginStepResult result;
  bool cancelled = false;
  PGQRS_RETURN_IF_ERROR(UnderLease(
      lease,
      [&](Tx& tx, const RunRow&) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(result, BeginUnderLease(tx, lease, step_name));
        return absl::OkStatus();
      },
      &cancelled));
  if (cancelled) return CancelledBeginStep(lease.run_id, step_name);
  return result;
}

absl::StatusOr<StepInfo> PostgresStore::CompleteStep(const RunLease& lease,
                                                     const std::string& step_name,
                                                     const std::string& output_json) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("output_json", output_json));
  StepInfo result;
  PGQRS_RETURN_IF_ERROR(
      UnderLeaseUnlessCancelled(lease, [&](Tx& tx, const RunRow&) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(StepRow step, OwnedStep(tx, lease, step_name));
        result = step.info;
        if (step.info.status != StepStatus::kStarted) return absl::OkStatus();  // a repeat
        PGQRS_ASSIGN_OR_RETURN(
            result, StepFrom(tx.Query(kCompleteStep, Params().Add(step.id).Add(output_json))));
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<StepInfo> PostgresStore::FailStep(const RunLease& lease,
                                                 const std::string& step_name,
                                                 const StepFailure& failure) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("error_json", failure.error_json));
  StepInfo result;
  PGQRS_RETURN_IF_ERROR(
      UnderLeaseUnlessCancelled(lease, [&](Tx& tx, const RunRow& run) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(StepRow step, OwnedStep(tx, lease, step_name));
        if (step.info.status == StepStatus::kCompleted) {
          return absl::FailedPreconditionError(
              absl::StrCat("step \"", step_name, "\" of run ", lease.run_id, " already completed"));
        }
        PGQRS_ASSIGN_OR_RETURN(RetryPolicy policy, LoadRetryPolicy(tx, run.workflow_id));
        bool exhausted = !failure.transient || step.info.attempts >= policy.max_attempts;
        absl::Duration wait = absl::ZeroDuration();
        if (!exhausted) {
          wait = failure.retry_after.value_or(RetryBackoff(policy, step.info.attempts));
        }
        Params params;
        params.Add(step.id).Add(failure.error_json).Add(exhausted ? "true" : "false").Add(wait);
        PGQRS_ASSIGN_OR_RETURN(result, StepFrom(tx.Query(kFailStep, params)));
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<RunInfo> PostgresStore::CompleteRun(const RunLease& lease,
                                                   const std::string& output_json) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("output_json", output_json));
  RunInfo result;
  PGQRS_RETURN_IF_ERROR(
      UnderLeaseUnlessCancelled(lease, [&](Tx& tx, const RunRow& run) -> absl::Status {
        PGQRS_RETURN_IF_ERROR(EndRun(tx, run, RunStatus::kSucceeded, output_json, ""));
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(tx, run.id));
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<RunInfo> PostgresStore::FailRun(const RunLease& lease,
                                               const std::string& error_json) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("error_json", error_json));
  RunInfo result;
  PGQRS_RETURN_IF_ERROR(
      UnderLeaseUnlessCancelled(lease, [&](Tx& tx, const RunRow& run) -> absl::Status {
        PGQRS_RETURN_IF_ERROR(EndRun(tx, run, RunStatus::kFailed, "", error_json));
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(tx, run.id));
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<RunInfo> PostgresStore::ExtendRunLease(const RunLease& lease,
                                                      absl::Duration timeout) {
  RunInfo result;
  PGQRS_RETURN_IF_ERROR(
      UnderLeaseUnlessCancelled(lease, [&](Tx& tx, const RunRow& run) -> absl::Status {
        Params params;
        params.Add(lease.lease.message_id).Add(timeout);
        PGQRS_RETURN_IF_ERROR(tx.Query(kExtendRun, params).status());
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(tx, run.id));
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<RunInfo> PostgresStore::PauseRun(const RunLease& lease,
                                                absl::Duration resume_after) {
  RunInfo result;
  PGQRS_RETURN_IF_ERROR(
      UnderLeaseUnlessCancelled(lease, [&](Tx& tx, const RunRow& run) -> absl::Status {
        // Releases the lease; the trigger becomes visible when the run is due.
        Params params;
        params.Add(run.id).Add(resume_after).Add(lease.lease.message_id);
        PGQRS_RETURN_IF_ERROR(tx.Query(kPauseRun, params).status());
        if (resume_after <= absl::ZeroDuration()) PGQRS_RETURN_IF_ERROR(Notify(tx, run.workflow));
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(tx, run.id));
        return absl::OkStatus();
      }));
  return result;
}

}  // namespace pgqrs::storage::pg
