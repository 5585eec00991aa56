// SqliteStore: the reapers' work and system-wide counts.
#include "engine/base/status_macros.h"
#include "storage/rules_workers.h"
#include "storage/sqlite/sqlite_store_impl.h"

namespace pgqrs::storage::sqlite {

absl::StatusOr<ReapReport> SqliteStore::ReapMessages(absl::Duration archive_retention,
                                                     int32_t batch) {
  ReapReport report;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    int64_t now = NowMicros();
    PGQRS_ASSIGN_OR_RETURN(ExpiredBatch expired, ExpireLeaseBatch(db, now, batch));
    report.leases_expired = expired.expired;
    report.dead_lettered = expired.dead;
    PGQRS_ASSIGN_OR_RETURN(
        Statement * st,
        db.Prepare("DELETE FROM pgqrs_messages WHERE id IN (SELECT id FROM pgqrs_messages "
                   "WHERE archived_at IS NOT NULL AND archived_at < ? LIMIT ?)"));
    st->BindAll(now - ToMicros(archive_retention), int64_t{batch});
    PGQRS_RETURN_IF_ERROR(st->Run());
    report.archived_deleted = db.Changes();
    report.more = expired.more || report.archived_deleted == batch;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return report;
}

absl::StatusOr<std::vector<std::string>> SqliteStore::QueuesWithVisibleMessages(
    std::span<const std::string> queues) {
  std::vector<std::string> visible;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(
        Statement * st,
        db.Prepare("SELECT 1 FROM pgqrs_messages WHERE queue_id = (SELECT id FROM pgqrs_queues "
                   "WHERE queue_name = ?) AND state = 0 AND vt <= ? LIMIT 1"));
    int64_t now = NowMicros();
    for (const std::string& name : queues) {
      st->Reset();
      st->BindAll(name, now);
      PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) visible.push_back(name);
    }
    st->Reset();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return visible;
}

absl::StatusOr<SystemCounts> SqliteStore::GetSystemCounts() {
  SystemCounts counts;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(Statement * st,
                           db.Prepare("SELECT (SELECT COUNT(*) FROM pgqrs_queues), "
                                      "(SELECT COUNT(*) FROM pgqrs_workers), "
                                      "(SELECT COUNT(*) FROM pgqrs_workers WHERE status != 4)"));
    PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return absl::InternalError("system counts returned no row");
    counts.queues = st->Int(0);
    counts.workers = st->Int(1);
    counts.workers_live = st->Int(2);
    st->Reset();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  PGQRS_ASSIGN_OR_RETURN(counts.messages, embedded::SumQueueCounts(*this));
  return counts;
}

std::optional<CommitStats> SqliteStore::GetCommitStats() {
  return CommitStats{committer_.batch_sizes().Snapshot(), committer_.commit_seconds().Snapshot()};
}

}  // namespace pgqrs::storage::sqlite
