// SqliteStore's declaration, shared by the .cc files that implement it by concern:
// sqlite_store.cc (open, schema, queues), sqlite_messages.cc, sqlite_leases.cc,
// sqlite_workers.cc, sqlite_maintenance.cc, sqlite_workflows.cc (workflows, runs) and
// sqlite_steps.cc (the lease-holder calls). Not part of the public API.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "storage/file_time.h"
#include "storage/rules.h"
#include "storage/rules_runs.h"
#include "storage/sqlite/connection.h"
#include "storage/sqlite/group_commit.h"
#include "storage/store.h"

namespace pgqrs::storage::sqlite {

// Storage encodings shared by the .cc files (see migrations/sqlite/0001_*.sql).
enum RowState : int64_t { kLive = 0, kDead = 1, kArchived = 2 };
inline constexpr int64_t kQueueSequence = 1;
inline constexpr int64_t kWorkerSequence = 2;
inline constexpr int64_t kMessageSequence = 3;
inline constexpr int64_t kWorkflowSequence = 4;
inline constexpr int64_t kRunSequence = 5;
inline constexpr int64_t kStepSequence = 6;

// A queue row, as the message and worker calls need it.
struct QueueRow {
  int64_t id = 0;
  int32_t max_read_count = 0;
  absl::Duration visibility_timeout;
};

// Looks a queue up by name. NOT_FOUND names the queue.
absl::StatusOr<QueueRow> FindQueue(Connection& db, const std::string& name);
// FindQueue for the queue calls: FAILED_PRECONDITION for a workflow's trigger queue.
absl::StatusOr<QueueRow> FindPlainQueue(Connection& db, const std::string& name);

// Takes `count` ids from the sequence `sequence`; returns the first.
absl::StatusOr<int64_t> TakeIds(Connection& db, int64_t sequence, int64_t count);

// Ends every lease the worker holds: the messages are visible at once, or dead at
// max_read_count. Returns the names of the queues that gained visible messages.
absl::StatusOr<std::vector<std::string>> ReleaseWorkerLeases(Connection& db, int64_t worker_id,
                                                             int64_t now);

// Ends every expired lease of one queue, so a dead-letter call sees every dead letter.
absl::Status ExpireQueueLeases(Connection& db, int64_t queue_id, int64_t now);

// Ends at most `limit` expired leases of any queue, oldest expiry first.
struct ExpiredBatch {
  int64_t expired = 0;
  int64_t dead = 0;  // of them, dead-lettered at max_read_count
  bool more = false;
};
absl::StatusOr<ExpiredBatch> ExpireLeaseBatch(Connection& db, int64_t now, int64_t limit);

// ---- Message helpers shared with the workflow calls (sqlite_messages.cc) ----

// A named consumer must belong to the queue (or be an admin) and be ready or polling. It
// becomes polling and its heartbeat is refreshed.
absl::Status ClaimConsumer(Connection& db, int64_t worker_id, int64_t queue_id, int64_t now);

// Inserts message `id` into the queue. `producer` 0 means anonymous.
absl::Status InsertMessage(Connection& db, int64_t id, int64_t queue_id, const NewMessage& m,
                           int64_t producer, int64_t now);

struct Candidate {
  int64_t id;
  int64_t read_ct;
};
// Up to `limit` visible messages of the queue in dequeue order.
absl::StatusOr<std::vector<Candidate>> VisibleCandidates(Connection& db, int64_t queue_id,
                                                         int64_t now, int64_t limit);

// Leases message `id` (read_count + 1, visible_at = now + timeout, a fresh token).
absl::StatusOr<Message> LeaseOne(Connection& db, int64_t id, const std::string& queue,
                                 const QueueRow& q, const DequeueOptions& options, int64_t now);

// ---- Workflow helpers (sqlite_workflows.cc), shared with sqlite_steps.cc ----

using embedded::RunRow;
using embedded::StepRow;

// NOT_FOUND names the run.
absl::StatusOr<RunRow> FindRun(Connection& db, int64_t run_id);
absl::StatusOr<RunInfo> LoadRun(Connection& db, int64_t run_id);
// Whether `lease` is the live lease of a live message.
absl::StatusOr<bool> LeaseLive(Connection& db, const Lease& lease, int64_t now);
// Moves the run to a terminal `status` with its output or error, and deletes its trigger
// message.
absl::Status EndRun(Connection& db, const RunRow& run, RunStatus status,
                    const std::string& output_json, const std::string& error_json, int64_t now);
// The workflow's retry policy. NOT_FOUND if the workflow is gone.
absl::StatusOr<RetryPolicy> LoadRetryPolicy(Connection& db, int64_t workflow_id);
// The step, if it was ever begun.
absl::StatusOr<std::optional<StepRow>> LoadStep(Connection& db, int64_t run_id,
                                                const std::string& name);

class SqliteStore final : public Store {
 public:
  // `readers` empty means every call runs on the writer (in-memory databases). Every
  // timestamp and deadline comes from `clock`.
  SqliteStore(std::unique_ptr<Connection> writer, std::vector<std::unique_ptr<Connection>> readers,
              std::shared_ptr<const Clock> clock);

