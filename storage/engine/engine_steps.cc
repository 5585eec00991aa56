// EngineStore: the calls a run's lease holder makes: step boundaries, and ending or
// pausing the run. Each checks the lease first; see store.h "Workflows".
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"
#include "storage/rules.h"

namespace pgqrs::storage::enginestore {
namespace {

// The step this lease may finish: begun, STARTED and owned by the lease. A completed
// step is returned as it is (a repeated call).
absl::StatusOr<StepRow> OwnedStep(Transaction& txn, const RunLease& lease,
                                  const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, LoadStep(txn, lease.run_id, name));
  if (!step) {
    return absl::FailedPreconditionError(absl::StrCat("step \"", name, "\" of run ", lease.run_id,
                                                      " was not begun; call BeginStep first"));
  }
  if (step->info.status == StepStatus::kFailed) {
    return absl::FailedPreconditionError(absl::StrCat("step \"", name, "\" of run ", lease.run_id,
                                                      " has failed; BeginStep to retry it"));
  }
  if (step->info.status == StepStatus::kStarted && step->owner != lease.lease.token) {
    return absl::FailedPreconditionError(
        absl::StrCat("step \"", name, "\" of run ", lease.run_id,
                     " was started under another lease; call BeginStep first"));
  }
  return *step;
}

absl::Status InsertStep(Transaction& txn, int64_t id, const RunLease& lease,
                        const std::string& name, int64_t now) {
  Row row(step::kCount);
  row[step::kId] = Value::Integer(id);
  row[step::kRunId] = Value::Integer(lease.run_id);
  row[step::kStepName] = Value::Text(name);
  row[step::kStatus] = Value::Integer(static_cast<int64_t>(StepStatus::kStarted));
  row[step::kAttempts] = Value::Integer(1);
  row[step::kExhausted] = Value::Integer(0);
  row[step::kLeaseToken] = Value::Integer(lease.lease.token);
  row[step::kStartedAt] = Value::Integer(now);
  return txn.Insert(kSteps, std::move(row)).status();
}

// Applies `edit` to step row `step_id`.
template <typename F>
absl::Status EditStep(Transaction& txn, int64_t step_id, F edit) {
  return EditRow(txn, kSteps, step_id, "step", [&](Row& row) {
    edit(row);
    return absl::OkStatus();
  });
}

// Starts an existing step again under this lease: another attempt.
absl::Status RestartStep(Transaction& txn, int64_t step_id, const Lease& lease, int64_t now) {
  return EditStep(txn, step_id, [&](Row& row) {
    row[step::kStatus] = Value::Integer(static_cast<int64_t>(StepStatus::kStarted));
    row[step::kAttempts] = Value::Integer(Int(row, step::kAttempts) + 1);
    row[step::kRetryAt] = Value::Null();
    row[step::kLeaseToken] = Value::Integer(lease.token);
    row[step::kStartedAt] = Value::Integer(now);
    row[step::kCompletedAt] = Value::Null();
  });
}

absl::StatusOr<StepInfo> ReloadStep(Transaction& txn, int64_t run_id, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, LoadStep(txn, run_id, name));
  if (!step) return absl::InternalError(absl::StrCat("step \"", name, "\" vanished"));
  return step->info;
}

}  // namespace

absl::Status EngineStore::UnderLease(const RunLease& lease, const RunChange& change,
                                     bool* cancelled) {
  return Write([&](Transaction& txn) -> absl::Status {
    *cancelled = false;
    PGQRS_ASSIGN_OR_RETURN(RunRow run, FindRun(txn, lease.run_id));
    if (run.status == RunStatus::kCancelled) {
      *cancelled = true;  // nothing to write; the caller learns it must stop
      return absl::OkStatus();
    }
    int64_t now = NowMicros();
    bool live = false;
    if (run.message_id && *run.message_id == lease.lease.message_id) {
      PGQRS_ASSIGN_OR_RETURN(live, LeaseLive(txn, lease.lease, now));
    }
    if (!live) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run ", lease.run_id, ": lease lost (expired, released or claimed by another worker)"));
    }
    if (run.status == RunStatus::kCancelling) {
      *cancelled = true;
      return EndRun(txn, run, RunStatus::kCancelled, "", "", now);
    }
    if (run.status != RunStatus::kRunning) {
      return absl::FailedPreconditionError(
          absl::StrCat("run ", lease.run_id, " is ", RunStatusName(run.status)));
    }
    return change(txn, run, now);
  });
}

