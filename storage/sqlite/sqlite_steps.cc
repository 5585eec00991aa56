// SqliteStore: the calls a run's lease holder makes: step boundaries, and ending or
// pausing the run. Each checks the lease first; see store.h "Workflows".
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/rules.h"
#include "storage/sqlite/sqlite_store_impl.h"

namespace pgqrs::storage::sqlite {
namespace {

// The step this lease may finish: begun, STARTED and owned by the lease. A completed
// step is returned as it is (a repeated call).
absl::StatusOr<StepRow> OwnedStep(Connection& db, const RunLease& lease, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, LoadStep(db, lease.run_id, name));
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

absl::Status InsertStep(Connection& db, const RunLease& lease, const std::string& name,
                        int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(int64_t id, TakeIds(db, kStepSequence, 1));
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("INSERT INTO pgqrs_workflow_steps (id, run_id, step_name, status, attempts, "
                 "exhausted, lease_token, started_at) VALUES (?, ?, ?, 1, 1, 0, ?, ?)"));
  st->BindAll(id, lease.run_id, name, lease.lease.token, now);
  return st->Run();
}

// Starts an existing step again under this lease: another attempt.
absl::Status RestartStep(Connection& db, int64_t step_id, const Lease& lease, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("UPDATE pgqrs_workflow_steps SET status = 1, attempts = attempts + 1, "
                 "retry_at = NULL, lease_token = ?, started_at = ?, completed_at = NULL "
                 "WHERE id = ?"));
  st->BindAll(lease.token, now, step_id);
  return st->Run();
}

absl::StatusOr<StepInfo> ReloadStep(Connection& db, int64_t run_id, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, LoadStep(db, run_id, name));
  if (!step) return absl::InternalError(absl::StrCat("step \"", name, "\" vanished"));
  return step->info;
}

}  // namespace

absl::Status SqliteStore::UnderLease(const RunLease& lease, const RunChange& change,
                                     bool* cancelled) {
  return Write([&](Connection& db) -> absl::Status {
    *cancelled = false;
    PGQRS_ASSIGN_OR_RETURN(RunRow run, FindRun(db, lease.run_id));
    if (run.status == RunStatus::kCancelled) {
      *cancelled = true;  // nothing to write; the caller learns it must stop
      return absl::OkStatus();
    }
    int64_t now = NowMicros();
    bool live = false;
    if (run.message_id && *run.message_id == lease.lease.message_id) {
      PGQRS_ASSIGN_OR_RETURN(live, LeaseLive(db, lease.lease, now));
    }
    if (!live) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run ", lease.run_id, ": lease lost (expired, released or claimed by another worker)"));
    }
    if (run.status == RunStatus::kCancelling) {
      *cancelled = true;
      return EndRun(db, run, RunStatus::kCancelled, "", "", now);
    }
    if (run.status != RunStatus::kRunning) {
      return absl::FailedPreconditionError(
          absl::StrCat("run ", lease.run_id, " is ", RunStatusName(run.status)));
    }
    return change(db, run, now);
  });
}

absl::Status SqliteStore::UnderLeaseUnlessCancelled(const RunLease& lease,
                                                    const RunChange& change) {
  bool cancelled = false;
  PGQRS_RETURN_IF_ERROR(UnderLease(lease, change, &cancelled));
  return cancelled ? RunCancelledError(lease.run_id) : absl::OkStatus();
}