  std::string backend() const override { return "sqlite"; }

  absl::StatusOr<MigrationReport> Migrate() override;
  absl::StatusOr<VerifyReport> Verify() override;

  absl::StatusOr<QueueInfo> CreateQueue(const QueueOptions& options) override;
  absl::StatusOr<QueueInfo> GetQueue(const std::string& name) override;
  absl::StatusOr<std::vector<QueueInfo>> ListQueues(const std::string& after_name,
                                                    int32_t limit) override;
  absl::Status DeleteQueue(const std::string& name, bool force) override;
  absl::StatusOr<int64_t> PurgeQueue(const std::string& name) override;
  absl::StatusOr<QueueCounts> GetQueueCounts(const std::string& name) override;
  absl::StatusOr<std::vector<NamedQueueCounts>> ListQueueCounts(const std::string& after_name,
                                                                int32_t limit) override;

  absl::StatusOr<std::vector<int64_t>> Enqueue(const std::string& queue,
                                               std::span<const NewMessage> messages,
                                               int64_t producer_worker_id) override;
  absl::StatusOr<std::vector<Message>> Dequeue(const std::string& queue,
                                               const DequeueOptions& options) override;
  absl::StatusOr<std::vector<LeaseOutcome>> Ack(const std::string& queue,
                                                std::span<const Lease> leases) override;
  absl::StatusOr<std::vector<LeaseOutcome>> Delete(const std::string& queue,
                                                   std::span<const Lease> leases) override;
  absl::StatusOr<std::vector<LeaseOutcome>> Nack(const std::string& queue,
                                                 std::span<const Lease> leases,
                                                 absl::Duration delay) override;
  absl::StatusOr<std::vector<LeaseOutcome>> ExtendVisibility(const std::string& queue,
                                                             std::span<const Lease> leases,
                                                             absl::Duration timeout) override;
  absl::StatusOr<std::vector<LeaseOutcome>> ReturnLeases(const std::string& queue,
                                                         std::span<const Lease> leases) override;
  absl::StatusOr<std::vector<Message>> GetMessages(const std::string& queue,
                                                   std::span<const int64_t> ids) override;
  absl::StatusOr<std::vector<Message>> ListDeadLetters(const std::string& queue, int64_t after_id,
                                                       int32_t limit) override;
  absl::StatusOr<int64_t> Redrive(const std::string& queue, std::span<const int64_t> ids) override;

  absl::StatusOr<WorkerInfo> RegisterWorker(const WorkerRegistration& reg) override;
  absl::StatusOr<WorkerInfo> Heartbeat(int64_t worker_id) override;
  absl::StatusOr<WorkerInfo> MoveWorker(int64_t worker_id, WorkerMove move) override;
  absl::StatusOr<WorkerInfo> ShutdownWorker(int64_t worker_id, bool release_messages) override;
  absl::StatusOr<WorkerInfo> GetWorker(int64_t worker_id) override;
  absl::StatusOr<std::vector<WorkerInfo>> ListWorkers(const WorkerFilter& filter) override;

