// SqliteStore: the calls a run's lease holder makes (steps, ending or pausing the run), and
// the run tables CancelRun changes. The rules are storage/rules_runs.h; this file is their
// data access.
#include "engine/base/status_macros.h"
#include "storage/sqlite/sqlite_store_impl.h"

namespace pgqrs::storage::sqlite {
namespace {

class SqliteRunTables final : public embedded::RunTables {
 public:
  explicit SqliteRunTables(Connection& db) : db_(db) {}

  absl::StatusOr<RunRow> FindRun(int64_t run_id) override { return sqlite::FindRun(db_, run_id); }
  absl::StatusOr<RunInfo> LoadRun(int64_t run_id) override { return sqlite::LoadRun(db_, run_id); }
  absl::StatusOr<bool> LeaseLive(const Lease& lease, int64_t now) override {
    return sqlite::LeaseLive(db_, lease, now);
  }
  absl::StatusOr<bool> MessageLeased(int64_t message_id, int64_t now) override {
    PGQRS_ASSIGN_OR_RETURN(
        Statement * st, db_.Prepare("SELECT 1 FROM pgqrs_messages WHERE id = ? AND state = 0 AND "
                                    "lease_token IS NOT NULL AND vt > ?"));
    st->BindAll(message_id, now);
    PGQRS_ASSIGN_OR_RETURN(bool leased, st->Step());
    st->Reset();
    return leased;
  }
  absl::Status EndRun(const RunRow& run, RunStatus status, const std::string& output_json,
                      const std::string& error_json, int64_t now) override {
    return sqlite::EndRun(db_, run, status, output_json, error_json, now);
  }
  absl::Status MarkRunCancelling(int64_t run_id, int64_t now) override {
    return db_.Run("UPDATE pgqrs_workflow_runs SET status = 6, updated_at = ?1 WHERE id = ?2", now,
                   run_id);
  }
  absl::Status MarkRunPaused(int64_t run_id, int64_t resume_at, int64_t now) override {
    return db_.Run(
        "UPDATE pgqrs_workflow_runs SET status = 3, resume_at = ?, updated_at = ? "
        "WHERE id = ?",
        resume_at, now, run_id);
  }
  absl::Status ExtendMessageLease(int64_t message_id, int64_t visible_at) override {
    return db_.Run("UPDATE pgqrs_messages SET vt = ? WHERE id = ?", visible_at, message_id);
  }
  absl::Status ReleaseMessage(int64_t message_id, int64_t visible_at) override {
    return db_.Run(
        "UPDATE pgqrs_messages SET vt = ?, lease_token = NULL, "
        "consumer_worker_id = NULL WHERE id = ?",
        visible_at, message_id);
  }

  absl::StatusOr<RetryPolicy> LoadRetryPolicy(int64_t workflow_id) override {
    return sqlite::LoadRetryPolicy(db_, workflow_id);
  }
  absl::StatusOr<std::optional<StepRow>> LoadStep(int64_t run_id,
                                                  const std::string& name) override {
    return sqlite::LoadStep(db_, run_id, name);
  }
  absl::Status InsertStep(int64_t run_id, const std::string& name, int64_t lease_token,
                          int64_t now) override {
    PGQRS_ASSIGN_OR_RETURN(int64_t id, TakeIds(db_, kStepSequence, 1));
    return db_.Run(
        "INSERT INTO pgqrs_workflow_steps (id, run_id, step_name, status, attempts, "
        "exhausted, lease_token, started_at) VALUES (?, ?, ?, 1, 1, 0, ?, ?)",
        id, run_id, name, lease_token, now);
  }
  absl::Status RestartStep(int64_t step_id, int64_t lease_token, int64_t now) override {
    return db_.Run(
        "UPDATE pgqrs_workflow_steps SET status = 1, attempts = attempts + 1, "
        "retry_at = NULL, lease_token = ?, started_at = ?, completed_at = NULL "
        "WHERE id = ?",
        lease_token, now, step_id);
  }
  absl::Status MarkStepCompleted(int64_t step_id, const std::string& output_json,
                                 int64_t now) override {
    return db_.Run(
        "UPDATE pgqrs_workflow_steps SET status = 2, output = ?, error = NULL, "
        "completed_at = ? WHERE id = ?",
        output_json, now, step_id);
  }
  absl::Status MarkStepFailed(int64_t step_id, const std::string& error_json,
                              std::optional<int64_t> retry_at, bool exhausted) override {
    return db_.Run(
        "UPDATE pgqrs_workflow_steps SET status = 3, error = ?, retry_at = ?, "
        "exhausted = ? WHERE id = ?",
        error_json, retry_at, int64_t{exhausted}, step_id);
  }

 private:
  Connection& db_;
};

}  // namespace

embedded::WriteRuns SqliteStore::RunWriter() {
  return [this](const embedded::RunWork& work) {
    return Write([&](Connection& db) {
      SqliteRunTables tables(db);
      return work(tables, NowMicros());
    });
  };
}

absl::StatusOr<BeginStepResult> SqliteStore::BeginStep(const RunLease& lease,
                                                       const std::string& step_name) {
  return embedded::BeginStep(RunWriter(), lease, step_name);
}

absl::StatusOr<StepInfo> SqliteStore::CompleteStep(const RunLease& lease,
                                                   const std::string& step_name,
                                                   const std::string& output_json) {
  return embedded::CompleteStep(RunWriter(), lease, step_name, output_json);
}

absl::StatusOr<StepInfo> SqliteStore::FailStep(const RunLease& lease, const std::string& step_name,
                                               const StepFailure& failure) {
  return embedded::FailStep(RunWriter(), lease, step_name, failure);
}

absl::StatusOr<RunInfo> SqliteStore::CompleteRun(const RunLease& lease,
                                                 const std::string& output_json) {
  return embedded::CompleteRun(RunWriter(), lease, output_json);
}

absl::StatusOr<RunInfo> SqliteStore::FailRun(const RunLease& lease, const std::string& error_json) {
  return embedded::FailRun(RunWriter(), lease, error_json);
}

absl::StatusOr<RunInfo> SqliteStore::ExtendRunLease(const RunLease& lease, absl::Duration timeout) {
  return embedded::ExtendRunLease(RunWriter(), lease, timeout);
}

absl::StatusOr<RunInfo> SqliteStore::PauseRun(const RunLease& lease, absl::Duration resume_after) {
  return embedded::PauseRun(RunWriter(), lease, resume_after);
}

}  // namespace pgqrs::storage::sqlite
