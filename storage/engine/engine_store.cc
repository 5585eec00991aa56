#include "storage/engine/engine_store.h"

#include <iterator>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/crypto/key.h"
#include "storage/checks.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"
#include "storage/migrate.h"

namespace pgqrs::storage {
namespace enginestore {

std::span<const TableLayout> ExpectedLayouts() {
  static constexpr const char* kSeq[] = {"id", "next_id"};
  static constexpr const char* kQueue[] = {"id", "queue_name", "max_read_count",
                                           "visibility_timeout_ms", "created_at"};
  static constexpr const char* kWorker[] = {
      "id",       "name",        "queue_id",   "role",         "status",
      "hostname", "labels_json", "started_at", "heartbeat_at", "shutdown_at"};
  static constexpr const char* kMsg[] = {"id",
                                         "queue_id",
                                         "payload",
                                         "priority",
                                         "state",
                                         "vt",
                                         "enqueued_at",
                                         "read_ct",
                                         "lease_token",
                                         "dequeued_at",
                                         "producer_worker_id",
                                         "consumer_worker_id",
                                         "dedup_key",
                                         "archived_at"};
  static constexpr const char* kWorkflow[] = {
      "id",         "name",      "queue_id", "max_attempts", "base_backoff_ms", "max_backoff_ms",
      "jitter_ppm", "created_at"};
  static constexpr const char* kRun[] = {
      "id",         "workflow_id",     "status",       "input",     "output",
      "error",      "idempotency_key", "message_id",   "worker_id", "created_at",
      "updated_at", "started_at",      "completed_at", "resume_at"};
  static constexpr const char* kStep[] = {"id",        "run_id",      "step_name",  "status",
                                          "output",    "error",       "attempts",   "retry_at",
                                          "exhausted", "lease_token", "started_at", "completed_at"};
  static constexpr const char* kMigration[] = {"version", "name", "checksum", "applied_at"};
  static_assert(std::size(kSeq) == seq::kCount && std::size(kQueue) == queue::kCount &&
                std::size(kWorker) == worker::kCount && std::size(kMsg) == msg::kCount &&
                std::size(kWorkflow) == workflow::kCount && std::size(kRun) == run::kCount &&
                std::size(kStep) == step::kCount && std::size(kMigration) == migration::kCount);
  static const TableLayout kLayouts[] = {
      {kSequences, kSeq},      {kQueues, kQueue}, {kWorkers, kWorker}, {kMessages, kMsg},
      {kWorkflows, kWorkflow}, {kRuns, kRun},     {kSteps, kStep},     {kMigrations, kMigration}};
  return kLayouts;
}

namespace {

const std::vector<Migration>& FileSchema() {
  static const auto* schema =
      new std::vector<Migration>(LoadMigrations(migrations::SqliteMigrations()));
  return *schema;
}

// The version table, read and written through the engine in the caller's transaction.
absl::StatusOr<std::vector<AppliedMigration>> ReadAppliedIn(Transaction& txn) {
  PGQRS_RETURN_IF_ERROR(txn.ExecuteScript(kFileMigrationsTableDdl));
  PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanTable(kMigrations));
  std::vector<AppliedMigration> applied;
  while (it->Valid()) {
    PGQRS_ASSIGN_OR_RETURN(Row row, it->row());
    applied.push_back(
        {static_cast<int32_t>(Int(row, migration::kVersion)), Text(row, migration::kChecksum)});
    PGQRS_RETURN_IF_ERROR(it->Next());
  }
  return applied;
}

// Checks that every pgqrs table present has the columns tables.h expects, in order.
absl::Status CheckLayouts(const std::vector<engine::TableDef>& tables) {
  for (const TableLayout& layout : ExpectedLayouts()) {
    for (const engine::TableDef& def : tables) {
      if (def.name != layout.table) continue;
      bool same = def.columns.size() == layout.columns.size();
      for (size_t i = 0; same && i < def.columns.size(); ++i) {
        same = def.columns[i].name == layout.columns[i];
      }
      if (!same) {
        return absl::FailedPreconditionError(
            absl::StrCat("table ", def.name, " does not have the columns this binary expects"));
      }
    }
  }
  return absl::OkStatus();
}

class EngineMigrationTarget final : public MigrationTarget {
 public:
  // `clock` stamps applied_at.
  EngineMigrationTarget(engine::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  absl::StatusOr<std::vector<AppliedMigration>> ReadApplied() override {
    return InTransaction<std::vector<AppliedMigration>>(ReadAppliedIn);
  }

  absl::Status Apply(const Migration& m) override {
    return InTransaction<bool>([&](Transaction& txn) -> absl::StatusOr<bool> {
             PGQRS_ASSIGN_OR_RETURN(std::optional<Row> seen, txn.Get(kMigrations, m.version));
             if (seen) return false;  // another process applied it meanwhile
             absl::Status ran = txn.ExecuteScript(m.sql);
             if (!ran.ok()) {
               return absl::Status(ran.code(),
                                   absl::StrCat("migration ", m.name, ": ", ran.message()));
             }
             PGQRS_RETURN_IF_ERROR(
                 txn.Insert(kMigrations,
                            {Value::Integer(m.version), Value::Text(m.name),
                             Value::Text(m.checksum), Value::Integer(NowMicros(clock_))})
                     .status());
             return true;
           })
        .status();
  }

 private:
  template <typename T, typename F>
  absl::StatusOr<T> InTransaction(F work) {
    PGQRS_ASSIGN_OR_RETURN(auto txn, db_.Begin());
    absl::StatusOr<T> result = work(*txn);
    if (!result.ok()) return result.status();  // the destructor rolls back
    PGQRS_RETURN_IF_ERROR(txn->Commit());
    return result;
  }

  engine::Database& db_;
  const Clock& clock_;
};

QueueInfo ToQueueInfo(const Row& row) {
  QueueInfo info;
  info.id = Int(row, queue::kId);
  info.name = Text(row, queue::kName);
  info.max_read_count = static_cast<int32_t>(Int(row, queue::kMaxReadCount));
  info.visibility_timeout = absl::Milliseconds(Int(row, queue::kVisibilityTimeoutMs));
  info.created_at = FromMicros(Int(row, queue::kCreatedAt));
  return info;
}

absl::StatusOr<std::optional<Row>> QueueRowByName(Transaction& txn, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                         RowidsWithPrefix(txn, kQueuesByName, {Value::Text(name)}));
  if (ids.empty()) return std::optional<Row>();
  PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kQueues, ids[0], "queue"));
  return std::optional<Row>(std::move(row));
}