absl::StatusOr<BeginStepResult> SqliteStore::BeginStep(const RunLease& lease,
                                                       const std::string& step_name) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  BeginStepResult result;
  bool cancelled = false;
  absl::Status status = UnderLease(
      lease,
      [&](Connection& db, const RunRow&, int64_t now) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(std::optional<StepRow> step, LoadStep(db, lease.run_id, step_name));
        if (!step) {
          PGQRS_RETURN_IF_ERROR(InsertStep(db, lease, step_name, now));
          result.outcome = StepOutcome::kStarted;
        } else if (step->info.status == StepStatus::kCompleted) {
          result.outcome = StepOutcome::kCompleted;
        } else if (step->info.status == StepStatus::kStarted) {
          // Started under an ended lease: its owner is gone (this lease is the only live
          // one), so the step is this lease's now. Under this lease: a repeated call.
          if (step->owner != lease.lease.token) {
            PGQRS_RETURN_IF_ERROR(RestartStep(db, step->id, lease.lease, now));
          }
          result.outcome = StepOutcome::kStarted;
        } else if (step->info.exhausted) {
          result.outcome = StepOutcome::kExhausted;
        } else if (step->info.retry_at && absl::ToUnixMicros(*step->info.retry_at) > now) {
          result.outcome = StepOutcome::kNotReady;
        } else {
          PGQRS_RETURN_IF_ERROR(RestartStep(db, step->id, lease.lease, now));
          result.outcome = StepOutcome::kStarted;
        }
        PGQRS_ASSIGN_OR_RETURN(result.step, ReloadStep(db, lease.run_id, step_name));
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

absl::StatusOr<StepInfo> SqliteStore::CompleteStep(const RunLease& lease,
                                                   const std::string& step_name,
                                                   const std::string& output_json) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("output_json", output_json));
  StepInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Connection& db, const RunRow&, int64_t now) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(StepRow step, OwnedStep(db, lease, step_name));
        if (step.info.status == StepStatus::kStarted) {
          PGQRS_ASSIGN_OR_RETURN(
              Statement * st,
              db.Prepare("UPDATE pgqrs_workflow_steps SET status = 2, output = ?, error = NULL, "
                         "completed_at = ? WHERE id = ?"));
          st->BindAll(output_json, now, step.id);
          PGQRS_RETURN_IF_ERROR(st->Run());
        }
        PGQRS_ASSIGN_OR_RETURN(result, ReloadStep(db, lease.run_id, step_name));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<StepInfo> SqliteStore::FailStep(const RunLease& lease, const std::string& step_name,
                                               const StepFailure& failure) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("error_json", failure.error_json));
  StepInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Connection& db, const RunRow& run, int64_t now) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(StepRow step, OwnedStep(db, lease, step_name));
        if (step.info.status == StepStatus::kCompleted) {
          return absl::FailedPreconditionError(
              absl::StrCat("step \"", step_name, "\" of run ", lease.run_id, " already completed"));
        }
        PGQRS_ASSIGN_OR_RETURN(RetryPolicy policy, LoadRetryPolicy(db, run.workflow_id));
        bool exhausted = !failure.transient || step.info.attempts >= policy.max_attempts;
        std::optional<int64_t> retry_at;
        if (!exhausted) {
          absl::Duration wait =
              failure.retry_after.value_or(RetryBackoff(policy, step.info.attempts));
          retry_at = now + ToMicros(wait);
        }
        PGQRS_ASSIGN_OR_RETURN(
            Statement * st,
            db.Prepare("UPDATE pgqrs_workflow_steps SET status = 3, error = ?, retry_at = ?, "
                       "exhausted = ? WHERE id = ?"));
        st->BindAll(failure.error_json, retry_at, int64_t{exhausted}, step.id);
        PGQRS_RETURN_IF_ERROR(st->Run());
        PGQRS_ASSIGN_OR_RETURN(result, ReloadStep(db, lease.run_id, step_name));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<RunInfo> SqliteStore::CompleteRun(const RunLease& lease,
                                                 const std::string& output_json) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("output_json", output_json));
  RunInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Connection& db, const RunRow& run, int64_t now) -> absl::Status {
        PGQRS_RETURN_IF_ERROR(EndRun(db, run, RunStatus::kSucceeded, output_json, "", now));
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(db, run.id));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<RunInfo> SqliteStore::FailRun(const RunLease& lease, const std::string& error_json) {
  PGQRS_RETURN_IF_ERROR(CheckJsonDocument("error_json", error_json));
  RunInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Connection& db, const RunRow& run, int64_t now) -> absl::Status {
        PGQRS_RETURN_IF_ERROR(EndRun(db, run, RunStatus::kFailed, "", error_json, now));
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(db, run.id));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<RunInfo> SqliteStore::ExtendRunLease(const RunLease& lease, absl::Duration timeout) {
  RunInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Connection& db, const RunRow& run, int64_t now) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(Statement * st,
                               db.Prepare("UPDATE pgqrs_messages SET vt = ? WHERE id = ?"));
        st->BindAll(now + ToMicros(timeout), lease.lease.message_id);
        PGQRS_RETURN_IF_ERROR(st->Run());
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(db, run.id));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<RunInfo> SqliteStore::PauseRun(const RunLease& lease, absl::Duration resume_after) {
  RunInfo result;
  absl::Status status = UnderLeaseUnlessCancelled(
      lease, [&](Connection& db, const RunRow& run, int64_t now) -> absl::Status {
        int64_t resume_at = now + ToMicros(resume_after);
        PGQRS_ASSIGN_OR_RETURN(
            Statement * st,
            db.Prepare("UPDATE pgqrs_workflow_runs SET status = 3, resume_at = ?, updated_at = ? "
                       "WHERE id = ?"));
        st->BindAll(resume_at, now, run.id);
        PGQRS_RETURN_IF_ERROR(st->Run());
        // Release the lease; the trigger becomes visible when the run is due.
        PGQRS_ASSIGN_OR_RETURN(Statement * release,
                               db.Prepare("UPDATE pgqrs_messages SET vt = ?, lease_token = NULL, "
                                          "consumer_worker_id = NULL WHERE id = ?"));
        release->BindAll(resume_at, lease.lease.message_id);
        PGQRS_RETURN_IF_ERROR(release->Run());
        PGQRS_ASSIGN_OR_RETURN(result, LoadRun(db, run.id));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

}  // namespace pgqrs::storage::sqlite
