// EngineStore: retention of finished runs and stopped workers (store.h DeleteOldHistory).
#include "engine/base/status_macros.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"

namespace pgqrs::storage::enginestore {
namespace {

// Deletes up to `limit` runs completed before `cutoff`, steps first (they reference the
// run). Returns how many runs went.
absl::StatusOr<int64_t> DeleteOldRuns(Transaction& txn, int64_t cutoff, int64_t limit) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> runs,
                         RowidsBelow(txn, kRunsCompleted, cutoff, limit));
  for (int64_t run_id : runs) {
    PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> steps,
                           RowidsWithPrefix(txn, kStepsByRun, {Value::Integer(run_id)}));
    for (int64_t step_id : steps) PGQRS_RETURN_IF_ERROR(txn.Delete(kSteps, step_id).status());
    PGQRS_RETURN_IF_ERROR(txn.Delete(kRuns, run_id).status());
  }
  return static_cast<int64_t>(runs.size());
}

// Sets column `column` of up to `budget` rows of `table` that index `index` lists under
// `worker_id` to NULL. Returns how many rows changed.
absl::StatusOr<int64_t> ClearReferences(Transaction& txn, const char* index, const char* table,
                                        int column, int64_t worker_id, int64_t budget) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                         RowidsWithPrefix(txn, index, {Value::Integer(worker_id)}, budget));
  for (int64_t id : ids) {
    PGQRS_RETURN_IF_ERROR(EditRow(txn, table, id, table, [&](Row& row) {
      row[column] = Value::Null();
      return absl::OkStatus();
    }));
  }
  return static_cast<int64_t>(ids.size());
}

// Clears up to `budget` references to the worker (messages it produced or leased, runs it
// claimed). Returns how many were cleared.
absl::StatusOr<int64_t> ClearWorkerReferences(Transaction& txn, int64_t worker_id, int64_t budget) {
  struct Reference {
    const char* index;
    const char* table;
    int column;
  };
  constexpr Reference kReferences[] = {
      {kMessagesProducer, kMessages, msg::kProducerWorkerId},
      {kMessagesConsumer, kMessages, msg::kConsumerWorkerId},
      {kRunsByWorker, kRuns, run::kWorkerId},
  };
  int64_t cleared = 0;
  for (const Reference& ref : kReferences) {
    PGQRS_ASSIGN_OR_RETURN(int64_t n, ClearReferences(txn, ref.index, ref.table, ref.column,
                                                      worker_id, budget - cleared));
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
absl::StatusOr<WorkersDeleted> DeleteOldWorkers(Transaction& txn, int64_t cutoff, int64_t limit) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> workers,
                         RowidsBelow(txn, kWorkersShutdown, cutoff, limit));
  WorkersDeleted result;
  result.more = static_cast<int64_t>(workers.size()) == limit;
  int64_t budget = limit;
  for (int64_t worker_id : workers) {
    PGQRS_ASSIGN_OR_RETURN(int64_t cleared, ClearWorkerReferences(txn, worker_id, budget));
    budget -= cleared;
    if (budget == 0) {
      result.more = true;
      break;
    }
    PGQRS_RETURN_IF_ERROR(txn.Delete(kWorkers, worker_id).status());
    ++result.deleted;
  }
  return result;
}

}  // namespace

absl::StatusOr<RetentionReport> EngineStore::DeleteOldHistory(const RetentionPolicy& policy,
                                                              int32_t batch) {
  RetentionReport report;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    int64_t now = NowMicros();
    PGQRS_ASSIGN_OR_RETURN(report.runs_deleted,
                           DeleteOldRuns(txn, now - ToMicros(policy.runs), batch));
    PGQRS_ASSIGN_OR_RETURN(WorkersDeleted workers,
                           DeleteOldWorkers(txn, now - ToMicros(policy.workers), batch));
    report.workers_deleted = workers.deleted;
    report.more = report.runs_deleted == batch || workers.more;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return report;
}

}  // namespace pgqrs::storage::enginestore