// Every foreign key the schema declares holds (what PRAGMA foreign_key_check reports).
absl::Status CheckForeignKeys(Transaction& txn, const std::vector<engine::TableDef>& tables,
                              std::vector<std::string>* problems) {
  for (const engine::TableDef& def : tables) {
    for (size_t col = 0; col < def.columns.size(); ++col) {
      const engine::ColumnDef& c = def.columns[col];
      if (c.references_table.empty()) continue;
      PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanTable(def.name));
      while (it->Valid()) {
        PGQRS_ASSIGN_OR_RETURN(Row row, it->row());
        std::optional<Row> parent;
        if (!row[col].is_null()) {
          PGQRS_ASSIGN_OR_RETURN(parent,
                                 txn.Get(c.references_table, Int(row, static_cast<int>(col))));
        }
        if (!row[col].is_null() && !parent) {
          problems->push_back(absl::StrCat("foreign key violation in ", def.name, " rowid ",
                                           it->rowid(), " -> ", c.references_table));
        }
        PGQRS_RETURN_IF_ERROR(it->Next());
      }
    }
  }
  return absl::OkStatus();
}

// Reads every row of every index and table, so a damaged page surfaces as a problem.
absl::Status ReadEverything(Transaction& txn, const std::vector<engine::TableDef>& tables,
                            const std::vector<engine::IndexDef>& indexes,
                            std::vector<std::string>* problems) {
  auto note = [&](const std::string& what, const absl::Status& s) {
    if (!s.ok()) problems->push_back(absl::StrCat("integrity: ", what, ": ", s.message()));
  };
  for (const engine::TableDef& def : tables) {
    absl::StatusOr<std::unique_ptr<engine::Iterator>> it = txn.ScanTable(def.name);
    absl::Status s = it.status();
    while (s.ok() && (*it)->Valid()) s = (*it)->Next();
    note(def.name, s);
  }
  for (const engine::IndexDef& def : indexes) {
    absl::StatusOr<std::unique_ptr<engine::Iterator>> it = txn.ScanIndex(def.name, {});
    absl::Status s = it.status();
    while (s.ok() && (*it)->Valid()) s = (*it)->Next();
    note(def.name, s);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Row> GetRow(Transaction& txn, const char* table, int64_t rowid,
                           const std::string& what) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<Row> row, txn.Get(table, rowid));
  if (!row) return absl::NotFoundError(absl::StrCat(what, " ", rowid, " not found"));
  return std::move(*row);
}

