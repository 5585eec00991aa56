// Plain value types exchanged between the server and every Store adapter.
//
// Times are absolute (absl::Time) and come from the storage's clock: the daemon's
// (storage/clock.h, which a wall clock step does not move) for the file adapters, the
// database's now() for PostgreSQL. Durations are absl::Duration.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/base/histogram.h"

namespace pgqrs::storage {

// ---- Queues ----------------------------------------------------------------------------

struct QueueOptions {
  std::string name;
  int32_t max_read_count = 5;
  absl::Duration visibility_timeout = absl::Seconds(30);
  // When true, creating an existing queue returns it instead of ALREADY_EXISTS.
  bool if_not_exists = false;
};

struct QueueInfo {
  int64_t id = 0;
  std::string name;
  int32_t max_read_count = 0;
  absl::Duration visibility_timeout;
  absl::Time created_at;
};

// Message counts by state at one instant. A message whose final lease expired at
// max_read_count counts as dead even before the reaper has recorded it so.
struct QueueCounts {
  int64_t pending = 0;    // visible now
  int64_t delayed = 0;    // not yet visible, not leased
  int64_t in_flight = 0;  // leased, lease not expired
  int64_t dead = 0;
  int64_t archived = 0;
  // Age of the oldest visible message; zero when nothing is pending.
  absl::Duration oldest_pending_age;
};

// One queue's counts, with its name (ListQueueCounts).
struct NamedQueueCounts {
  std::string name;
  QueueCounts counts;
};

// ---- Messages --------------------------------------------------------------------------

struct NewMessage {
  std::string payload_json;  // REQUIRES: valid JSON (the server validates it)
  absl::Duration delay;      // REQUIRES: >= 0
  int32_t priority = 0;      // higher is dequeued first
  std::string dedup_key;     // empty means no deduplication
};

enum class MessageState { kPending, kDelayed, kInFlight, kDead, kArchived };

// A lease is what a receipt names: one message and the random token of one lease on it.
// A lease is valid while the message still carries that token and its visibility
// timeout has not passed.
struct Lease {
  int64_t message_id = 0;
  int64_t token = 0;
};

struct Message {
  int64_t id = 0;
  std::string queue;
  std::string payload_json;
  absl::Time enqueued_at;
  absl::Time visible_at;
  int32_t read_count = 0;
  int32_t priority = 0;
  MessageState state = MessageState::kPending;
  // Set only on messages returned by Dequeue.
  std::optional<Lease> lease;
};

struct DequeueOptions {
  int32_t max_messages = 1;
  // Unset means the queue's visibility timeout.
  std::optional<absl::Duration> visibility_timeout;
  // 0 means an anonymous consumer.
  int64_t consumer_worker_id = 0;
};

// The outcome of one receipt in Ack, Delete, Nack and ExtendVisibility.
enum class LeaseOutcome {
  kOk,
  kLeaseLost,  // the lease expired or another lease replaced it; nothing changed
  kNotFound,   // no such message in this queue
};

// ---- Workers ---------------------------------------------------------------------------

enum class WorkerRole { kProducer, kConsumer, kAdmin };
enum class WorkerStatus { kReady, kPolling, kSuspended, kInterrupted, kStopped };

// The moves an operator can ask of a worker. The state machine:
//   suspend:   ready | polling | interrupted -> suspended
//   resume:    suspended -> ready
//   interrupt: ready | polling -> interrupted
// Anything else is FAILED_PRECONDITION. Shutdown has its own call.
enum class WorkerMove { kSuspend, kResume, kInterrupt };

struct WorkerRegistration {
  std::string name;
  std::string queue;  // empty for admin workers
  WorkerRole role = WorkerRole::kConsumer;
  std::string hostname;
  std::map<std::string, std::string> labels;
};

struct WorkerInfo {
  int64_t id = 0;
  std::string name;
  std::string queue;
  WorkerRole role = WorkerRole::kConsumer;
  WorkerStatus status = WorkerStatus::kReady;
  std::string hostname;
  std::map<std::string, std::string> labels;
  absl::Time started_at;
  absl::Time heartbeat_at;
  std::optional<absl::Time> shutdown_at;
  int64_t leased_messages = 0;
};

struct WorkerFilter {
  std::string queue;                   // empty: every queue
  std::optional<WorkerStatus> status;  // unset: every status
  int64_t after_id = 0;                // workers with larger ids, in id order
  int32_t limit = 100;
};

// ---- Workflows -------------------------------------------------------------------------

// How a failed step is retried. The n-th failed attempt (n = 1, 2, ...) waits
// min(max_backoff, base_backoff * 2^(n-1)), less a random fraction of up to `jitter` of
// it: the retry is due within [d * (1 - jitter), d] from the failure.
struct RetryPolicy {
  int32_t max_attempts = 3;  // starts of a step, the first included
  absl::Duration base_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(60);
  double jitter = 0.25;  // 0..1
};

struct WorkflowOptions {
  std::string name;
  RetryPolicy retry_policy;
  // When true, creating an existing workflow returns it instead of ALREADY_EXISTS.
  bool if_not_exists = false;
};

struct WorkflowInfo {
  int64_t id = 0;
  std::string name;  // also the name of its trigger queue
  RetryPolicy retry_policy;
  absl::Time created_at;
};

// The numbers of pgqrs.v1.RunStatus. Terminal: kSucceeded, kFailed, kCancelled.
enum class RunStatus {
  kQueued = 1,
  kRunning = 2,
  kPaused = 3,
  kSucceeded = 4,
  kFailed = 5,
  kCancelling = 6,
  kCancelled = 7,
};

inline bool IsTerminal(RunStatus status) {
  return status == RunStatus::kSucceeded || status == RunStatus::kFailed ||
         status == RunStatus::kCancelled;
}

struct NewRun {
  std::string workflow;
  std::string input_json;       // REQUIRES: valid JSON
  std::string idempotency_key;  // empty means none
};

struct RunInfo {
  int64_t id = 0;
  std::string workflow;
  RunStatus status = RunStatus::kQueued;
  std::string input_json;
  std::string output_json;  // empty until succeeded
  std::string error_json;   // empty unless failed
  std::string idempotency_key;
  int64_t worker_id = 0;  // the registered worker of the latest claim; 0 if none
  absl::Time created_at;
  absl::Time updated_at;
  std::optional<absl::Time> resume_at;  // while paused
};

struct StartRunResult {
  RunInfo run;
  bool created = false;  // false when the idempotency key named an existing run
};

struct ClaimOptions {
  // Unset means the workflow queue's visibility timeout.
  std::optional<absl::Duration> visibility_timeout;
  // 0 means an anonymous worker; otherwise a consumer of the workflow's queue (or an
  // admin) that is ready or polling, whose death releases the run (heartbeat reaper).
  int64_t worker_id = 0;
};

// A run lease: the run and the lease on its trigger message. Valid while that message
// still carries the lease's token and its visibility timeout has not passed.
struct RunLease {
  int64_t run_id = 0;
  Lease lease;
};

struct ClaimResult {
  // Set when a run was claimed: it is RUNNING under `lease`.
  std::optional<RunInfo> run;
  Lease lease;
  // Runs found CANCELLING on the way and finalised CANCELLED (their waiters can wake).
  std::vector<int64_t> cancelled;
};

// The numbers of pgqrs.v1.StepStatus.
enum class StepStatus { kStarted = 1, kCompleted = 2, kFailed = 3 };

struct StepInfo {
  int64_t id = 0;  // steps begun earlier have smaller ids; the key ListSteps pages by
  int64_t run_id = 0;
  std::string name;
  StepStatus status = StepStatus::kStarted;
  std::string output_json;             // when completed
  std::string error_json;              // the latest failure, if any
  int32_t attempts = 0;                // times the step was started
  std::optional<absl::Time> retry_at;  // failed, not exhausted: when it may start again
  bool exhausted = false;              // failed for good
  absl::Time started_at;
  std::optional<absl::Time> completed_at;
};

// The numbers of pgqrs.v1.StepOutcome.
enum class StepOutcome {
  kCompleted = 1,  // done before: step.output_json is the memoised output; do not re-run
  kStarted = 2,    // the caller owns the step now and runs it
  kNotReady = 3,   // failed; may start again at step.retry_at
  kExhausted = 4,  // failed for good
  kCancelled = 5,  // the run is cancelled (finalised by this call if it was CANCELLING)
};

struct BeginStepResult {
  StepOutcome outcome = StepOutcome::kStarted;
  StepInfo step;  // unset fields when the outcome is kCancelled
};

struct StepFailure {
  std::string error_json;  // REQUIRES: valid JSON
  bool transient = false;  // false: exhausted at once
  // Overrides the policy's backoff when set.
  std::optional<absl::Duration> retry_after;
};

struct RunFilter {
  std::string workflow;             // empty: every workflow
  std::optional<RunStatus> status;  // unset: every status
  int64_t after_id = 0;             // runs with larger ids, in id order
  int32_t limit = 100;
};

struct StepFilter {
  int64_t run_id = 0;
  int64_t after_id = 0;  // steps with larger ids, in the order they were first begun
  int32_t limit = 100;
};

// ---- Maintenance -----------------------------------------------------------------------

struct ReclaimReport {
  int64_t workers_stopped = 0;
  int64_t messages_released = 0;
  // Queues that gained visible messages, so parked consumers can be woken.
  std::vector<std::string> queues_with_released;
};

struct ReapReport {
  int64_t leases_expired = 0;
  int64_t dead_lettered = 0;
  int64_t archived_deleted = 0;
  // A batch bound was reached: expired leases or old archived messages may remain.
  bool more = false;
};

// How long finished history is kept.
struct RetentionPolicy {
  absl::Duration runs = absl::Hours(24 * 7);     // terminal runs, from their completion
  absl::Duration workers = absl::Hours(24 * 7);  // stopped workers, from their shutdown
};

struct RetentionReport {
  int64_t runs_deleted = 0;  // with their steps
  int64_t workers_deleted = 0;
  // A batch bound was reached: more history past retention may remain.
  bool more = false;
};

struct MigrationReport {
  int32_t schema_version = 0;
  std::vector<int32_t> applied;
};

struct VerifyReport {
  int32_t schema_version = 0;
  std::vector<std::string> problems;  // empty when everything checks out
};

// Group commit of an embedded store: how many write transactions each durable commit held,
// and how long its sync took (engine://: the WAL fdatasync; sqlite://: the COMMIT, which
// writes the WAL and syncs it).
struct CommitStats {
  engine::HistogramSnapshot batch_sizes;
  engine::HistogramSnapshot sync_seconds;
  // engine:// with concurrent writers (mvcc=on), always 0 elsewhere: write transactions
  // that lost a write conflict (each is run again), the calls that needed more than one
  // transaction, and the calls whose last attempt ran exclusively after three conflicts.
  int64_t write_conflicts = 0;
  int64_t write_retried_calls = 0;
  int64_t write_exclusive_attempts = 0;
};

struct SystemCounts {
  int64_t queues = 0;
  int64_t workers = 0;
  int64_t workers_live = 0;  // not stopped
  QueueCounts messages;
};

}  // namespace pgqrs::storage
