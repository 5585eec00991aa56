// EngineStore: the visibility reaper's work and system-wide counts.
#include "engine/base/status_macros.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"
#include "storage/rules_workers.h"

namespace pgqrs::storage::enginestore {

absl::StatusOr<ReapReport> EngineStore::ReapMessages(absl::Duration archive_retention,
                                                     int32_t batch) {
  ReapReport report;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    int64_t now = NowMicros();
    PGQRS_ASSIGN_OR_RETURN(ExpiredBatch expired, ExpireLeaseBatch(txn, now, batch));
    report.leases_expired = expired.expired;
    report.dead_lettered = expired.dead;
    PGQRS_ASSIGN_OR_RETURN(
        std::vector<int64_t> ids,
        RowidsBelow(txn, kMessagesArchived, now - ToMicros(archive_retention), batch));
    for (int64_t id : ids) PGQRS_RETURN_IF_ERROR(txn.Delete(kMessages, id).status());
    report.archived_deleted = static_cast<int64_t>(ids.size());
    report.more = expired.more || report.archived_deleted == batch;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return report;
}

absl::StatusOr<std::vector<std::string>> EngineStore::QueuesWithVisibleMessages(
    std::span<const std::string> queues) {
  std::vector<std::string> visible;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    int64_t now = NowMicros();
    for (const std::string& name : queues) {
      absl::StatusOr<QueueRow> q = FindQueue(txn, name);
      if (absl::IsNotFound(q.status())) continue;
      PGQRS_RETURN_IF_ERROR(q.status());
      PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> first, VisibleCandidates(txn, q->id, now, 1));
      if (!first.empty()) visible.push_back(name);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return visible;
}

absl::StatusOr<SystemCounts> EngineStore::GetSystemCounts() {
  SystemCounts counts;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(counts.queues, txn.Count(kQueues));
    PGQRS_ASSIGN_OR_RETURN(counts.workers, txn.Count(kWorkers));
    PGQRS_ASSIGN_OR_RETURN(
        auto stopped,
        RowidsWithPrefix(txn, kWorkersByHeartbeat,
                         {Value::Integer(static_cast<int64_t>(WorkerStatus::kStopped))}));
    counts.workers_live = counts.workers - static_cast<int64_t>(stopped.size());
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  PGQRS_ASSIGN_OR_RETURN(counts.messages, embedded::SumQueueCounts(*this));
  return counts;
}

std::optional<CommitStats> EngineStore::GetCommitStats() {
  const engine::WalStats& wal = db_->wal_stats();
  return CommitStats{wal.commits_per_sync.Snapshot(), wal.sync_seconds.Snapshot(),
                     write_conflicts_.load(std::memory_order_relaxed),
                     write_retried_calls_.load(std::memory_order_relaxed),
                     write_exclusive_attempts_.load(std::memory_order_relaxed)};
}

}  // namespace pgqrs::storage::enginestore