absl::Status EditRow(Transaction& txn, const char* table, int64_t rowid, const std::string& what,
                     const std::function<absl::Status(Row&)>& edit) {
  PGQRS_ASSIGN_OR_RETURN(bool found, txn.Modify(table, rowid, edit));
  if (!found) return absl::NotFoundError(absl::StrCat(what, " ", rowid, " not found"));
  return absl::OkStatus();
}

namespace {

absl::StatusOr<std::vector<int64_t>> RowidsInRange(Transaction& txn, const char* index,
                                                   const engine::IndexRange& range, int64_t limit) {
  PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanIndex(index, range));
  std::vector<int64_t> ids;
  while (it->Valid() && (limit <= 0 || static_cast<int64_t>(ids.size()) < limit)) {
    ids.push_back(it->rowid());
    PGQRS_RETURN_IF_ERROR(it->Next());
  }
  return ids;
}

}  // namespace

engine::IndexRange PrefixRange(std::vector<Value> prefix) {
  engine::IndexRange range;
  range.lower = engine::IndexBound{prefix, true};
  range.upper = engine::IndexBound{std::move(prefix), true};
  return range;
}

absl::StatusOr<std::vector<int64_t>> RowidsWithPrefix(Transaction& txn, const char* index,
                                                      std::vector<Value> prefix, int64_t limit) {
  return RowidsInRange(txn, index, PrefixRange(std::move(prefix)), limit);
}

absl::StatusOr<int64_t> CountWithPrefix(Transaction& txn, const char* index,
                                        std::vector<Value> prefix) {
  PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanIndex(index, PrefixRange(std::move(prefix))));
  int64_t count = 0;
  for (; it->Valid(); ++count) PGQRS_RETURN_IF_ERROR(it->Next());
  return count;
}

absl::StatusOr<std::vector<int64_t>> RowidsBelow(Transaction& txn, const char* index, int64_t bound,
                                                 int64_t limit) {
  engine::IndexRange range;
  range.upper = engine::IndexBound{{Value::Integer(bound)}, /*inclusive=*/false};
  return RowidsInRange(txn, index, range, limit);
}

QueueRow ToQueueRow(const Row& row) {
  return {Int(row, queue::kId), Text(row, queue::kName),
          static_cast<int32_t>(Int(row, queue::kMaxReadCount)),
          absl::Milliseconds(Int(row, queue::kVisibilityTimeoutMs))};
}

absl::StatusOr<QueueRow> FindQueue(Transaction& txn, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<Row> row, QueueRowByName(txn, name));
  if (!row) return absl::NotFoundError(absl::StrCat("queue \"", name, "\" not found"));
  return ToQueueRow(*row);
}

absl::StatusOr<QueueRow> FindPlainQueue(Transaction& txn, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(QueueRow row, FindQueue(txn, name));
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> workflows,
                         RowidsWithPrefix(txn, kWorkflowsByQueue, {Value::Integer(row.id)}));
  if (!workflows.empty()) return TriggerQueueRefused(name);
  return row;
}

absl::StatusOr<QueueRow> EngineStore::PlainQueue(Transaction& txn, const std::string& name) {
  if (mvcc_) return FindPlainQueue(txn, name);
  {
    absl::MutexLock l(&plain_queues_mu_);
    auto it = plain_queues_.find(name);
    if (it != plain_queues_.end()) return it->second;
  }
  PGQRS_ASSIGN_OR_RETURN(QueueRow row, FindPlainQueue(txn, name));
  absl::MutexLock l(&plain_queues_mu_);
  plain_queues_.emplace(name, row);
  return row;
}

void EngineStore::ForgetPlainQueue(const std::string& name) {
  absl::MutexLock l(&plain_queues_mu_);
  plain_queues_.erase(name);
}

absl::StatusOr<QueueRow> QueueById(Transaction& txn, int64_t id) {
  PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kQueues, id, "queue"));
  return ToQueueRow(row);
}

absl::StatusOr<std::vector<Row>> QueueRowsAfter(Transaction& txn, const std::string& after_name,
                                                int32_t limit) {
  engine::IndexRange range;
  range.lower = engine::IndexBound{{Value::Text(after_name)}, /*inclusive=*/false};
  PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanIndex(kQueuesByName, range));
  std::vector<Row> rows;
  while (it->Valid() && static_cast<int32_t>(rows.size()) < limit) {
    PGQRS_ASSIGN_OR_RETURN(Row row, it->row());
    rows.push_back(std::move(row));
    PGQRS_RETURN_IF_ERROR(it->Next());
  }
  return rows;
}

