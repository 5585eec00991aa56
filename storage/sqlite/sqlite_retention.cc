// SqliteStore: retention of finished runs and stopped workers (store.h DeleteOldHistory).
#include "engine/base/status_macros.h"
#include "storage/sqlite/sqlite_store_impl.h"

namespace pgqrs::storage::sqlite {
namespace {

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

// Runs `sql` with `args` bound in order; returns the rows it changed.
template <typename... Args>
absl::StatusOr<int64_t> Change(Connection& db, const char* sql, const Args&... args) {
  PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql));
  st->BindAll(args...);
  PGQRS_RETURN_IF_ERROR(st->Run());
  return db.Changes();
}

// Deletes up to `limit` runs completed before `cutoff`, steps first (they reference the
// run). Returns how many runs went.
absl::StatusOr<int64_t> DeleteOldRuns(Connection& db, int64_t cutoff, int64_t limit) {
  PGQRS_ASSIGN_OR_RETURN(
      std::vector<int64_t> runs,
      SelectIds(db,
                "SELECT id FROM pgqrs_workflow_runs WHERE completed_at IS NOT NULL "
                "AND completed_at < ?1 ORDER BY completed_at LIMIT ?2",
                cutoff, limit));
  for (int64_t run_id : runs) {
    PGQRS_RETURN_IF_ERROR(
        Change(db, "DELETE FROM pgqrs_workflow_steps WHERE run_id = ?", run_id).status());
    PGQRS_RETURN_IF_ERROR(
        Change(db, "DELETE FROM pgqrs_workflow_runs WHERE id = ?", run_id).status());
  }
  return static_cast<int64_t>(runs.size());
}

// Clears up to `budget` references to the worker (messages it produced or leased, runs it
// claimed). Returns how many were cleared.
absl::StatusOr<int64_t> ClearWorkerReferences(Connection& db, int64_t worker_id, int64_t budget) {
  constexpr const char* kClears[] = {
      "UPDATE pgqrs_messages SET producer_worker_id = NULL WHERE id IN (SELECT id FROM "
      "pgqrs_messages WHERE producer_worker_id = ?1 LIMIT ?2)",
      "UPDATE pgqrs_messages SET consumer_worker_id = NULL WHERE id IN (SELECT id FROM "
      "pgqrs_messages WHERE consumer_worker_id = ?1 LIMIT ?2)",
      "UPDATE pgqrs_workflow_runs SET worker_id = NULL WHERE id IN (SELECT id FROM "
      "pgqrs_workflow_runs WHERE worker_id = ?1 LIMIT ?2)",
  };
  int64_t cleared = 0;
  for (const char* sql : kClears) {
    PGQRS_ASSIGN_OR_RETURN(int64_t n, Change(db, sql, worker_id, budget - cleared));
    cleared += n;
    if (cleared == budget) break;
  }
  return cleared;
}

struct WorkersDeleted {
  int64_t deleted = 0;
  bool more = false;
};

// Deletes up to `limit` workers stopped before `cutoff`, clearing at most `limit`
// references to them on the way; a worker whose references do not all fit waits for the
// next batch.
absl::StatusOr<WorkersDeleted> DeleteOldWorkers(Connection& db, int64_t cutoff, int64_t limit) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> workers,
                         SelectIds(db,
                                   "SELECT id FROM pgqrs_workers WHERE shutdown_at IS NOT NULL "
                                   "AND shutdown_at < ?1 ORDER BY shutdown_at LIMIT ?2",
                                   cutoff, limit));
  WorkersDeleted result;
  result.more = static_cast<int64_t>(workers.size()) == limit;
  int64_t budget = limit;
  for (int64_t worker_id : workers) {
    PGQRS_ASSIGN_OR_RETURN(int64_t cleared, ClearWorkerReferences(db, worker_id, budget));
    budget -= cleared;
    if (budget == 0) {
      result.more = true;
      break;
    }
    PGQRS_RETURN_IF_ERROR(Change(db, "DELETE FROM pgqrs_workers WHERE id = ?", worker_id).status());
    ++result.deleted;
  }
  return result;
}

}  // namespace

absl::StatusOr<RetentionReport> SqliteStore::DeleteOldHistory(const RetentionPolicy& policy,
                                                              int32_t batch) {
  RetentionReport report;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    int64_t now = NowMicros();
    PGQRS_ASSIGN_OR_RETURN(report.runs_deleted,
                           DeleteOldRuns(db, now - ToMicros(policy.runs), batch));
    PGQRS_ASSIGN_OR_RETURN(WorkersDeleted workers,
                           DeleteOldWorkers(db, now - ToMicros(policy.workers), batch));
    report.workers_deleted = workers.deleted;
    report.more = report.runs_deleted == batch || workers.more;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return report;
}

}  // namespace pgqrs::storage::sqlite
