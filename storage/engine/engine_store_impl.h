// EngineStore's declaration, shared by the .cc files that implement it by concern, as in
// storage/sqlite: engine_store.cc (open, schema, queues), engine_messages.cc,
// engine_leases.cc, engine_workers.cc, engine_maintenance.cc, engine_workflows.cc and
// engine_steps.cc. Each Store call is one engine transaction: calls that change something are
// writing transactions (one at a time; the engine's commit shares WAL fsyncs between
// concurrent callers), read-only calls are read transactions on a snapshot that run beside
// them. Not part of the public API.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "engine/db/database.h"
#include "storage/engine/id_blocks.h"
#include "storage/file_time.h"
#include "storage/rules.h"
#include "storage/rules_runs.h"
#include "storage/store.h"

namespace pgqrs::storage::enginestore {

using engine::Row;
using engine::Transaction;
using engine::Value;

// Storage encodings shared with storage/sqlite (see migrations/sqlite/0001_*.sql).
enum RowState : int64_t { kLive = 0, kDead = 1, kArchived = 2 };
inline constexpr int64_t kQueueSequence = 1;
inline constexpr int64_t kWorkerSequence = 2;
inline constexpr int64_t kMessageSequence = 3;
inline constexpr int64_t kWorkflowSequence = 4;
inline constexpr int64_t kRunSequence = 5;
inline constexpr int64_t kStepSequence = 6;

// ---- Row access -------------------------------------------------------------------------

inline int64_t Int(const Row& row, int col) { return row[col].is_null() ? 0 : row[col].integer(); }
inline std::optional<int64_t> OptInt(const Row& row, int col) {
  if (row[col].is_null()) return std::nullopt;
  return row[col].integer();
}
// NULL reads as "".
inline std::string Text(const Row& row, int col) {
  return row[col].is_null() ? std::string() : row[col].bytes();
}
inline Value IntOrNull(std::optional<int64_t> v) { return v ? Value::Integer(*v) : Value::Null(); }
// 0 means none (anonymous worker ids).
inline Value IdOrNull(int64_t id) { return id ? Value::Integer(id) : Value::Null(); }
inline Value TextOrNull(const std::string& s) { return s.empty() ? Value::Null() : Value::Text(s); }

// Row `rowid` of `table`; NOT_FOUND carries `what`.
absl::StatusOr<Row> GetRow(Transaction& txn, const char* table, int64_t rowid,
                           const std::string& what);
// Transaction::Modify on an existing row; NOT_FOUND carries `what`.
absl::Status EditRow(Transaction& txn, const char* table, int64_t rowid, const std::string& what,
                     const std::function<absl::Status(Row&)>& edit);
// The range of index entries whose leading columns equal `prefix`.
engine::IndexRange PrefixRange(std::vector<Value> prefix);
// Rowids of the index entries whose leading columns equal `prefix`, in index order; the
// first `limit` of them when limit > 0.
absl::StatusOr<std::vector<int64_t>> RowidsWithPrefix(Transaction& txn, const char* index,
                                                      std::vector<Value> prefix, int64_t limit = 0);
// The number of index entries whose leading columns equal `prefix` (no table row is read).
absl::StatusOr<int64_t> CountWithPrefix(Transaction& txn, const char* index,
                                        std::vector<Value> prefix);
// Rowids of the first `limit` entries of a one-column index whose value is below `bound`,
// in index order (oldest first for a time column).
absl::StatusOr<std::vector<int64_t>> RowidsBelow(Transaction& txn, const char* index, int64_t bound,
                                                 int64_t limit);

// ---- Shared lookups ---------------------------------------------------------------------

struct QueueRow {
  int64_t id = 0;
  std::string name;
  int32_t max_read_count = 0;
  absl::Duration visibility_timeout;
};
QueueRow ToQueueRow(const Row& row);

// NOT_FOUND names the queue.
absl::StatusOr<QueueRow> FindQueue(Transaction& txn, const std::string& name);
// FindQueue for the queue calls: a workflow's trigger queue is FAILED_PRECONDITION
// (storage/rules.h, TriggerQueueRefused).
absl::StatusOr<QueueRow> FindPlainQueue(Transaction& txn, const std::string& name);
absl::StatusOr<QueueRow> QueueById(Transaction& txn, int64_t id);
// The rows of the queues named after `after_name`, in name order; at most `limit` of them.
absl::StatusOr<std::vector<Row>> QueueRowsAfter(Transaction& txn, const std::string& after_name,
                                                int32_t limit);

// Takes `count` ids from sequence `sequence`; returns the first. The hot sequences (messages,
// runs, steps) go through IdBlocks instead.
absl::StatusOr<int64_t> TakeIds(Transaction& txn, int64_t sequence, int64_t count);

// ---- Messages (engine_messages.cc, engine_leases.cc) ----------------------------------------

MessageState StateOf(const Row& m, int32_t max_read_count, int64_t now);
Message ToMessage(const Row& m, const std::string& queue, int32_t max_read_count, int64_t now);

// A named consumer must belong to the queue (or be an admin) and be ready or polling. It
// becomes polling and its heartbeat is refreshed.
absl::Status ClaimConsumer(Transaction& txn, int64_t worker_id, int64_t queue_id, int64_t now);

// Inserts message `id` into the queue. `producer` 0 means anonymous.
absl::Status InsertMessage(Transaction& txn, int64_t id, int64_t queue_id, const NewMessage& m,
                           int64_t producer, int64_t now);

// Ids of up to `limit` visible messages of the queue in dequeue order (priority descending,
// then visible_at, then id).
absl::StatusOr<std::vector<int64_t>> VisibleCandidates(Transaction& txn, int64_t queue_id,
                                                       int64_t now, int64_t limit);

// Leases visible message `id`: read_count + 1, visible_at = now + timeout, a fresh token.
// A message whose final lease ended is dead-lettered instead (nullopt).
absl::StatusOr<std::optional<Message>> LeaseOne(Transaction& txn, int64_t id, const QueueRow& q,
                                                const DequeueOptions& options, int64_t now);

// Leases visible messages of queue `q` into `leased` until it holds options.max_messages or
// none is left: `wanted` at a time, from a random offset among the first wanted x `window`
// (1: strictly in dequeue order), passing over those a newer commit claimed.
absl::Status ClaimVisible(Transaction& txn, const QueueRow& q, const DequeueOptions& options,
                          int64_t now, int64_t window, std::vector<Message>& leased);

// Ends the lease of message row `m` (token and consumer cleared).
void ClearLease(Row& m);

// Ends every expired lease of one queue, so a dead-letter call sees every dead letter.
absl::Status ExpireQueueLeases(Transaction& txn, int64_t queue_id, int64_t now);

// Ends at most `limit` expired leases of any queue, oldest expiry first.
struct ExpiredBatch {
  int64_t expired = 0;
  int64_t dead = 0;  // of them, dead-lettered at max_read_count
  bool more = false;
};
absl::StatusOr<ExpiredBatch> ExpireLeaseBatch(Transaction& txn, int64_t now, int64_t limit);

struct Released {
  int64_t messages = 0;
  std::vector<std::string> queues;  // queues that gained visible messages
};
// Ends every lease the worker holds: the messages are visible at once, or dead at
// max_read_count.
absl::StatusOr<Released> ReleaseWorkerLeases(Transaction& txn, int64_t worker_id, int64_t now);

// ---- Workflows (engine_workflows.cc), shared with engine_steps.cc ---------------------------

using embedded::RunRow;
using embedded::StepRow;

RunRow ToRunRow(const Row& row);

absl::StatusOr<RunRow> FindRun(Transaction& txn, int64_t run_id);
absl::StatusOr<RunInfo> LoadRun(Transaction& txn, int64_t run_id);
absl::StatusOr<bool> LeaseLive(Transaction& txn, const Lease& lease, int64_t now);
absl::Status EndRun(Transaction& txn, const RunRow& run, RunStatus status,
                    const std::string& output_json, const std::string& error_json, int64_t now);
absl::StatusOr<RetryPolicy> LoadRetryPolicy(Transaction& txn, int64_t workflow_id);
StepRow ToStepRow(const Row& row);
absl::StatusOr<std::optional<StepRow>> LoadStep(Transaction& txn, int64_t run_id,
                                                const std::string& name);

class EngineStore final : public Store {
 public:
  // Every timestamp and deadline comes from `clock`. `mvcc`: the database was opened with
  // concurrent writers (DatabaseOptions::mvcc), so claims spread over the first candidates.
  EngineStore(std::unique_ptr<engine::Database> db, std::shared_ptr<const Clock> clock, bool mvcc);
  ~EngineStore() override;

