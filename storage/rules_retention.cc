#include "storage/rules_retention.h"

#include "engine/base/status_macros.h"
#include "storage/file_time.h"

namespace pgqrs::storage::embedded {
namespace {

// Deletes up to `limit` runs completed before `cutoff`; returns how many went.
absl::StatusOr<int64_t> DeleteOldRuns(HistoryTables& tables, int64_t cutoff, int64_t limit) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> runs, tables.RunsCompletedBefore(cutoff, limit));
  for (int64_t run_id : runs) PGQRS_RETURN_IF_ERROR(tables.DeleteRun(run_id));
  return static_cast<int64_t>(runs.size());
}

// Clears up to `budget` references to the worker (messages it produced or leased, runs it
// claimed). Returns how many were cleared.
absl::StatusOr<int64_t> ClearWorkerReferences(HistoryTables& tables, int64_t worker_id,
                                              int64_t budget) {
  constexpr WorkerReference kReferences[] = {WorkerReference::kMessageProducer,
                                             WorkerReference::kMessageConsumer,
                                             WorkerReference::kRunWorker};
  int64_t cleared = 0;
  for (WorkerReference reference : kReferences) {
    PGQRS_ASSIGN_OR_RETURN(int64_t n,
                           tables.ClearReferences(reference, worker_id, budget - cleared));
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
// references to them on the way.
absl::StatusOr<WorkersDeleted> DeleteOldWorkers(HistoryTables& tables, int64_t cutoff,
                                                int64_t limit) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> workers, tables.WorkersStoppedBefore(cutoff, limit));
  WorkersDeleted result;
  result.more = static_cast<int64_t>(workers.size()) == limit;
  int64_t budget = limit;
  for (int64_t worker_id : workers) {
    PGQRS_ASSIGN_OR_RETURN(int64_t cleared, ClearWorkerReferences(tables, worker_id, budget));
    budget -= cleared;
    if (budget == 0) {
      result.more = true;
      break;
    }
    PGQRS_RETURN_IF_ERROR(tables.DeleteWorker(worker_id));
    ++result.deleted;
  }
  return result;
}

}  // namespace

absl::StatusOr<RetentionReport> DeleteOldHistory(HistoryTables& tables,
                                                 const RetentionPolicy& policy, int64_t now,
                                                 int32_t batch) {
  RetentionReport report;
  PGQRS_ASSIGN_OR_RETURN(report.runs_deleted,
                         DeleteOldRuns(tables, now - ToMicros(policy.runs), batch));
  PGQRS_ASSIGN_OR_RETURN(WorkersDeleted workers,
                         DeleteOldWorkers(tables, now - ToMicros(policy.workers), batch));
  report.workers_deleted = workers.deleted;
  report.more = report.runs_deleted == batch || workers.more;
  return report;
}

}  // namespace pgqrs::storage::embedded