absl::StatusOr<int64_t> TakeIds(Transaction& txn, int64_t sequence, int64_t count) {
  int64_t first = 0;
  PGQRS_ASSIGN_OR_RETURN(bool found, txn.Modify(kSequences, sequence, [&](Row& row) {
    first = Int(row, seq::kNextId);
    row[seq::kNextId] = Value::Integer(first + count);
    return absl::OkStatus();
  }));
  if (!found) return absl::DataLossError("pgqrs_sequences row missing");
  return first;
}

namespace {
// Ids reserved per sequence row write: one small commit per this many messages.
constexpr int64_t kIdBlockSize = 1024;
}  // namespace

EngineStore::EngineStore(std::unique_ptr<engine::Database> db, std::shared_ptr<const Clock> clock,
                         bool mvcc)
    : clock_(std::move(clock)), db_(std::move(db)), mvcc_(mvcc), ids_(*db_, kIdBlockSize) {}

EngineStore::~EngineStore() { db_->Close().IgnoreError(); }

namespace {

// Concurrent attempts of one call; after that many lost write conflicts it runs exclusively.
constexpr int kConcurrentAttempts = 4;

// The pause before attempt `attempt` (2, 3, 4): jittered and growing, up to 0.1, 0.2 and
// 0.4 ms, so the transactions that collided do not collide again at once.
absl::Duration RetryBackoff(int attempt) {
  thread_local absl::BitGen random;
  const int64_t ceiling_us = int64_t{50} << (attempt - 1);
  return absl::Microseconds(absl::Uniform<int64_t>(random, 0, ceiling_us));
}

}  // namespace

absl::Status EngineStore::WriteOnce(const Work& work, bool exclusive) {
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn,
                         exclusive ? db_->Begin() : db_->BeginConcurrent());
  absl::Status status = work(*txn);
  if (!status.ok()) {
    txn->Rollback();
    return status;
  }
  // Durable also when the call wrote nothing but answers from another caller's commit (a
  // dedup hit, a lost lease) whose fsync is still running.
  return txn->CommitDurable();
}

absl::Status EngineStore::Write(const Work& work) {
  for (int attempt = 1; attempt < kConcurrentAttempts; ++attempt) {
    absl::Status status = WriteOnce(work, /*exclusive=*/false);
    if (!engine::IsWriteConflict(status)) return status;
    write_conflicts_.fetch_add(1, std::memory_order_relaxed);
    if (attempt == 1) write_retried_calls_.fetch_add(1, std::memory_order_relaxed);
    // The conflict comes once the winner is durable, so the next snapshot includes it.
    absl::SleepFor(RetryBackoff(attempt + 1));
  }
  // Eight consumers fighting over a few visible messages can make one lose every time, so the
  // last attempt is exclusive: no other transaction commits while it runs, it cannot conflict,
  // and every call completes.
  write_exclusive_attempts_.fetch_add(1, std::memory_order_relaxed);
  return WriteOnce(work, /*exclusive=*/true);
}

absl::Status EngineStore::Read(const Work& work) {
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, db_->BeginRead());
  PGQRS_RETURN_IF_ERROR(work(*txn));  // the destructor ends the transaction
  return txn->CommitDurable();        // never shows what a crash could undo
}

absl::StatusOr<MigrationReport> EngineStore::Migrate() {
  EngineMigrationTarget target(*db_, *clock_);
  PGQRS_ASSIGN_OR_RETURN(MigrationReport report, RunMigrations(target, FileSchema()));
  PGQRS_RETURN_IF_ERROR(CheckLayouts(db_->Tables()));
  return report;
}

absl::StatusOr<VerifyReport> EngineStore::Verify() {
  VerifyReport report;
  // Tables() and Indexes() wait for the open transaction, so they come before one starts.
  std::vector<engine::TableDef> tables = db_->Tables();
  std::vector<engine::IndexDef> indexes = db_->Indexes();
  PGQRS_RETURN_IF_ERROR(CheckLayouts(tables));
  // Exclusive: ReadAppliedIn creates the version table when it is missing.
  absl::Status status = WriteOnce(
      [&](Transaction& txn) -> absl::Status {
        PGQRS_ASSIGN_OR_RETURN(auto applied, ReadAppliedIn(txn));
        SchemaState state = CompareSchema(applied, FileSchema());
        report.schema_version = state.version;
        report.problems = SchemaProblems(state);
        return CheckForeignKeys(txn, tables, &report.problems);
      },
      /*exclusive=*/true);
  if (!status.ok()) return status;
  PGQRS_RETURN_IF_ERROR(Read(
      [&](Transaction& txn) { return ReadEverything(txn, tables, indexes, &report.problems); }));
  return report;
}