  std::string backend() const override { return "engine"; }

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
  using Work = std::function<absl::Status(Transaction&)>;

  int64_t NowMicros() const { return storage::NowMicros(*clock_); }

  // Runs `work` in one writing transaction (concurrent with others when mvcc is on) and
  // commits it; rolls back on error. When OK, everything the call wrote or read is durable
  // (Transaction::CommitDurable). A write conflict runs `work` again in a new transaction;
  // the fourth attempt is exclusive, so callers never see a conflict. `work` must therefore
  // set its results from scratch each time (clear what it appends to), and take ids outside
  // (IdBlocks).
  absl::Status Write(const Work& work);
  // One attempt of Write; in an exclusive transaction (Database::Begin, no write conflicts)
  // when `exclusive`, e.g. for schema changes.
  absl::Status WriteOnce(const Work& work, bool exclusive);
  // Runs `work`, which only reads, in a read transaction: a snapshot of the last commit that
  // neither waits for the writer nor delays it. When OK, everything it read is durable.
  absl::Status Read(const Work& work);

  // FindPlainQueue for the lifecycle calls (Enqueue, Dequeue and the lease calls). Queue rows
  // never change and a queue becomes a trigger queue only when CreateWorkflow creates it, so
  // a plain queue found once is remembered until DeleteQueue; a call then skips the two index
  // lookups and the row read. Only with mvcc off: every writing transaction then sees the
  // newest commit, as the cache does (a concurrent transaction's snapshot may predate it).
  absl::StatusOr<QueueRow> PlainQueue(Transaction& txn, const std::string& name);
  // Drops `name` from PlainQueue's memory. Called inside the transaction that deletes it.
  void ForgetPlainQueue(const std::string& name);

