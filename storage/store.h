// Store is the one storage interface the server uses. Every public call maps to one
// operation of the gRPC API and runs as a single transaction: it either commits whole or
// changes nothing.
//
// Thread safety: every method may be called concurrently from many threads. Calls block
// on I/O, so the server runs them on its executor, never on gRPC threads.
//
// Errors (absl canonical codes, mapped 1:1 to gRPC codes by the server):
//   NOT_FOUND            unknown queue, worker, message, workflow or run
//   ALREADY_EXISTS       queue, workflow or live worker name taken
//   FAILED_PRECONDITION  invalid worker move, queue not empty, worker holds leases,
//                        run lease lost, invalid run or step transition
//   CANCELLED            a lease-holder write to a cancelled run
//   INVALID_ARGUMENT     input the server should have refused (defence in depth)
//   UNAVAILABLE          storage unreachable or busy; the call may be retried
//   DATA_LOSS            storage corruption
// Messages never contain secrets (DSN passwords).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/types.h"

namespace pgqrs::storage {

class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  virtual ~Store() = default;

  // "sqlite", "postgres" or "engine".
  virtual std::string backend() const = 0;

  // ---- Schema -------------------------------------------------------------------------

  // Applies every migration the database lacks, each in its own transaction. Idempotent.
  // FAILED_PRECONDITION when the database was migrated by a newer binary or an applied
  // migration's checksum differs from this binary's.
  virtual absl::StatusOr<MigrationReport> Migrate() = 0;

  // Checks the schema version, referential integrity and the storage's own integrity.
  virtual absl::StatusOr<VerifyReport> Verify() = 0;

  // ---- Queues -------------------------------------------------------------------------

  virtual absl::StatusOr<QueueInfo> CreateQueue(const QueueOptions& options) = 0;
  virtual absl::StatusOr<QueueInfo> GetQueue(const std::string& name) = 0;
  // Queues ordered by name, starting after `after_name` (empty: from the first).
  virtual absl::StatusOr<std::vector<QueueInfo>> ListQueues(const std::string& after_name,
                                                            int32_t limit) = 0;
  // Without `force`, FAILED_PRECONDITION while the queue has unarchived messages or
  // workers that are not stopped. With it, removes the queue's messages and workers too.
  virtual absl::Status DeleteQueue(const std::string& name, bool force) = 0;
  // Removes every message of the queue, in any state. Returns how many.
  virtual absl::StatusOr<int64_t> PurgeQueue(const std::string& name) = 0;
  virtual absl::StatusOr<QueueCounts> GetQueueCounts(const std::string& name) = 0;
  // What GetQueueCounts answers for each of the queues after `after_name` in name order, at
  // most `limit` of them, for the callers that count every queue (metrics, GetSystemCounts).
  // A queue deleted meanwhile is left out; fewer than `limit` means no queue follows.
  virtual absl::StatusOr<std::vector<NamedQueueCounts>> ListQueueCounts(
      const std::string& after_name, int32_t limit) = 0;

  // ---- Messages -----------------------------------------------------------------------

  // Stores the batch, all or nothing, and returns the ids in request order. A message
  // whose dedup_key matches an unarchived message of the queue (or an earlier message of
  // the same batch) stores nothing and returns that message's id.
  // `producer_worker_id` 0 means anonymous; otherwise the worker must exist, belong to
  // the queue (or be an admin) and not be stopped.
  // REQUIRES: messages is non-empty and already validated.
  virtual absl::StatusOr<std::vector<int64_t>> Enqueue(const std::string& queue,
                                                       std::span<const NewMessage> messages,
                                                       int64_t producer_worker_id) = 0;

  // Leases up to options.max_messages visible messages in dequeue order (priority
  // descending, then visible_at, then id). Each gets read_count + 1, visible_at = now +
  // timeout and a fresh lease. Messages whose final lease ended are dead-lettered on the
  // way, never returned. Returns an empty vector when nothing is visible; never waits.
  // A named consumer must belong to the queue and be ready or polling; it becomes
  // polling and its heartbeat is refreshed.
  virtual absl::StatusOr<std::vector<Message>> Dequeue(const std::string& queue,
                                                       const DequeueOptions& options) = 0;

  // The lease calls return one outcome per lease, in order. A lease is valid only while
  // unexpired and not replaced; an invalid one changes nothing.
  // Ack archives the message (a record stays until retention removes it).
  virtual absl::StatusOr<std::vector<LeaseOutcome>> Ack(const std::string& queue,
                                                        std::span<const Lease> leases) = 0;
  // Delete removes the message.
  virtual absl::StatusOr<std::vector<LeaseOutcome>> Delete(const std::string& queue,
                                                           std::span<const Lease> leases) = 0;
  // Nack ends the lease; the message is visible again after `delay`, or dead-lettered if
  // it has been read max_read_count times.
  virtual absl::StatusOr<std::vector<LeaseOutcome>> Nack(const std::string& queue,
                                                         std::span<const Lease> leases,
                                                         absl::Duration delay) = 0;
  // ExtendVisibility sets visible_at = now + timeout; the lease stays the same.
  virtual absl::StatusOr<std::vector<LeaseOutcome>> ExtendVisibility(const std::string& queue,
                                                                     std::span<const Lease> leases,
                                                                     absl::Duration timeout) = 0;
  // ReturnLeases undoes leases whose holder never received them (its call was cancelled
  // before the reply got out): the message is visible at once and its read_count is what
  // it was before the lease, so an undelivered lease never counts towards dead-lettering.
  virtual absl::StatusOr<std::vector<LeaseOutcome>> ReturnLeases(const std::string& queue,
                                                                 std::span<const Lease> leases) = 0;

