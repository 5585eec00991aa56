// EngineStore: the calls a run's lease holder makes (steps, ending or pausing the run), and
// the run tables CancelRun changes. The rules are storage/rules_runs.h; this file is their
// data access.
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"

namespace pgqrs::storage::enginestore {
namespace {

class EngineRunTables final : public embedded::RunTables {
 public:
  // `new_step_id`: the id InsertStep gives a new step, taken before the transaction (ids come
  // from IdBlocks, outside any transaction); 0 when the call inserts no step.
  EngineRunTables(Transaction& txn, int64_t new_step_id) : txn_(txn), new_step_id_(new_step_id) {}

  absl::StatusOr<RunRow> FindRun(int64_t run_id) override {
    return enginestore::FindRun(txn_, run_id);
  }
  absl::StatusOr<RunInfo> LoadRun(int64_t run_id) override {
    return enginestore::LoadRun(txn_, run_id);
  }
  absl::StatusOr<bool> LeaseLive(const Lease& lease, int64_t now) override {
    return enginestore::LeaseLive(txn_, lease, now);
  }
  absl::StatusOr<bool> MessageLeased(int64_t message_id, int64_t now) override {
    PGQRS_ASSIGN_OR_RETURN(std::optional<Row> m, txn_.Get(kMessages, message_id));
    return m && Int(*m, msg::kState) == kLive && !(*m)[msg::kLeaseToken].is_null() &&
           Int(*m, msg::kVt) > now;
  }
  absl::Status EndRun(const RunRow& run, RunStatus status, const std::string& output_json,
                      const std::string& error_json, int64_t now) override {
    return enginestore::EndRun(txn_, run, status, output_json, error_json, now);
  }
  absl::Status MarkRunCancelling(int64_t run_id, int64_t now) override {
    return EditRun(run_id, [&](Row& row) {
      row[run::kStatus] = Value::Integer(static_cast<int64_t>(RunStatus::kCancelling));
      row[run::kUpdatedAt] = Value::Integer(now);
    });
  }
  absl::Status MarkRunPaused(int64_t run_id, int64_t resume_at, int64_t now) override {
    return EditRun(run_id, [&](Row& row) {
      row[run::kStatus] = Value::Integer(static_cast<int64_t>(RunStatus::kPaused));
      row[run::kResumeAt] = Value::Integer(resume_at);
      row[run::kUpdatedAt] = Value::Integer(now);
    });
  }
  absl::Status ExtendMessageLease(int64_t message_id, int64_t visible_at) override {
    return EditMessage(message_id, [&](Row& m) { m[msg::kVt] = Value::Integer(visible_at); });
  }
  absl::Status ReleaseMessage(int64_t message_id, int64_t visible_at) override {
    return EditMessage(message_id, [&](Row& m) {
      ClearLease(m);
      m[msg::kVt] = Value::Integer(visible_at);
    });
  }

  absl::StatusOr<RetryPolicy> LoadRetryPolicy(int64_t workflow_id) override {
    return enginestore::LoadRetryPolicy(txn_, workflow_id);
  }
  absl::StatusOr<std::optional<StepRow>> LoadStep(int64_t run_id,
                                                  const std::string& name) override {
    return enginestore::LoadStep(txn_, run_id, name);
  }
  absl::Status InsertStep(int64_t run_id, const std::string& name, int64_t lease_token,
                          int64_t now) override {
    if (new_step_id_ == 0) return absl::InternalError("no step id was taken for this call");
    Row row(step::kCount);
    row[step::kId] = Value::Integer(new_step_id_);
    row[step::kRunId] = Value::Integer(run_id);
    row[step::kStepName] = Value::Text(name);
    row[step::kStatus] = Value::Integer(static_cast<int64_t>(StepStatus::kStarted));
    row[step::kAttempts] = Value::Integer(1);
    row[step::kExhausted] = Value::Integer(0);
    row[step::kLeaseToken] = Value::Integer(lease_token);
    row[step::kStartedAt] = Value::Integer(now);
    return txn_.Insert(kSteps, std::move(row)).status();
  }
  absl::Status RestartStep(int64_t step_id, int64_t lease_token, int64_t now) override {
    return EditStep(step_id, [&](Row& row) {
      row[step::kStatus] = Value::Integer(static_cast<int64_t>(StepStatus::kStarted));
      row[step::kAttempts] = Value::Integer(Int(row, step::kAttempts) + 1);
      row[step::kRetryAt] = Value::Null();
      row[step::kLeaseToken] = Value::Integer(lease_token);
      row[step::kStartedAt] = Value::Integer(now);
      row[step::kCompletedAt] = Value::Null();
    });
  }
  absl::Status MarkStepCompleted(int64_t step_id, const std::string& output_json,
                                 int64_t now) override {
    return EditStep(step_id, [&](Row& row) {
      row[step::kStatus] = Value::Integer(static_cast<int64_t>(StepStatus::kCompleted));
      row[step::kOutput] = Value::Text(output_json);
      row[step::kError] = Value::Null();
      row[step::kCompletedAt] = Value::Integer(now);
    });
  }
  absl::Status MarkStepFailed(int64_t step_id, const std::string& error_json,
                              std::optional<int64_t> retry_at, bool exhausted) override {
    return EditStep(step_id, [&](Row& row) {
      row[step::kStatus] = Value::Integer(static_cast<int64_t>(StepStatus::kFailed));
      row[step::kError] = Value::Text(error_json);
      row[step::kRetryAt] = IntOrNull(retry_at);
      row[step::kExhausted] = Value::Integer(exhausted ? 1 : 0);
    });
  }

