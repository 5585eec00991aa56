// PostgresStore's declaration, shared by the .cc files that implement it by concern:
// postgres_store.cc (open, schema, queues, counts), messages.cc, workers.cc,
// workflows.cc and steps.cc.
// Internal to storage/postgres.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/postgres/pg_listener.h"
#include "storage/postgres/pg_pool.h"
#include "storage/postgres/postgres_store.h"
#include "storage/rules.h"

namespace pgqrs::storage::pg {

// SQL for a TIMESTAMPTZ column as int8 microseconds since the epoch (Rows::Time reads it).
#define PGQRS_US(column) "(extract(epoch from " column ") * 1000000)::int8"

// SQL for an int8 microseconds parameter as an interval.
#define PGQRS_MICROS(param) "(" param "::int8 * interval '1 microsecond')"

// Largest batch any call accepts (the server's limit is lower); bounds array parameters.
inline constexpr size_t kMaxBatch = 10000;

// The queue columns a call needs, read inside its transaction.
struct QueueRow {
  int64_t id = 0;
  int32_t max_read_count = 0;
  absl::Duration visibility_timeout;
};

// Why a lifecycle function (migrations/postgres/0004_call_functions.sql, 0005_lean_calls.sql)
// refused a call.
enum class Refusal : int64_t {
  kNone = 0,
  kQueueNotFound = 1,
  kTriggerQueue = 2,  // a plain-queue call named a workflow's trigger queue
  kWorkerNotFound = 3,
  kWorkerStopped = 4,
  kWorkerOfAnotherQueue = 5,
  kWorkerNotReady = 6,  // a consumer that is suspended or interrupted
};

// The status of refusal code `refusal` for a call on `queue` by `worker_id`: OK for
// kNone. (messages.cc)
absl::Status RefusalStatus(int64_t refusal, const std::string& queue, int64_t worker_id);

// The consumer rule of Dequeue and ClaimRun: worker `worker_id` must exist, not be
// stopped, belong to the queue (or be an admin) and be ready or polling; it becomes
// polling and its heartbeat is refreshed. (messages.cc)
absl::Status ClaimConsumer(Tx& tx, int64_t worker_id, int64_t queue_id);

// Leases up to `max_messages` visible messages of queue `q` (named `queue`) in dequeue
// order, FOR UPDATE SKIP LOCKED, dead-lettering those whose final lease expired on the
// way: the dequeue path (pgqrs_lease_visible) that ClaimRun shares with Dequeue.
// (messages.cc)
absl::StatusOr<std::vector<Message>> LeaseVisible(Tx& tx, const std::string& queue,
                                                  const QueueRow& q, int32_t max_messages,
                                                  absl::Duration timeout, int64_t consumer);

// A run row as the workflow calls need it, read under FOR UPDATE. (workflows.cc)
struct RunRow {
  int64_t id = 0;
  int64_t workflow_id = 0;
  std::string workflow;  // also its trigger queue's name
  RunStatus status = RunStatus::kQueued;
  std::optional<int64_t> message_id;  // the trigger, while not terminal
};

// A step row: the public view plus what the lease checks need. (workflows.cc)
struct StepRow {
  int64_t id = 0;
  StepInfo info;
  std::optional<int64_t> owner;  // lease token it was last started under
  bool due = true;               // retry_at unset or passed, by the database clock
};

// Workflow helpers shared by workflows.cc and steps.cc.
// Locks run `run_id` FOR UPDATE; NOT_FOUND when missing.
absl::StatusOr<RunRow> LockRun(Tx& tx, int64_t run_id);
absl::StatusOr<RunInfo> LoadRun(Tx& tx, int64_t run_id);
// Ends the run in a terminal `status` and deletes its trigger message. Empty JSON is NULL.
absl::Status EndRun(Tx& tx, const RunRow& run, RunStatus status, const std::string& output_json,
                    const std::string& error_json);
absl::StatusOr<std::optional<StepRow>> LoadStep(Tx& tx, int64_t run_id, const std::string& name);
// Reads a step row from `rows` (the step columns, as selected or returned).
StepRow ReadStepRow(const Rows& rows, int row);
// The step columns, for SELECT lists and RETURNING clauses.
#define PGQRS_STEP_COLUMNS \
  "id, run_id, step_name, status, output::text, error::text, attempts, " PGQRS_US("retry_at") \
  ", exhausted, " PGQRS_US("started_at") ", " PGQRS_US("completed_at")                        \
  ", lease_token, (retry_at IS NULL OR retry_at <= now())"

class PostgresStore final : public Store {
 public:
  PostgresStore(std::string schema, std::unique_ptr<PgPool> pool, PostgresOptions options);
  ~PostgresStore() override;

