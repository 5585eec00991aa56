// Worker and system-count rules as the embedded stores (sqlite://, engine://) apply them:
// the checks before a worker moves or stops, and the message totals GetSystemCounts adds
// up. Each adapter keeps only the loading and writing.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/store.h"

namespace pgqrs::storage::embedded {

// MoveWorker's check on the worker as loaded: FAILED_PRECONDITION unless the state machine
// (storage/rules.h) allows `move` from its status.
absl::Status CheckWorkerMove(const WorkerInfo& worker, WorkerMove move);

// ShutdownWorker's check: FAILED_PRECONDITION when the worker is already stopped, or holds
// leases and `release_messages` is false.
absl::Status CheckWorkerShutdown(const WorkerInfo& worker, bool release_messages);

// The message counts of every queue of `store`, summed (GetSystemCounts' `messages`). Each
// queue's counts are their own consistent snapshot; a queue deleted meanwhile is skipped.
absl::StatusOr<QueueCounts> SumQueueCounts(Store& store);

}  // namespace pgqrs::storage::embedded
