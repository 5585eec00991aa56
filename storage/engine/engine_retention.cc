// EngineStore: retention of finished runs and stopped workers (store.h DeleteOldHistory).
// The rules are storage/rules_retention.h; this file is their data access.
#include "engine/base/status_macros.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"
#include "storage/rules_retention.h"

namespace pgqrs::storage::enginestore {
namespace {

using embedded::HistoryTables;
using embedded::WorkerReference;

class EngineHistoryTables final : public HistoryTables {
 public:
  explicit EngineHistoryTables(Transaction& txn) : txn_(txn) {}

  absl::StatusOr<std::vector<int64_t>> RunsCompletedBefore(int64_t cutoff, int64_t limit) override {
    return RowidsBelow(txn_, kRunsCompleted, cutoff, limit);
  }

  absl::Status DeleteRun(int64_t run_id) override {
    // Steps first: they reference the run.
    PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> steps,
                           RowidsWithPrefix(txn_, kStepsByRun, {Value::Integer(run_id)}));
    for (int64_t step_id : steps) PGQRS_RETURN_IF_ERROR(txn_.Delete(kSteps, step_id).status());
    return txn_.Delete(kRuns, run_id).status();
  }

  absl::StatusOr<std::vector<int64_t>> WorkersStoppedBefore(int64_t cutoff,
                                                            int64_t limit) override {
    return RowidsBelow(txn_, kWorkersShutdown, cutoff, limit);
  }

  absl::StatusOr<int64_t> ClearReferences(WorkerReference reference, int64_t worker_id,
                                          int64_t limit) override {
    Column column = ColumnOf(reference);
    PGQRS_ASSIGN_OR_RETURN(
        std::vector<int64_t> ids,
        RowidsWithPrefix(txn_, column.index, {Value::Integer(worker_id)}, limit));
    for (int64_t id : ids) {
      PGQRS_RETURN_IF_ERROR(EditRow(txn_, column.table, id, column.table, [&](Row& row) {
        row[column.column] = Value::Null();
        return absl::OkStatus();
      }));
    }
    return static_cast<int64_t>(ids.size());
  }

  absl::Status DeleteWorker(int64_t worker_id) override {
    return txn_.Delete(kWorkers, worker_id).status();
  }

 private:
  // A worker reference: the column, its table, and the index that lists it by worker.
  struct Column {
    const char* index;
    const char* table;
    int column;
  };
  static Column ColumnOf(WorkerReference reference) {
    switch (reference) {
      case WorkerReference::kMessageProducer:
        return {kMessagesProducer, kMessages, msg::kProducerWorkerId};
      case WorkerReference::kMessageConsumer:
        return {kMessagesConsumer, kMessages, msg::kConsumerWorkerId};
      case WorkerReference::kRunWorker:
        break;
    }
    return {kRunsByWorker, kRuns, run::kWorkerId};
  }

  Transaction& txn_;
};

}  // namespace

absl::StatusOr<RetentionReport> EngineStore::DeleteOldHistory(const RetentionPolicy& policy,
                                                              int32_t batch) {
  RetentionReport report;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    EngineHistoryTables tables(txn);
    PGQRS_ASSIGN_OR_RETURN(report, embedded::DeleteOldHistory(tables, policy, NowMicros(), batch));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return report;
}

}  // namespace pgqrs::storage::enginestore