absl::StatusOr<QueueInfo> EngineStore::CreateQueue(const QueueOptions& options) {
  PGQRS_RETURN_IF_ERROR(CheckText("name", options.name));
  QueueInfo info;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(std::optional<Row> existing, QueueRowByName(txn, options.name));
    if (existing) {
      if (!options.if_not_exists) {
        return absl::AlreadyExistsError(
            absl::StrCat("queue \"", options.name, "\" already exists"));
      }
      info = ToQueueInfo(*existing);
      return absl::OkStatus();
    }
    PGQRS_ASSIGN_OR_RETURN(int64_t id, TakeIds(txn, kQueueSequence, 1));
    info = {id, options.name, options.max_read_count, options.visibility_timeout,
            FromMicros(NowMicros())};
    return txn
        .Insert(kQueues, {Value::Integer(id), Value::Text(options.name),
                          Value::Integer(options.max_read_count),
                          Value::Integer(absl::ToInt64Milliseconds(options.visibility_timeout)),
                          Value::Integer(absl::ToUnixMicros(info.created_at))})
        .status();
  });
  if (!status.ok()) return status;
  return info;
}

absl::StatusOr<QueueInfo> EngineStore::GetQueue(const std::string& name) {
  QueueInfo info;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(std::optional<Row> row, QueueRowByName(txn, name));
    if (!row) return absl::NotFoundError(absl::StrCat("queue \"", name, "\" not found"));
    info = ToQueueInfo(*row);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return info;
}

absl::StatusOr<std::vector<QueueInfo>> EngineStore::ListQueues(const std::string& after_name,
                                                               int32_t limit) {
  std::vector<QueueInfo> queues;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(std::vector<Row> rows, QueueRowsAfter(txn, after_name, limit));
    for (const Row& row : rows) queues.push_back(ToQueueInfo(row));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return queues;
}

namespace {

// Unarchived messages and live workers of a queue: what blocks a delete without force.
absl::StatusOr<std::pair<int64_t, int64_t>> QueueBusy(Transaction& txn, int64_t queue_id) {
  int64_t messages = 0, workers = 0;
  for (int64_t state : {kLive, kDead}) {
    PGQRS_ASSIGN_OR_RETURN(
        auto ids,
        RowidsWithPrefix(txn, kMessagesDequeue, {Value::Integer(queue_id), Value::Integer(state)}));
    messages += static_cast<int64_t>(ids.size());
  }
  for (WorkerStatus s : {WorkerStatus::kReady, WorkerStatus::kPolling, WorkerStatus::kSuspended,
                         WorkerStatus::kInterrupted}) {
    PGQRS_ASSIGN_OR_RETURN(auto ids, RowidsWithPrefix(txn, kWorkersByQueue,
                                                      {Value::Integer(queue_id),
                                                       Value::Integer(static_cast<int64_t>(s))}));
    workers += static_cast<int64_t>(ids.size());
  }
  return std::make_pair(messages, workers);
}

absl::StatusOr<int64_t> DeleteQueueMessages(Transaction& txn, int64_t queue_id) {
  PGQRS_ASSIGN_OR_RETURN(auto ids,
                         RowidsWithPrefix(txn, kMessagesDequeue, {Value::Integer(queue_id)}));
  for (int64_t id : ids) PGQRS_RETURN_IF_ERROR(txn.Delete(kMessages, id).status());
  return static_cast<int64_t>(ids.size());
}

// Messages of other queues may name the workers about to go: unlink them first.
absl::Status UnlinkWorker(Transaction& txn, int64_t worker_id) {
  PGQRS_ASSIGN_OR_RETURN(auto produced,
                         RowidsWithPrefix(txn, kMessagesProducer, {Value::Integer(worker_id)}));
  for (int64_t id : produced) {
    PGQRS_RETURN_IF_ERROR(EditRow(txn, kMessages, id, "message", [](Row& m) {
      m[msg::kProducerWorkerId] = Value::Null();
      return absl::OkStatus();
    }));
  }
  PGQRS_ASSIGN_OR_RETURN(auto consumed,
                         RowidsWithPrefix(txn, kMessagesConsumer, {Value::Integer(worker_id)}));
  for (int64_t id : consumed) {
    PGQRS_RETURN_IF_ERROR(EditRow(txn, kMessages, id, "message", [](Row& m) {
      ClearLease(m);
      return absl::OkStatus();
    }));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EngineStore::DeleteQueue(const std::string& name, bool force) {
  return Write([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow queue, FindPlainQueue(txn, name));
    if (!force) {
      PGQRS_ASSIGN_OR_RETURN(auto busy, QueueBusy(txn, queue.id));
      if (busy.first > 0 || busy.second > 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("queue \"", name, "\" has ", busy.first, " unarchived messages and ",
                         busy.second, " live workers; purge it, stop them, or delete with force"));
      }
    }
    PGQRS_RETURN_IF_ERROR(DeleteQueueMessages(txn, queue.id).status());
    PGQRS_ASSIGN_OR_RETURN(auto workers,
                           RowidsWithPrefix(txn, kWorkersByQueue, {Value::Integer(queue.id)}));
    for (int64_t id : workers) PGQRS_RETURN_IF_ERROR(UnlinkWorker(txn, id));
    for (int64_t id : workers) PGQRS_RETURN_IF_ERROR(txn.Delete(kWorkers, id).status());
    ForgetPlainQueue(name);
    return txn.Delete(kQueues, queue.id).status();
  });
}

absl::StatusOr<int64_t> EngineStore::PurgeQueue(const std::string& name) {
  int64_t purged = 0;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow queue, FindPlainQueue(txn, name));
    PGQRS_ASSIGN_OR_RETURN(purged, DeleteQueueMessages(txn, queue.id));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return purged;
}

}  // namespace enginestore