  absl::StatusOr<WorkflowInfo> CreateWorkflow(const WorkflowOptions& options) override;
  absl::StatusOr<WorkflowInfo> GetWorkflow(const std::string& name) override;
  absl::StatusOr<std::vector<WorkflowInfo>> ListWorkflows(const std::string& after_name,
                                                          int32_t limit) override;
  absl::StatusOr<StartRunResult> StartRun(const NewRun& run) override;
  absl::StatusOr<ClaimResult> ClaimRun(const std::string& workflow,
                                       const ClaimOptions& options) override;
  absl::StatusOr<BeginStepResult> BeginStep(const RunLease& lease,
                                            const std::string& step_name) override;
  absl::StatusOr<StepInfo> CompleteStep(const RunLease& lease, const std::string& step_name,
                                        const std::string& output_json) override;
  absl::StatusOr<StepInfo> FailStep(const RunLease& lease, const std::string& step_name,
                                    const StepFailure& failure) override;
  absl::StatusOr<RunInfo> CompleteRun(const RunLease& lease,
                                      const std::string& output_json) override;
  absl::StatusOr<RunInfo> FailRun(const RunLease& lease, const std::string& error_json) override;
  absl::StatusOr<RunInfo> ExtendRunLease(const RunLease& lease, absl::Duration timeout) override;
  absl::StatusOr<RunInfo> PauseRun(const RunLease& lease, absl::Duration resume_after) override;
  absl::StatusOr<RunInfo> CancelRun(int64_t run_id) override;
  absl::StatusOr<RunInfo> GetRun(int64_t run_id) override;
  absl::StatusOr<std::vector<RunInfo>> ListRuns(const RunFilter& filter) override;
  absl::StatusOr<std::vector<StepInfo>> ListSteps(const StepFilter& filter) override;

  absl::StatusOr<ReclaimReport> ReclaimWorkers(const std::string& queue,
                                               absl::Duration older_than) override;
  absl::StatusOr<ReapReport> ReapMessages(absl::Duration archive_retention, int32_t batch) override;
  absl::StatusOr<RetentionReport> DeleteOldHistory(const RetentionPolicy& policy,
                                                   int32_t batch) override;
  absl::StatusOr<std::vector<std::string>> QueuesWithVisibleMessages(
      std::span<const std::string> queues) override;
  absl::StatusOr<SystemCounts> GetSystemCounts() override;
  std::optional<CommitStats> GetCommitStats() override;

 private:
  using Work = std::function<absl::Status(Connection&)>;

  int64_t NowMicros() const { return storage::NowMicros(*clock_); }

  // Runs `work` in a write transaction (group-committed).
  absl::Status Write(const Work& work) { return committer_.Run(work); }
  // Runs `work` in a read transaction on a reader connection (or on the writer).
  absl::Status Read(const Work& work);

  // The lease calls share this shape: check each lease, then apply `change` to valid ones.
  using LeaseChange = std::function<absl::Status(Connection&, const QueueRow&, const Lease&,
                                                 int64_t read_count, int64_t now)>;
  absl::StatusOr<std::vector<LeaseOutcome>> ApplyToLeases(TriggerQueue trigger,
                                                          const std::string& queue,
                                                          std::span<const Lease> leases,
                                                          const LeaseChange& change);

  // Runs work on the run tables in a write transaction, for the run rules
  // (storage/rules_runs.h) the lease-holder calls and CancelRun apply (sqlite_steps.cc).
  embedded::WriteRuns RunWriter();

  const std::shared_ptr<const Clock> clock_;
  std::unique_ptr<Connection> writer_;
  GroupCommit committer_;
  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
  const bool has_readers_;
};

}  // namespace pgqrs::storage::sqlite