  // Messages of the queue by id, in any state; unknown ids are left out.
  virtual absl::StatusOr<std::vector<Message>> GetMessages(const std::string& queue,
                                                           std::span<const int64_t> ids) = 0;
  // Dead letters ordered by id, starting after `after_id`.
  virtual absl::StatusOr<std::vector<Message>> ListDeadLetters(const std::string& queue,
                                                               int64_t after_id, int32_t limit) = 0;
  // Returns dead letters (all of the queue's when `ids` is empty) to pending with
  // read_count 0. Returns how many moved.
  virtual absl::StatusOr<int64_t> Redrive(const std::string& queue,
                                          std::span<const int64_t> ids) = 0;

  // ---- Workers ------------------------------------------------------------------------

  // Registers a new worker, or revives a stopped one of the same name (as a new
  // lifetime: status ready, fresh timestamps). ALREADY_EXISTS if the name is live.
  virtual absl::StatusOr<WorkerInfo> RegisterWorker(const WorkerRegistration& reg) = 0;
  // Refreshes heartbeat_at unless the worker is stopped; returns its status either way,
  // which tells it to go on, pause (suspended) or stop (interrupted, stopped).
  virtual absl::StatusOr<WorkerInfo> Heartbeat(int64_t worker_id) = 0;
  virtual absl::StatusOr<WorkerInfo> MoveWorker(int64_t worker_id, WorkerMove move) = 0;
  // Stops the worker. FAILED_PRECONDITION if it is already stopped, or holds leases and
  // `release_messages` is false; with it, the leases end at once (read_count kept).
  virtual absl::StatusOr<WorkerInfo> ShutdownWorker(int64_t worker_id, bool release_messages) = 0;
  virtual absl::StatusOr<WorkerInfo> GetWorker(int64_t worker_id) = 0;
  // Workers that match the filter in id order: at most filter.limit after filter.after_id.
  virtual absl::StatusOr<std::vector<WorkerInfo>> ListWorkers(const WorkerFilter& filter) = 0;

  // ---- Workflows ----------------------------------------------------------------------
  //
  // A workflow owns a trigger queue of the same name. Each run that is not terminal has
  // one message on that queue; ClaimRun leases it (Dequeue semantics: visibility timeout,
  // random lease token) and that RunLease guards every step and run write below. A
  // caller whose lease expired, was released, or was replaced by another claim gets
  // FAILED_PRECONDITION and changes nothing. A step belongs to the lease it was started
  // under, so two workers never both hold a step STARTED for the same run.
  //
  // The run state machine:
  //   QUEUED | PAUSED (when due) | RUNNING (lease ended) --ClaimRun--> RUNNING
  //   RUNNING --CompleteRun--> SUCCEEDED, --FailRun--> FAILED, --PauseRun--> PAUSED
  //   QUEUED | PAUSED | RUNNING without a live lease --CancelRun--> CANCELLED
  //   RUNNING under a live lease --CancelRun--> CANCELLING --next lease-holder write
  //     (or ClaimRun once the lease is gone)--> CANCELLED
  // Terminal runs delete their trigger message. Lease-holder writes on a CANCELLING run
  // finalise it CANCELLED; BeginStep reports that as kCancelled, the others as CANCELLED.

  // Creates the workflow and its trigger queue in one transaction. ALREADY_EXISTS when
  // the workflow exists (unless if_not_exists) or a plain queue already has the name.
  virtual absl::StatusOr<WorkflowInfo> CreateWorkflow(const WorkflowOptions& options) = 0;
  virtual absl::StatusOr<WorkflowInfo> GetWorkflow(const std::string& name) = 0;
  // Workflows ordered by name, starting after `after_name`.
  virtual absl::StatusOr<std::vector<WorkflowInfo>> ListWorkflows(const std::string& after_name,
                                                                  int32_t limit) = 0;

  // Creates a QUEUED run and its trigger message. With an idempotency key that the
  // workflow already has a run for, stores nothing and returns that run (created false);
  // ALREADY_EXISTS if that run was started with a different input (as a JSON value).
  virtual absl::StatusOr<StartRunResult> StartRun(const NewRun& run) = 0;

  // Leases the first claimable run of the workflow: QUEUED, PAUSED and due, or RUNNING
  // whose lease ended (abandoned; its completed steps replay). Never waits; `run` is
  // unset when nothing is claimable. CANCELLING runs met on the way become CANCELLED.
  virtual absl::StatusOr<ClaimResult> ClaimRun(const std::string& workflow,
                                               const ClaimOptions& options) = 0;