  std::string backend() const override { return "postgres"; }
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

  void SetRemoteWakeHandler(std::function<void(const std::string& queue)> handler) override;

 private:
  // One Store call: a transaction with this store's search_path.
  absl::Status Transact(const std::function<absl::Status(Tx&)>& body);
  // One Store call that is a single statement: sent with this store's transaction
  // settings in one round trip, as one transaction. With `wake_queue`, a wake-up for that
  // queue follows in the same flight, in a transaction of its own that does not wait for
  // its commit to reach disk (NOTIFY serialises committing transactions).
  absl::StatusOr<Rows> Call(const Statement& statement, const Params& params,
                            const std::string* wake_queue = nullptr);
  // Dequeue by an anonymous consumer as one plain statement (plain_calls.h), with
  // `tokens` for the leases. Nullopt, having changed nothing, when a candidate must be
  // dead-lettered first: pgqrs_dequeue does that call.
  absl::StatusOr<std::optional<std::vector<Message>>> PlainDequeue(
      const std::string& queue, const DequeueOptions& options, const std::vector<int64_t>& tokens);
  // The pgqrs_wake payload that names `queue` to other daemons.
  std::string WakePayload(const std::string& queue) const;
  // The queue's row, NOT_FOUND when missing. `lock` takes FOR UPDATE.
  absl::StatusOr<QueueRow> FindQueue(Tx& tx, const std::string& name, bool lock = false);
  // FindQueue for the queue calls: FAILED_PRECONDITION for a workflow's trigger queue.
  absl::StatusOr<QueueRow> FindPlainQueue(Tx& tx, const std::string& name, bool lock = false);
  // Queues a wake-up for other daemons; delivered only if the transaction commits.
  absl::Status Notify(Tx& tx, const std::string& queue);
  // A lease call: pgqrs_settle_leases's action and how its outcomes read.
  struct LeaseCall {
    const char* action = "";
    TriggerQueue trigger = TriggerQueue::kRefuse;
    bool lease_survives = false;  // a repeat of an applied lease in the batch is OK too
    absl::Duration duration = absl::ZeroDuration();  // nack delay or visibility timeout
    bool wakes = false;  // may make messages visible now: wake other daemons
  };
  absl::StatusOr<std::vector<LeaseOutcome>> ApplyLeases(const LeaseCall& call,
                                                        const std::string& queue,
                                                        std::span<const Lease> leases);
  // Ends the leases of `worker_ids` (read_count kept; dead-letters at max_read_count).
  // Returns how many unexpired leases ended and the queues that gained visible messages.
  absl::StatusOr<std::pair<int64_t, std::vector<std::string>>> ReleaseLeases(
      Tx& tx, const std::vector<int64_t>& worker_ids);
  absl::StatusOr<WorkerInfo> ReadWorker(Tx& tx, int64_t worker_id);
  // A lease-holder write (steps.cc): one transaction that locks the trigger message and
  // the run, checks the lease and the run's state, then calls `change` on a RUNNING run.
  // A CANCELLED run, or a CANCELLING one (finalised here), sets *cancelled instead.
  using RunChange = std::function<absl::Status(Tx&, const RunRow&)>;
  absl::Status UnderLease(const RunLease& lease, const RunChange& change, bool* cancelled);
  // UnderLease for the writes a cancelled run refuses: CANCELLED instead of *cancelled.
  absl::Status UnderLeaseUnlessCancelled(const RunLease& lease, const RunChange& change);
  absl::StatusOr<std::vector<std::string>> AllQueueNames();

  const std::string schema_;
  const std::string begin_sql_;
  const Params call_settings_;  // Call's first statement: begin_sql_'s settings
  const std::unique_ptr<PgPool> pool_;
  const PostgresOptions options_;
  std::unique_ptr<PgListener> listener_;
};

}  // namespace pgqrs::storage::pg
