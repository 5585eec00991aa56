#include "storage/rules_runs.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/file_time.h"
#include "storage/rules.h"

namespace pgqrs::storage::embedded {
namespace {

// A change to the RUNNING run a lease holds, inside the transaction that checked the lease.
using RunChange = std::function<absl::Status(RunTables&, const RunRow&, int64_t now)>;

// Checks the lease (see the top of rules_runs.h) and applies `change` to the RUNNING run,
// in one transaction. `*cancelled` tells whether the run was (or now is) cancelled; then
// `change` did not run and the transaction still commits.
absl::Status UnderLease(const WriteRuns& write, const RunLease& lease, const RunChange& change,
                        bool* cancelled) {
  return write([&](RunTables& tables, int64_t now) -> absl::Status {
    *cancelled = false;
    PGQRS_ASSIGN_OR_RETURN(RunRow run, tables.FindRun(lease.run_id));
    if (run.status == RunStatus::kCancelled) {
      *cancelled = true;  // nothing to write; the caller learns it must stop
      return absl::OkStatus();
    }
    bool live = false;
    if (run.message_id && *run.message_id == lease.lease.message_id) {
      PGQRS_ASSIGN_OR_RETURN(live, tables.LeaseLive(lease.lease, now));
    }
    if (!live) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run ", lease.run_id, ": lease lost (expired, released or claimed by another worker)"));
    }
    if (run.status == RunStatus::kCancelling) {
      *cancelled = true;
      return tables.EndRun(run, RunStatus::kCancelled, "", "", now);
    }
    if (run.status != RunStatus::kRunning) {
      return absl::FailedPreconditionError(
          absl::StrCat("run ", lease.run_id, " is ", RunStatusName(run.status)));
    }
    return change(tables, run, now);
  });
}

// UnderLease for the writes a cancelled run refuses: CANCELLED instead of `cancelled`.
absl::Status UnderLeaseUnlessCancelled(const WriteRuns& write, const RunLease& lease,
                                       const RunChange& change) {
  bool cancelled = false;
  PGQRS_RETURN_IF_ERROR(UnderLease(write, lease, change, &cancelled));
  return cancelled ? RunCancelledError(lease.run_id) : absl::OkStatus();
}

// The step this lease may finish: begun, STARTED and owned by the lease. A completed
// step is returned as it is (a repeated call).
absl::StatusOr<StepRow> OwnedStep(RunTables& tables, const RunLease& lease,
                                  const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, tables.LoadStep(lease.run_id, name));
  PGQRS_RETURN_IF_ERROR(
      CheckStepOwned(lease, name, step ? &step->info : nullptr, step ? step->owner : std::nullopt));
  return *step;
}

absl::StatusOr<StepInfo> ReloadStep(RunTables& tables, int64_t run_id, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, tables.LoadStep(run_id, name));
  if (!step) return absl::InternalError(absl::StrCat("step \"", name, "\" vanished"));
  return step->info;
}

// Begins the step in the RUNNING run: starts it (new, retried, or taken over from an ended
// lease) or says why not.
absl::StatusOr<StepOutcome> BeginStepUnderLease(RunTables& tables, const RunLease& lease,
                                                const std::string& step_name, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, tables.LoadStep(lease.run_id, step_name));
  if (!step) {
    PGQRS_RETURN_IF_ERROR(tables.InsertStep(lease.run_id, step_name, lease.lease.token, now));
    return StepOutcome::kStarted;
  }
  if (step->info.status == StepStatus::kCompleted) return StepOutcome::kCompleted;
  if (step->info.status == StepStatus::kStarted) {
    // Started under an ended lease: its owner is gone (this lease is the only live one), so
    // the step is this lease's now. Under this lease: a repeated call.
    if (step->owner != lease.lease.token) {
      PGQRS_RETURN_IF_ERROR(tables.RestartStep(step->id, lease.lease.token, now));
    }
    return StepOutcome::kStarted;
  }
  if (step->info.exhausted) return StepOutcome::kExhausted;
  if (step->info.retry_at && absl::ToUnixMicros(*step->info.retry_at) > now) {
    return StepOutcome::kNotReady;
  }
  PGQRS_RETURN_IF_ERROR(tables.RestartStep(step->id, lease.lease.token, now));
  return StepOutcome::kStarted;
}

// Runs `change` on the RUNNING run under `lease` and returns the run as it then is.
absl::StatusOr<RunInfo> ChangeRun(const WriteRuns& write, const RunLease& lease,
                                  const RunChange& change) {
  RunInfo result;
  PGQRS_RETURN_IF_ERROR(UnderLeaseUnlessCancelled(
      write, lease, [&](RunTables& tables, const RunRow& run, int64_t now) -> absl::Status {
        PGQRS_RETURN_IF_ERROR(change(tables, run, now));
        PGQRS_ASSIGN_OR_RETURN(result, tables.LoadRun(run.id));
        return absl::OkStatus();
      }));
  return result;
}

}  // namespace

absl::StatusOr<BeginStepResult> BeginStep(const WriteRuns& write, const RunLease& lease,
                                          const std::string& step_name) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  BeginStepResult result;
  bool cancelled = false;
  PGQRS_RETURN_IF_ERROR(UnderLease(
      write, lease,
      [&](RunTables& tables, const RunRow&, int64_t now) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(result.outcome, BeginStepUnderLease(tables, lease, step_name, now));
        PGQRS_ASSIGN_OR_RETURN(result.step, ReloadStep(tables, lease.run_id, step_name));
        return absl::OkStatus();
      },
      &cancelled));
  if (cancelled) return CancelledBeginStep(lease.run_id, step_name);
  return result;
}