 private:
  // Applies `edit` to row `rowid` of `table`; NOT_FOUND names `what`.
  template <typename F>
  absl::Status Edit(const char* table, int64_t rowid, const char* what, F edit) {
    return EditRow(txn_, table, rowid, what, [&](Row& row) {
      edit(row);
      return absl::OkStatus();
    });
  }
  template <typename F>
  absl::Status EditRun(int64_t run_id, F edit) {
    return Edit(kRuns, run_id, "run", edit);
  }
  template <typename F>
  absl::Status EditStep(int64_t step_id, F edit) {
    return Edit(kSteps, step_id, "step", edit);
  }
  template <typename F>
  absl::Status EditMessage(int64_t message_id, F edit) {
    return Edit(kMessages, message_id, "message", edit);
  }

  Transaction& txn_;
  const int64_t new_step_id_;
};

}  // namespace

embedded::WriteRuns EngineStore::RunWriter(int64_t new_step_id) {
  return [this, new_step_id](const embedded::RunWork& work) {
    return Write([&](Transaction& txn) {
      EngineRunTables tables(txn, new_step_id);
      return work(tables, NowMicros());
    });
  };
}

absl::StatusOr<BeginStepResult> EngineStore::BeginStep(const RunLease& lease,
                                                       const std::string& step_name) {
  PGQRS_RETURN_IF_ERROR(CheckStepName(step_name));  // before an id is taken for it
  // Taken whether or not the step is new: an unused id is a gap, like a rolled-back insert.
  PGQRS_ASSIGN_OR_RETURN(const int64_t new_step_id, ids_.Take(kStepSequence, 1));
  return embedded::BeginStep(RunWriter(new_step_id), lease, step_name);
}

absl::StatusOr<StepInfo> EngineStore::CompleteStep(const RunLease& lease,
                                                   const std::string& step_name,
                                                   const std::string& output_json) {
  return embedded::CompleteStep(RunWriter(), lease, step_name, output_json);
}

absl::StatusOr<StepInfo> EngineStore::FailStep(const RunLease& lease, const std::string& step_name,
                                               const StepFailure& failure) {
  return embedded::FailStep(RunWriter(), lease, step_name, failure);
}

absl::StatusOr<RunInfo> EngineStore::CompleteRun(const RunLease& lease,
                                                 const std::string& output_json) {
  return embedded::CompleteRun(RunWriter(), lease, output_json);
}

absl::StatusOr<RunInfo> EngineStore::FailRun(const RunLease& lease, const std::string& error_json) {
  return embedded::FailRun(RunWriter(), lease, error_json);
}

absl::StatusOr<RunInfo> EngineStore::ExtendRunLease(const RunLease& lease, absl::Duration timeout) {
  return embedded::ExtendRunLease(RunWriter(), lease, timeout);
}

absl::StatusOr<RunInfo> EngineStore::PauseRun(const RunLease& lease, absl::Duration resume_after) {
  return embedded::PauseRun(RunWriter(), lease, resume_after);
}

}  // namespace pgqrs::storage::enginestore
