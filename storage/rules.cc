#include "storage/rules.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"

namespace pgqrs::storage {

const char* WorkerStatusName(WorkerStatus status) {
  switch (status) {
    case WorkerStatus::kReady:
      return "ready";
    case WorkerStatus::kPolling:
      return "polling";
    case WorkerStatus::kSuspended:
      return "suspended";
    case WorkerStatus::kInterrupted:
      return "interrupted";
    case WorkerStatus::kStopped:
      return "stopped";
  }
  return "unknown";
}

bool WorkerMoveAllowed(WorkerStatus from, WorkerMove move) {
  switch (move) {
    case WorkerMove::kSuspend:
      return from == WorkerStatus::kReady || from == WorkerStatus::kPolling ||
             from == WorkerStatus::kInterrupted;
    case WorkerMove::kResume:
      return from == WorkerStatus::kSuspended;
    case WorkerMove::kInterrupt:
      return from == WorkerStatus::kReady || from == WorkerStatus::kPolling;
  }
  return false;
}

WorkerStatus WorkerMoveTarget(WorkerMove move) {
  switch (move) {
    case WorkerMove::kSuspend:
      return WorkerStatus::kSuspended;
    case WorkerMove::kResume:
      return WorkerStatus::kReady;
    case WorkerMove::kInterrupt:
      return WorkerStatus::kInterrupted;
  }
  return WorkerStatus::kReady;
}

const char* RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kQueued:
      return "queued";
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kPaused:
      return "paused";
    case RunStatus::kSucceeded:
      return "succeeded";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kCancelling:
      return "cancelling";
    case RunStatus::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

absl::Status RunCancelledError(int64_t run_id) {
  return absl::CancelledError(absl::StrCat("run ", run_id, " was cancelled"));
}

absl::Status CheckStepOwned(const RunLease& lease, const std::string& name, const StepInfo* step,
                            std::optional<int64_t> owner) {
  if (step == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("step \"", name, "\" of run ", lease.run_id,
                                                      " was not begun; call BeginStep first"));
  }
  if (step->status == StepStatus::kFailed) {
    return absl::FailedPreconditionError(absl::StrCat("step \"", name, "\" of run ", lease.run_id,
                                                      " has failed; BeginStep to retry it"));
  }
  if (step->status == StepStatus::kStarted && owner != lease.lease.token) {
    return absl::FailedPreconditionError(
        absl::StrCat("step \"", name, "\" of run ", lease.run_id,
                     " was started under another lease; call BeginStep first"));
  }
  return absl::OkStatus();
}

BeginStepResult CancelledBeginStep(int64_t run_id, const std::string& step_name) {
  BeginStepResult result;
  result.outcome = StepOutcome::kCancelled;
  result.step.run_id = run_id;
  result.step.name = step_name;
  return result;
}

void AddQueueCounts(const QueueCounts& more, QueueCounts* total) {
  total->pending += more.pending;
  total->delayed += more.delayed;
  total->in_flight += more.in_flight;
  total->dead += more.dead;
  total->archived += more.archived;
  total->oldest_pending_age = std::max(total->oldest_pending_age, more.oldest_pending_age);
}

absl::StatusOr<std::vector<NamedQueueCounts>> ListQueueCountsEach(Store& store,
                                                                  const std::string& after_name,
                                                                  int32_t limit) {
  std::vector<NamedQueueCounts> counts;
  std::string after = after_name;
  // Queues deleted between the listing and their count are left out, and more are listed
  // in their place, so that a short answer means the list ended.
  while (static_cast<int32_t>(counts.size()) < limit) {
    const int32_t wanted = limit - static_cast<int32_t>(counts.size());
    absl::StatusOr<std::vector<QueueInfo>> queues = store.ListQueues(after, wanted);
    if (!queues.ok()) return queues.status();
    for (const QueueInfo& q : *queues) {
      absl::StatusOr<QueueCounts> c = store.GetQueueCounts(q.name);
      if (absl::IsNotFound(c.status())) continue;  // deleted meanwhile
      if (!c.ok()) return c.status();
      counts.push_back({q.name, *c});
    }
    if (static_cast<int32_t>(queues->size()) < wanted) break;
    after = queues->back().name;
  }
  return counts;
}

absl::Duration RetryBackoff(const RetryPolicy& policy, int32_t attempt) {
  thread_local absl::BitGen gen;
  absl::Duration d = policy.base_backoff;
  for (int32_t i = 1; i < attempt && d < policy.max_backoff; ++i) d *= 2;
  d = std::min(d, policy.max_backoff);
  double cut = policy.jitter > 0 ? absl::Uniform(gen, 0.0, policy.jitter) : 0.0;
  return d * (1.0 - cut);
}

absl::Status SameRunInput(const RunInfo& existing, const NewRun& run) {
  // Both are valid JSON here; a store may have normalised the stored text.
  if (nlohmann::json::parse(existing.input_json) == nlohmann::json::parse(run.input_json)) {
    return absl::OkStatus();
  }
  return absl::AlreadyExistsError(absl::StrCat("idempotency_key: names run ", existing.id,
                                               ", which was started with different input"));
}

absl::Status TriggerQueueRefused(const std::string& queue) {
  return absl::FailedPreconditionError(absl::StrCat("queue \"", queue,
                                                    "\" is the trigger queue of workflow \"", queue,
                                                    "\"; use WorkflowService"));
}

}  // namespace pgqrs::storage
