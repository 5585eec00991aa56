// Rules every Store adapter applies the same way: the worker state machine, run
// status names, the checks and answers of the step calls, the retry backoff of
// workflow steps, and how queue counts add up. Keeping them here keeps the
// adapters' behaviour identical; the adapters keep only their storage. The
// rules only the embedded stores share are in storage/rules_*.h.
//
// Thread safety: pure functions (RetryBackoff draws from a thread-local
// generator).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/store.h"
#include "storage/types.h"

namespace pgqrs::storage {

// "ready", "polling", "suspended", "interrupted" or "stopped".
const char* WorkerStatusName(WorkerStatus status);

// Whether `move` is allowed from `from` (the state machine in types.h), and
// where it leads.
bool WorkerMoveAllowed(WorkerStatus from, WorkerMove move);
WorkerStatus WorkerMoveTarget(WorkerMove move);

// "queued", "running", "paused", "succeeded", "failed", "cancelling" or
// "cancelled".
const char* RunStatusName(RunStatus status);

// The CANCELLED status step and run calls return once a run is cancelled.
absl::Status RunCancelledError(int64_t run_id);

// The checks before a lease holder completes or fails step `name` of its run:
// FAILED_PRECONDITION unless the step was begun (`step` not null), has not failed, and, when
// STARTED, was last started under `lease` (`owner`: the lease token it was started under).
// A completed step passes (the call is a repeat).
absl::Status CheckStepOwned(const RunLease& lease, const std::string& name, const StepInfo* step,
                            std::optional<int64_t> owner);

// BeginStep's answer once the run is cancelled: kCancelled, naming the step, which was not
// begun.
BeginStepResult CancelledBeginStep(int64_t run_id, const std::string& step_name);

// Adds `more` to `*total`: each count summed, the oldest pending age the larger of the two.
void AddQueueCounts(const QueueCounts& more, QueueCounts* total);

// ListQueueCounts as ListQueues and then GetQueueCounts for each queue (each its own
// snapshot), for stores where counting several queues at once saves nothing.
absl::StatusOr<std::vector<NamedQueueCounts>> ListQueueCountsEach(Store& store,
                                                                  const std::string& after_name,
                                                                  int32_t limit);

// The wait before the retry that follows failed attempt `attempt` (1-based):
// base backoff doubled per attempt, capped at max backoff, minus a random
// fraction of up to `jitter` of it.
absl::Duration RetryBackoff(const RetryPolicy& policy, int32_t attempt);

// A workflow's trigger queue belongs to the workflow: the queue calls (enqueue, dequeue,
// the lease calls, redrive, purge, delete) refuse it with FAILED_PRECONDITION, since a
// message taken or changed there would strand its run. The workflow calls use it freely.
enum class TriggerQueue { kRefuse, kAllow };

// StartRun with a known idempotency key must carry the same input (as a JSON value) as
// the run it names; otherwise ALREADY_EXISTS, as a reused key with other parameters is a
// client bug, not a retry.
absl::Status SameRunInput(const RunInfo& existing, const NewRun& run);
absl::Status TriggerQueueRefused(const std::string& queue);

}  // namespace pgqrs::storage
