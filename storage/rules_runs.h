// Workflow runs as the embedded stores (sqlite://, engine://) change them: the calls a
// run's lease holder makes (store.h "Workflows": steps, ending, extending and pausing the
// run) and cancelling a run. The rules live here; each adapter supplies only the data
// access (RunTables) and a way to run work in one of its write transactions (WriteRuns).
//
// The lease-holder calls check the lease first, in this order: a CANCELLED run stops the
// call (BeginStep answers kCancelled, the others CANCELLED); then the lease must be the
// live lease of the run's trigger message (else FAILED_PRECONDITION); a CANCELLING run is
// then ended as CANCELLED (committed) and the call stops as for a cancelled run; any other
// status but RUNNING is FAILED_PRECONDITION.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/types.h"

namespace pgqrs::storage::embedded {

// A run row, as these calls need it.
struct RunRow {
  int64_t id = 0;
  int64_t workflow_id = 0;
  RunStatus status = RunStatus::kQueued;
  std::optional<int64_t> message_id;  // the trigger message, while the run is not ended
};

// A step row, as these calls need it.
struct StepRow {
  int64_t id = 0;
  StepInfo info;
  std::optional<int64_t> owner;  // the lease token it was last started under
};

// The rows the run calls read and change, inside one write transaction. Times are
// microseconds since the epoch.
class RunTables {
 public:
  virtual ~RunTables() = default;

  // NOT_FOUND names the run.
  virtual absl::StatusOr<RunRow> FindRun(int64_t run_id) = 0;
  virtual absl::StatusOr<RunInfo> LoadRun(int64_t run_id) = 0;
  // Whether `lease` is the live lease of a live message.
  virtual absl::StatusOr<bool> LeaseLive(const Lease& lease, int64_t now) = 0;
  // Whether message `message_id` is live and leased by anyone, unexpired.
  virtual absl::StatusOr<bool> MessageLeased(int64_t message_id, int64_t now) = 0;
  // Moves the run to a terminal `status` with its output or error ("" for none), and
  // deletes its trigger message.
  virtual absl::Status EndRun(const RunRow& run, RunStatus status, const std::string& output_json,
                              const std::string& error_json, int64_t now) = 0;
  virtual absl::Status MarkRunCancelling(int64_t run_id, int64_t now) = 0;
  virtual absl::Status MarkRunPaused(int64_t run_id, int64_t resume_at, int64_t now) = 0;
  // Sets the message's lease to end at `visible_at`.
  virtual absl::Status ExtendMessageLease(int64_t message_id, int64_t visible_at) = 0;
  // Ends the message's lease (token and consumer cleared); visible again at `visible_at`.
  virtual absl::Status ReleaseMessage(int64_t message_id, int64_t visible_at) = 0;

  // The workflow's retry policy. NOT_FOUND if the workflow is gone.
  virtual absl::StatusOr<RetryPolicy> LoadRetryPolicy(int64_t workflow_id) = 0;
  // The step, if it was ever begun.
  virtual absl::StatusOr<std::optional<StepRow>> LoadStep(int64_t run_id,
                                                          const std::string& name) = 0;
  // A new STARTED step: attempt 1 under `lease_token`.
  virtual absl::Status InsertStep(int64_t run_id, const std::string& name, int64_t lease_token,
                                  int64_t now) = 0;
  // Starts the step again under `lease_token`: another attempt, retry_at cleared.
  virtual absl::Status RestartStep(int64_t step_id, int64_t lease_token, int64_t now) = 0;
  virtual absl::Status MarkStepCompleted(int64_t step_id, const std::string& output_json,
                                         int64_t now) = 0;
  virtual absl::Status MarkStepFailed(int64_t step_id, const std::string& error_json,
                                      std::optional<int64_t> retry_at, bool exhausted) = 0;
};

// Runs `work` in one write transaction of the store: commits when it returns OK, rolls
// back otherwise. `now` is the transaction's time.
using RunWork = std::function<absl::Status(RunTables& tables, int64_t now)>;
using WriteRuns = std::function<absl::Status(const RunWork& work)>;

// The Store calls of the same names (store.h), written through `write`.
absl::StatusOr<BeginStepResult> BeginStep(const WriteRuns& write, const RunLease& lease,
                                          const std::string& step_name);
absl::StatusOr<StepInfo> CompleteStep(const WriteRuns& write, const RunLease& lease,
                                      const std::string& step_name, const std::string& output_json);
absl::StatusOr<StepInfo> FailStep(const WriteRuns& write, const RunLease& lease,
                                  const std::string& step_name, const StepFailure& failure);
absl::StatusOr<RunInfo> CompleteRun(const WriteRuns& write, const RunLease& lease,
                                    const std::string& output_json);
absl::StatusOr<RunInfo> FailRun(const WriteRuns& write, const RunLease& lease,
                                const std::string& error_json);
absl::StatusOr<RunInfo> ExtendRunLease(const WriteRuns& write, const RunLease& lease,
                                       absl::Duration timeout);
absl::StatusOr<RunInfo> PauseRun(const WriteRuns& write, const RunLease& lease,
                                 absl::Duration resume_after);
absl::StatusOr<RunInfo> CancelRun(const WriteRuns& write, int64_t run_id);

}  // namespace pgqrs::storage::embedded
