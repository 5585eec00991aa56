// SqliteStore: retention of finished runs and stopped workers (store.h DeleteOldHistory).
// The rules are storage/rules_retention.h; this file is their data access.
#include "engine/base/status_macros.h"
#include "storage/rules_retention.h"
#include "storage/sqlite/sqlite_store_impl.h"

namespace pgqrs::storage::sqlite {
namespace {

using embedded::HistoryTables;
using embedded::WorkerReference;

// The ids `sql` selects with `args` bound in order.
template <typename... Args>
absl::StatusOr<std::vector<int64_t>> SelectIds(Connection& db, const char* sql,
                                               const Args&... args) {
  PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql));
  st->BindAll(args...);
  std::vector<int64_t> ids;
  while (true) {
    PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return ids;
    ids.push_back(st->Int(0));
  }
}

class SqliteHistoryTables final : public HistoryTables {
 public:
  explicit SqliteHistoryTables(Connection& db) : db_(db) {}

  absl::StatusOr<std::vector<int64_t>> RunsCompletedBefore(int64_t cutoff, int64_t limit) override {
    return SelectIds(db_,
                     "SELECT id FROM pgqrs_workflow_runs WHERE completed_at IS NOT NULL "
                     "AND completed_at < ?1 ORDER BY completed_at LIMIT ?2",
                     cutoff, limit);
  }

  absl::Status DeleteRun(int64_t run_id) override {
    // Steps first: they reference the run.
    PGQRS_RETURN_IF_ERROR(db_.Run("DELETE FROM pgqrs_workflow_steps WHERE run_id = ?", run_id));
    return db_.Run("DELETE FROM pgqrs_workflow_runs WHERE id = ?", run_id);
  }

  absl::StatusOr<std::vector<int64_t>> WorkersStoppedBefore(int64_t cutoff,
                                                            int64_t limit) override {
    return SelectIds(db_,
                     "SELECT id FROM pgqrs_workers WHERE shutdown_at IS NOT NULL "
                     "AND shutdown_at < ?1 ORDER BY shutdown_at LIMIT ?2",
                     cutoff, limit);
  }

  absl::StatusOr<int64_t> ClearReferences(WorkerReference reference, int64_t worker_id,
                                          int64_t limit) override {
    PGQRS_RETURN_IF_ERROR(db_.Run(ClearSql(reference), worker_id, limit));
    return db_.Changes();
  }

  absl::Status DeleteWorker(int64_t worker_id) override {
    return db_.Run("DELETE FROM pgqrs_workers WHERE id = ?", worker_id);
  }

 private:
  static const char* ClearSql(WorkerReference reference) {
    switch (reference) {
      case WorkerReference::kMessageProducer:
        return "UPDATE pgqrs_messages SET producer_worker_id = NULL WHERE id IN (SELECT id FROM "
               "pgqrs_messages WHERE producer_worker_id = ?1 LIMIT ?2)";
      case WorkerReference::kMessageConsumer:
        return "UPDATE pgqrs_messages SET consumer_worker_id = NULL WHERE id IN (SELECT id FROM "
               "pgqrs_messages WHERE consumer_worker_id = ?1 LIMIT ?2)";
      case WorkerReference::kRunWorker:
        break;
    }
    return "UPDATE pgqrs_workflow_runs SET worker_id = NULL WHERE id IN (SELECT id FROM "
           "pgqrs_workflow_runs WHERE worker_id = ?1 LIMIT ?2)";
  }

  Connection& db_;
};

}  // namespace

absl::StatusOr<RetentionReport> SqliteStore::DeleteOldHistory(const RetentionPolicy& policy,
                                                              int32_t batch) {
  RetentionReport report;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    SqliteHistoryTables tables(db);
    PGQRS_ASSIGN_OR_RETURN(report, embedded::DeleteOldHistory(tables, policy, NowMicros(), batch));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return report;
}

}  // namespace pgqrs::storage::sqlite
