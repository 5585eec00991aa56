#include "server/reapers.h"

#include <spdlog/spdlog.h>

namespace pgqrs::server {

void WakeReleased(WaiterRegistry& waiters, const storage::ReclaimReport& report) {
  for (const std::string& queue : report.queues_with_released) waiters.NotifyAll(queue);
}

Reapers::Reapers(storage::Store& store, WaiterRegistry& waiters, const Config& config,
                 Metrics& metrics)
    : store_(store), waiters_(waiters), config_(config), metrics_(metrics), thread_([this] {
        Loop();
      }) {}

Reapers::~Reapers() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void Reapers::Loop() {
  absl::Time next_heartbeat = absl::Now() + config_.heartbeat_reaper_interval;
  absl::Time next_visibility = absl::Now() + config_.visibility_reaper_interval;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(&stopping_), std::min(next_heartbeat, next_visibility));
      if (stopping_) return;
    }
    absl::Time now = absl::Now();
    if (now >= next_heartbeat) {
      ReapHeartbeats();
      DeleteOldHistory();
      next_heartbeat = now + config_.heartbeat_reaper_interval;
    }
    if (now >= next_visibility) {
      ReapVisibility();
      next_visibility = now + config_.visibility_reaper_interval;
    }
  }
}

void Reapers::ReapHeartbeats() {
  absl::Time start = absl::Now();
  absl::StatusOr<storage::ReclaimReport> report = store_.ReclaimWorkers("", config_.worker_timeout);
  metrics_.ReaperPass("heartbeat", absl::Now() - start, report.status());
  if (!report.ok()) {
    spdlog::warn("heartbeat reaper: {}", report.status().ToString());
    return;
  }
  metrics_.WorkersReclaimed(report->workers_stopped);
  if (report->workers_stopped > 0) {
    spdlog::info("heartbeat reaper: stopped {} silent workers, released {} messages",
                 report->workers_stopped, report->messages_released);
  }
  WakeReleased(waiters_, *report);
}

void Reapers::DeleteOldHistory() {
  absl::Time start = absl::Now();
  storage::RetentionReport total;
  absl::Status status;
  // Batch after batch, like the visibility reaper; the next pass carries on.
  do {
    absl::StatusOr<storage::RetentionReport> batch =
        store_.DeleteOldHistory(config_.retention, kReapBatch);
    status = batch.status();
    if (!status.ok()) break;
    total.runs_deleted += batch->runs_deleted;
    total.workers_deleted += batch->workers_deleted;
    total.more = batch->more;
  } while (total.more && absl::Now() - start < config_.visibility_reaper_interval);
  metrics_.ReaperPass("retention", absl::Now() - start, status);
  if (!status.ok()) {
    spdlog::warn("retention: {}", status.ToString());
    return;
  }
  if (total.runs_deleted > 0 || total.workers_deleted > 0) {
    spdlog::debug("retention: deleted {} finished runs and {} stopped workers", total.runs_deleted,
                  total.workers_deleted);
  }
}

absl::StatusOr<storage::ReapReport> Reapers::ReapInBatches(absl::Time start) {
  // Each batch is its own transaction, so other calls get the writer in between; a
  // backlog larger than one pass's budget is finished by the next passes.
  storage::ReapReport total;
  do {
    absl::StatusOr<storage::ReapReport> batch =
        store_.ReapMessages(config_.archive_retention, kReapBatch);
    if (!batch.ok()) return batch.status();
    metrics_.LeasesReaped(batch->leases_expired, batch->dead_lettered);
    total.leases_expired += batch->leases_expired;
    total.dead_lettered += batch->dead_lettered;
    total.archived_deleted += batch->archived_deleted;
    total.more = batch->more;
  } while (total.more && absl::Now() - start < config_.visibility_reaper_interval);
  return total;
}

void Reapers::ReapVisibility() {
  absl::Time start = absl::Now();
  absl::StatusOr<storage::ReapReport> report = ReapInBatches(start);
  metrics_.ReaperPass("visibility", absl::Now() - start, report.status());
  if (!report.ok()) {
    spdlog::warn("visibility reaper: {}", report.status().ToString());
    return;
  }
  if (report->leases_expired > 0 || report->archived_deleted > 0) {
    spdlog::debug("visibility reaper: {} leases expired ({} dead-lettered), {} archived deleted",
                  report->leases_expired, report->dead_lettered, report->archived_deleted);
  }
  std::vector<std::string> waiting = waiters_.KeysWithWaiters();
  if (waiting.empty()) return;
  absl::StatusOr<std::vector<std::string>> visible = store_.QueuesWithVisibleMessages(waiting);
  if (!visible.ok()) {
    spdlog::warn("visibility reaper: {}", visible.status().ToString());
    return;
  }
  for (const std::string& queue : *visible) waiters_.NotifyAll(queue);
}

}  // namespace pgqrs::server