  // The lease calls share this shape: check each lease, then let `edit` change the message
  // of each valid one in place. An empty `edit` deletes those messages instead.
  using LeaseEdit = std::function<void(const QueueRow&, Row& message, int64_t now)>;
  // `trigger` says whether a workflow's trigger queue is allowed (storage/rules.h).
  absl::StatusOr<std::vector<LeaseOutcome>> ApplyToLeases(TriggerQueue trigger,
                                                          const std::string& queue,
                                                          std::span<const Lease> leases,
                                                          const LeaseEdit& edit);

  // Runs work on the run tables in a write transaction, for the run rules
  // (storage/rules_runs.h) the lease-holder calls and CancelRun apply (engine_steps.cc).
  // `new_step_id` is the id a step inserted by the work gets (BeginStep takes one first).
  embedded::WriteRuns RunWriter(int64_t new_step_id = 0);

  const std::shared_ptr<const Clock> clock_;
  std::unique_ptr<engine::Database> db_;
  const bool mvcc_;
  // Message, run and step ids, taken before the transaction that inserts them.
  IdBlocks ids_;
  absl::Mutex plain_queues_mu_;
  absl::flat_hash_map<std::string, QueueRow> plain_queues_ ABSL_GUARDED_BY(plain_queues_mu_);
  std::atomic<int> claims_in_progress_{0};            // Dequeue calls running now
  std::atomic<int64_t> write_conflicts_{0};           // transactions that lost a conflict
  std::atomic<int64_t> write_retried_calls_{0};       // calls that ran more than once
  std::atomic<int64_t> write_exclusive_attempts_{0};  // calls that ended exclusively
};

}  // namespace pgqrs::storage::enginestore