namespace {

absl::StatusOr<bool> OnOff(const std::string& key, const std::string& value) {
  if (value == "on") return true;
  if (value == "off") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("DSN option ", key, "=", value, ": expected on or off"));
}

absl::StatusOr<engine::DatabaseOptions> EngineOptions(const Dsn& dsn) {
  engine::DatabaseOptions options;
  for (const auto& [key, value] : dsn.options) {
    if (key == "mvcc") {
      PGQRS_ASSIGN_OR_RETURN(options.mvcc, OnOff(key, value));
    } else if (key == "io") {
      if (value == "auto") {
        options.io = engine::IoBackendKind::kAuto;
      } else if (value == "uring") {
        options.io = engine::IoBackendKind::kUring;
      } else if (value == "posix") {
        options.io = engine::IoBackendKind::kPosix;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("DSN option io=", value, ": expected auto, uring or posix"));
      }
    } else if (key == "cache_pages") {
      int64_t pages = 0;
      if (!absl::SimpleAtoi(value, &pages) || pages < 16 || pages > 10000000) {
        return absl::InvalidArgumentError(absl::StrCat(
            "DSN option cache_pages=", value, ": expected an integer from 16 to 10000000"));
      }
      options.cache_pages = static_cast<size_t>(pages);
    } else if (key == "key_file" || key == "key_env") {
      // The key itself never travels in the DSN: only where to read it from.
      if (options.key != nullptr) {
        return absl::InvalidArgumentError("DSN options key_file and key_env are exclusive");
      }
      PGQRS_ASSIGN_OR_RETURN(options.key, key == "key_file"
                                              ? engine::EncryptionKey::FromFile(value)
                                              : engine::EncryptionKey::FromEnv(value));
    } else if (key == "key_id") {
      if (!absl::SimpleAtoi(value, &options.key_id)) {
        return absl::InvalidArgumentError(
            absl::StrCat("DSN option key_id=", value, ": expected an unsigned 32-bit integer"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown DSN option ", key,
          " for engine: (expected io, cache_pages, key_file, key_env, key_id or mvcc)"));
    }
  }
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenEngineStore(const Dsn& dsn,
                                                       const StoreOptions& store_options) {
  if (dsn.in_memory) {
    return absl::InvalidArgumentError(
        "engine::memory: is not supported: the page engine stores to a file "
        "(use engine:///path/file.db, or sqlite::memory: for a database in memory)");
  }
  PGQRS_ASSIGN_OR_RETURN(engine::DatabaseOptions options, EngineOptions(dsn));
  PGQRS_ASSIGN_OR_RETURN(auto db, engine::Database::Open(dsn.path, options));
  return std::make_unique<enginestore::EngineStore>(
      std::move(db), store_options.clock ? store_options.clock : ProcessClock(), options.mvcc);
}

}  // namespace pgqrs::storage
