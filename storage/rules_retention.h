// Retention as the embedded stores apply it (store.h DeleteOldHistory): which runs and
// workers go, in what order, and how a batch bounds the work. The adapter supplies only
// the data access (HistoryTables), inside the one write transaction of the call.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/types.h"

namespace pgqrs::storage::embedded {

// A column that may point at a worker; retention sets it to NULL before the worker goes.
enum class WorkerReference { kMessageProducer, kMessageConsumer, kRunWorker };

// The rows DeleteOldHistory reads and changes. Times are microseconds since the epoch.
class HistoryTables {
 public:
  virtual ~HistoryTables() = default;

  // Ids of up to `limit` runs completed before `cutoff`, oldest first.
  virtual absl::StatusOr<std::vector<int64_t>> RunsCompletedBefore(int64_t cutoff,
                                                                   int64_t limit) = 0;
  // Deletes the run and its steps.
  virtual absl::Status DeleteRun(int64_t run_id) = 0;
  // Ids of up to `limit` workers stopped before `cutoff`, oldest first.
  virtual absl::StatusOr<std::vector<int64_t>> WorkersStoppedBefore(int64_t cutoff,
                                                                    int64_t limit) = 0;
  // Sets `reference` to NULL in up to `limit` rows where it names the worker; returns how
  // many rows changed.
  virtual absl::StatusOr<int64_t> ClearReferences(WorkerReference reference, int64_t worker_id,
                                                  int64_t limit) = 0;
  virtual absl::Status DeleteWorker(int64_t worker_id) = 0;
};

// Deletes up to `batch` runs past `policy.runs` (with their steps) and up to `batch`
// workers past `policy.workers`, clearing at most `batch` references to those workers on
// the way: a worker whose references do not all fit waits for the next call.
absl::StatusOr<RetentionReport> DeleteOldHistory(HistoryTables& tables,
                                                 const RetentionPolicy& policy, int64_t now,
                                                 int32_t batch);

}  // namespace pgqrs::storage::embedded