absl::StatusOr<StepInfo> CompleteStep(const WriteRuns& write, const RunLease& lease,
                                      const std::string& step_name,
                                      const std::string& output_json) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("output_json", output_json));
  StepInfo result;
  PGQRS_RETURN_IF_ERROR(UnderLeaseUnlessCancelled(
      write, lease, [&](RunTables& tables, const RunRow&, int64_t now) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(StepRow step, OwnedStep(tables, lease, step_name));
        if (step.info.status == StepStatus::kStarted) {
          PGQRS_RETURN_IF_ERROR(tables.MarkStepCompleted(step.id, output_json, now));
        }
        PGQRS_ASSIGN_OR_RETURN(result, ReloadStep(tables, lease.run_id, step_name));
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<StepInfo> FailStep(const WriteRuns& write, const RunLease& lease,
                                  const std::string& step_name, const StepFailure& failure) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("error_json", failure.error_json));
  StepInfo result;
  PGQRS_RETURN_IF_ERROR(UnderLeaseUnlessCancelled(
      write, lease, [&](RunTables& tables, const RunRow& run, int64_t now) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(StepRow step, OwnedStep(tables, lease, step_name));
        if (step.info.status == StepStatus::kCompleted) {
          return absl::FailedPreconditionError(
              absl::StrCat("step \"", step_name, "\" of run ", lease.run_id, " already completed"));
        }
        PGQRS_ASSIGN_OR_RETURN(RetryPolicy policy, tables.LoadRetryPolicy(run.workflow_id));
        bool exhausted = !failure.transient || step.info.attempts >= policy.max_attempts;
        std::optional<int64_t> retry_at;
        if (!exhausted) {
          absl::Duration wait =
              failure.retry_after.value_or(RetryBackoff(policy, step.info.attempts));
          retry_at = now + ToMicros(wait);
        }
        PGQRS_RETURN_IF_ERROR(
            tables.MarkStepFailed(step.id, failure.error_json, retry_at, exhausted));
        PGQRS_ASSIGN_OR_RETURN(result, ReloadStep(tables, lease.run_id, step_name));
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<RunInfo> CompleteRun(const WriteRuns& write, const RunLease& lease,
                                    const std::string& output_json) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("output_json", output_json));
  return ChangeRun(write, lease, [&](RunTables& tables, const RunRow& run, int64_t now) {
    return tables.EndRun(run, RunStatus::kSucceeded, output_json, "", now);
  });
}

absl::StatusOr<RunInfo> FailRun(const WriteRuns& write, const RunLease& lease,
                                const std::string& error_json) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("error_json", error_json));
  return ChangeRun(write, lease, [&](RunTables& tables, const RunRow& run, int64_t now) {
    return tables.EndRun(run, RunStatus::kFailed, "", error_json, now);
  });
}

absl::StatusOr<RunInfo> ExtendRunLease(const WriteRuns& write, const RunLease& lease,
                                       absl::Duration timeout) {
  return ChangeRun(write, lease, [&](RunTables& tables, const RunRow&, int64_t now) {
    return tables.ExtendMessageLease(lease.lease.message_id, now + ToMicros(timeout));
  });
}

absl::StatusOr<RunInfo> PauseRun(const WriteRuns& write, const RunLease& lease,
                                 absl::Duration resume_after) {
  return ChangeRun(write, lease,
                   [&](RunTables& tables, const RunRow& run, int64_t now) -> absl::Status {
                     int64_t resume_at = now + ToMicros(resume_after);
                     PGQRS_RETURN_IF_ERROR(tables.MarkRunPaused(run.id, resume_at, now));
                     // Release the lease; the trigger becomes visible when the run is due.
                     return tables.ReleaseMessage(lease.lease.message_id, resume_at);
                   });
}

absl::StatusOr<RunInfo> CancelRun(const WriteRuns& write, int64_t run_id) {
  RunInfo result;
  PGQRS_RETURN_IF_ERROR(write([&](RunTables& tables, int64_t now) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(RunRow run, tables.FindRun(run_id));
    if (run.status == RunStatus::kSucceeded || run.status == RunStatus::kFailed) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run ", run_id, " already ", run.status == RunStatus::kSucceeded ? "succeeded" : "failed",
          " and cannot be cancelled"));
    }
    if (run.status != RunStatus::kCancelled) {
      // A run is only really running while a worker holds a live lease on its trigger.
      bool leased = false;
      if (run.message_id) {
        PGQRS_ASSIGN_OR_RETURN(leased, tables.MessageLeased(*run.message_id, now));
      }
      if (leased) {
        PGQRS_RETURN_IF_ERROR(tables.MarkRunCancelling(run_id, now));
      } else {
        PGQRS_RETURN_IF_ERROR(tables.EndRun(run, RunStatus::kCancelled, "", "", now));
      }
    }
    PGQRS_ASSIGN_OR_RETURN(result, tables.LoadRun(run_id));
    return absl::OkStatus();
  }));
  return result;
}

}  // namespace pgqrs::storage::embedded