absl::Status EngineStore::UnderLeaseUnlessCancelled(const RunLease& lease,
                                                    const RunChange& change) {
  bool cancelled = false;
  PGQRS_RETURN_IF_ERROR(UnderLease(lease, change, &cancelled));
  return cancelled ? RunCancelledError(lease.run_id) : absl::OkStatus();
}

absl::StatusOr<BeginStepResult> EngineStore::BeginStep(const RunLease& lease,
                                                       const std::string& step_name) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  // Taken whether or not the step is new: an unused id is a gap, like a rolled-back insert.
  PGQRS_ASSIGN_OR_RETURN(const int64_t new_step_id, ids_.Take(kStepSequence, 1));
  BeginStepResult result;
  bool cancelled = false;
  absl::Status status = UnderLease(
      lease,
      [&](Transaction& txn, const RunRow&, int64_t now) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, LoadStep(txn, lease.run_id, step_name));
        if (!step) {
          PGQRS_RETURN_IF_ERROR(InsertStep(txn, new_step_id, lease, step_name, now));
          result.outcome = StepOutcome::kStarted;
        } else if (step->info.status == StepStatus::kCompleted) {
          result.outcome = StepOutcome::kCompleted;
        } else if (step->info.status == StepStatus::kStarted) {
          // Started under an ended lease: its owner is gone (this lease is the only live
          // one), so the step is this lease's now. Under this lease: a repeated call.
          if (step->owner != lease.lease.token) {
            PGQRS_RETURN_IF_ERROR(RestartStep(txn, step->id, lease.lease, now));
          }
          result.outcome = StepOutcome::kStarted;
        } else if (step->info.exhausted) {
          result.outcome = StepOutcome::kExhausted;
        } else if (step->info.retry_at && absl::ToUnixMicros(*step->info.retry_at) > now) {
          result.outcome = StepOutcome::kNotReady;
        } else {
          PGQRS_RETURN_IF_ERROR(RestartStep(txn, step->id, lease.lease, now));
          result.outcome = StepOutcome::kStarted;
        }
        PGQRS_ASSIGN_OR_RETURN(result.step, ReloadStep(txn, lease.run_id, step_name));
        return absl::OkStatus();
      },
      &cancelled);
  if (!status.ok()) return status;
  if (cancelled) {
    result = BeginStepResult();
    result.outcome = StepOutcome::kCancelled;
    result.step.run_id = lease.run_id;
    result.step.name = step_name;
  }
  return result;
}

