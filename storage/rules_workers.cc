#include "storage/rules_workers.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/rules.h"

namespace pgqrs::storage::embedded {

absl::Status CheckWorkerMove(const WorkerInfo& worker, WorkerMove move) {
  if (WorkerMoveAllowed(worker.status, move)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("worker ", worker.id, " is ", WorkerStatusName(worker.status),
                   " and cannot become ", WorkerStatusName(WorkerMoveTarget(move))));
}

absl::Status CheckWorkerShutdown(const WorkerInfo& worker, bool release_messages) {
  if (worker.status == WorkerStatus::kStopped) {
    return absl::FailedPreconditionError(absl::StrCat("worker ", worker.id, " is already stopped"));
  }
  if (worker.leased_messages > 0 && !release_messages) {
    return absl::FailedPreconditionError(
        absl::StrCat("worker ", worker.id, " holds ", worker.leased_messages,
                     " leased messages; ack them or shut down with release_messages"));
  }
  return absl::OkStatus();
}

absl::StatusOr<QueueCounts> SumQueueCounts(Store& store) {
  constexpr int32_t kPage = 500;
  QueueCounts total;
  std::string after;
  while (true) {
    PGQRS_ASSIGN_OR_RETURN(std::vector<NamedQueueCounts> page, store.ListQueueCounts(after, kPage));
    for (const NamedQueueCounts& q : page) AddQueueCounts(q.counts, &total);
    if (page.size() < static_cast<size_t>(kPage)) return total;
    after = page.back().name;
  }
}

}  // namespace pgqrs::storage::embedded