  // The step boundary (see StepOutcome). kStarted also when the step was STARTED under
  // an ended lease (its old owner is gone) or under this same lease (a repeated call).
  // NOT_FOUND for an unknown run; FAILED_PRECONDITION for a lost lease.
  virtual absl::StatusOr<BeginStepResult> BeginStep(const RunLease& lease,
                                                    const std::string& step_name) = 0;
  // Stores the output of a step this lease started. Repeating the call on a completed
  // step returns it unchanged. FAILED_PRECONDITION when the step was not begun under
  // this lease or has failed; CANCELLED when the run is cancelled (nothing stored).
  virtual absl::StatusOr<StepInfo> CompleteStep(const RunLease& lease, const std::string& step_name,
                                                const std::string& output_json) = 0;
  // Records a failure of a step this lease started: retry_at per the workflow's policy
  // (or failure.retry_after) while attempts remain and the failure is transient, else
  // exhausted. Same errors as CompleteStep.
  virtual absl::StatusOr<StepInfo> FailStep(const RunLease& lease, const std::string& step_name,
                                            const StepFailure& failure) = 0;

  // End the run (SUCCEEDED / FAILED) and delete its trigger message.
  virtual absl::StatusOr<RunInfo> CompleteRun(const RunLease& lease,
                                              const std::string& output_json) = 0;
  virtual absl::StatusOr<RunInfo> FailRun(const RunLease& lease, const std::string& error_json) = 0;
  // Keeps the lease alive while a long step runs: visible_at = now + timeout, the lease
  // (and receipt) unchanged. Same errors as CompleteStep.
  virtual absl::StatusOr<RunInfo> ExtendRunLease(const RunLease& lease, absl::Duration timeout) = 0;
  // Releases the lease; the run is PAUSED and claimable again after `resume_after`.
  virtual absl::StatusOr<RunInfo> PauseRun(const RunLease& lease, absl::Duration resume_after) = 0;
  // See the state machine. Cancelling a cancelled run returns it; a succeeded or failed
  // one is FAILED_PRECONDITION.
  virtual absl::StatusOr<RunInfo> CancelRun(int64_t run_id) = 0;

  virtual absl::StatusOr<RunInfo> GetRun(int64_t run_id) = 0;
  virtual absl::StatusOr<std::vector<RunInfo>> ListRuns(const RunFilter& filter) = 0;
  // The run's steps in the order they were first begun (id order): at most filter.limit
  // after filter.after_id. NOT_FOUND for an unknown run.
  virtual absl::StatusOr<std::vector<StepInfo>> ListSteps(const StepFilter& filter) = 0;

  // ---- Maintenance (the reapers' work, also callable on demand) -------------------------

  // Stops every live worker (of `queue`, or of all queues when empty) whose last
  // heartbeat is older than `older_than`, and ends its leases at once, read_count kept.
  // Safe to run from several daemons at once: a worker is stopped and released once.
  virtual absl::StatusOr<ReclaimReport> ReclaimWorkers(const std::string& queue,
                                                       absl::Duration older_than) = 0;
  // In one transaction, ends at most `batch` expired leases, oldest expiry first
  // (dead-lettering messages at max_read_count), and deletes at most `batch` archived
  // messages older than `archive_retention`. The bound keeps the writer free for other
  // calls; `more` in the report says a bound was reached, so the caller calls again.
  // REQUIRES: batch > 0.
  virtual absl::StatusOr<ReapReport> ReapMessages(absl::Duration archive_retention,
                                                  int32_t batch) = 0;
  // In one transaction, deletes at most `batch` terminal runs (succeeded, failed,
  // cancelled) completed longer than policy.runs ago, each with its steps, and at most
  // `batch` workers stopped longer than policy.workers ago. Messages and runs that name a
  // deleted worker keep going with no worker (NULL, as for an anonymous producer or
  // claim); the file stores clear at most `batch` such references per transaction and
  // delete the worker once none is left. A deleted run's idempotency key is free again.
  // `more` says a bound was reached, so the caller calls again. REQUIRES: batch > 0.
  virtual absl::StatusOr<RetentionReport> DeleteOldHistory(const RetentionPolicy& policy,
                                                           int32_t batch) = 0;
  // Of `queues`, the names that have a visible message now.
  virtual absl::StatusOr<std::vector<std::string>> QueuesWithVisibleMessages(
      std::span<const std::string> queues) = 0;

  virtual absl::StatusOr<SystemCounts> GetSystemCounts() = 0;

  // Group-commit statistics since the store was opened, or nullopt for a store whose
  // commits happen elsewhere (PostgreSQL). Cheap: reads counters, not the database.
  virtual std::optional<CommitStats> GetCommitStats() = 0;

  // ---- Wake-ups from other processes ----------------------------------------------------

  // Registers `handler`, called (from any thread) when another process may have made
  // messages visible in a queue, e.g. an enqueue on another daemon sharing a PostgreSQL
  // database. Adapters without such a channel never call it. Call once, before serving.
  virtual void SetRemoteWakeHandler(std::function<void(const std::string& queue)> /*handler*/) {}
};

}  // namespace pgqrs::storage