absl::StatusOr<StepInfo> EngineStore::CompleteStep(const RunLease& lease,
                                                   const std::string& step_name,
                                                   const std::string& output_json) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("output_json", output_json));
  StepInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Transaction& txn, const RunRow&, int64_t now) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(StepRow step, OwnedStep(txn, lease, step_name));
        if (step.info.status == StepStatus::kStarted) {
          PGQRS_RETURN_IF_ERROR(EditStep(txn, step.id, [&](Row& row) {
            row[step::kStatus] = Value::Integer(static_cast<int64_t>(StepStatus::kCompleted));
            row[step::kOutput] = Value::Text(output_json);
            row[step::kError] = Value::Null();
            row[step::kCompletedAt] = Value::Integer(now);
          }));
        }
        PGQRS_ASSIGN_OR_RETURN(result, ReloadStep(txn, lease.run_id, step_name));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<StepInfo> EngineStore::FailStep(const RunLease& lease, const std::string& step_name,
                                               const StepFailure& failure) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("error_json", failure.error_json));
  StepInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Transaction& txn, const RunRow& run, int64_t now) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(StepRow step, OwnedStep(txn, lease, step_name));
        if (step.info.status == StepStatus::kCompleted) {
          return absl::FailedPreconditionError(
              absl::StrCat("step \"", step_name, "\" of run ", lease.run_id, " already completed"));
        }
        PGQRS_ASSIGN_OR_RETURN(RetryPolicy policy, LoadRetryPolicy(txn, run.workflow_id));
        bool exhausted = !failure.transient || step.info.attempts >= policy.max_attempts;
        std::optional<int64_t> retry_at;
        if (!exhausted) {
          absl::Duration wait =
              failure.retry_after.value_or(RetryBackoff(policy, step.info.attempts));
          retry_at = now + ToMicros(wait);
        }
        PGQRS_RETURN_IF_ERROR(EditStep(txn, step.id, [&](Row& row) {
          row[step::kStatus] = Value::Integer(static_cast<int64_t>(StepStatus::kFailed));
          row[step::kError] = Value::Text(failure.error_json);
          row[step::kRetryAt] = IntOrNull(retry_at);
          row[step::kExhausted] = Value::Integer(exhausted ? 1 : 0);
        }));
        PGQRS_ASSIGN_OR_RETURN(result, ReloadStep(txn, lease.run_id, step_name));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<RunInfo> EngineStore::CompleteRun(const RunLease& lease,
                                                 const std::string& output_json) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("output_json", output_json));
  RunInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Transaction& txn, const RunRow& run, int64_t now) -> absl::Status {
        PGQRS_RETURN_IF_ERROR(EndRun(txn, run, RunStatus::kSucceeded, output_json, "", now));
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(txn, run.id));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<RunInfo> EngineStore::FailRun(const RunLease& lease, const std::string& error_json) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("error_json", error_json));
  RunInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Transaction& txn, const RunRow& run, int64_t now) -> absl::Status {
        PGQRS_RETURN_IF_ERROR(EndRun(txn, run, RunStatus::kFailed, "", error_json, now));
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(txn, run.id));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<RunInfo> EngineStore::ExtendRunLease(const RunLease& lease, absl::Duration timeout) {
  RunInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Transaction& txn, const RunRow& run, int64_t now) -> absl::Status {
        PGQRS_RETURN_IF_ERROR(
            EditRow(txn, kMessages, lease.lease.message_id, "message", [&](Row& m) {
              m[msg::kVt] = Value::Integer(now + ToMicros(timeout));
              return absl::OkStatus();
            }));
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(txn, run.id));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<RunInfo> EngineStore::PauseRun(const RunLease& lease, absl::Duration resume_after) {
  RunInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Transaction& txn, const RunRow& run, int64_t now) -> absl::Status {
        int64_t resume_at = now + ToMicros(resume_after);
        PGQRS_RETURN_IF_ERROR(EditRow(txn, kRuns, run.id, "run", [&](Row& row) {
          row[run::kStatus] = Value::Integer(static_cast<int64_t>(RunStatus::kPaused));
          row[run::kResumeAt] = Value::Integer(resume_at);
          row[run::kUpdatedAt] = Value::Integer(now);
          return absl::OkStatus();
        }));
        // Release the lease; the trigger becomes visible when the run is due.
        PGQRS_RETURN_IF_ERROR(
            EditRow(txn, kMessages, lease.lease.message_id, "message", [&](Row& m) {
              ClearLease(m);
              m[msg::kVt] = Value::Integer(resume_at);
              return absl::OkStatus();
            }));
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(txn, run.id));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

}  // namespace pgqrs::storage::enginestore
