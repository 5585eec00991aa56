#include "storage/sqlite/sqlite_store.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/migrate.h"
#include "storage/sqlite/sqlite_store_impl.h"

namespace pgqrs::storage {
namespace sqlite {

namespace {

constexpr int kBusyTimeoutMs = 5000;

class SqliteMigrationTarget final : public MigrationTarget {
 public:
  // `clock` stamps applied_at.
  SqliteMigrationTarget(Connection& db, const Clock& clock) : db_(db), clock_(clock) {}

  absl::StatusOr<std::vector<AppliedMigration>> ReadApplied() override {
    PGQRS_RETURN_IF_ERROR(db_.Exec(kFileMigrationsTableDdl));
    PGQRS_ASSIGN_OR_RETURN(Statement * st,
                           db_.Prepare("SELECT version, checksum FROM pgqrs_schema_migrations "
                                       "ORDER BY version"));
    std::vector<AppliedMigration> applied;
    for (;;) {
      PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      applied.push_back({static_cast<int32_t>(st->Int(0)), st->Text(1)});
    }
    return applied;
  }

  absl::Status Apply(const Migration& migration) override {
    PGQRS_ASSIGN_OR_RETURN(Statement * seen,
                           db_.Prepare("SELECT 1 FROM pgqrs_schema_migrations WHERE version = ?"));
    seen->BindAll(int64_t{migration.version});
    PGQRS_ASSIGN_OR_RETURN(bool recorded, seen->Step());
    seen->Reset();
    if (recorded) return absl::OkStatus();
    PGQRS_RETURN_IF_ERROR(db_.Exec(migration.sql));
    PGQRS_ASSIGN_OR_RETURN(Statement * record,
                           db_.Prepare("INSERT INTO pgqrs_schema_migrations "
                                       "(version, name, checksum, applied_at) VALUES (?,?,?,?)"));
    record->BindAll(int64_t{migration.version}, migration.name, migration.checksum,
                    NowMicros(clock_));
    return record->Run();
  }

 private:
  Connection& db_;
  const Clock& clock_;
};

// Each migration commits on its own: the runner's calls each get a write transaction.
class GroupCommitMigrationTarget final : public MigrationTarget {
 public:
  GroupCommitMigrationTarget(GroupCommit& committer, const Clock& clock)
      : committer_(committer), clock_(clock) {}

  absl::StatusOr<std::vector<AppliedMigration>> ReadApplied() override {
    absl::StatusOr<std::vector<AppliedMigration>> result;
    PGQRS_RETURN_IF_ERROR(committer_.Run([&](Connection& db) {
      result = SqliteMigrationTarget(db, clock_).ReadApplied();
      return result.status();
    }));
    return result;
  }

  absl::Status Apply(const Migration& migration) override {
    return committer_.Run(
        [&](Connection& db) { return SqliteMigrationTarget(db, clock_).Apply(migration); });
  }

 private:
  GroupCommit& committer_;
  const Clock& clock_;
};

const std::vector<Migration>& SqliteSchema() {
  static const auto* schema =
      new std::vector<Migration>(LoadMigrations(migrations::SqliteMigrations()));
  return *schema;
}

QueueInfo ReadQueueInfo(const Statement& st) {
  QueueInfo info;
  info.id = st.Int(0);
  info.name = st.Text(1);
  info.max_read_count = static_cast<int32_t>(st.Int(2));
  info.visibility_timeout = absl::Milliseconds(st.Int(3));
  info.created_at = FromMicros(st.Int(4));
  return info;
}

constexpr char kSelectQueue[] =
    "SELECT id, queue_name, max_read_count, visibility_timeout_ms, created_at "
    "FROM pgqrs_queues WHERE queue_name = ?";

absl::StatusOr<std::unique_ptr<Connection>> OpenWriter(const Dsn& dsn) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  PGQRS_ASSIGN_OR_RETURN(
      auto db, Connection::Open(dsn.in_memory ? ":memory:" : dsn.path, flags, kBusyTimeoutMs));
  std::string synchronous = "FULL";
  if (auto it = dsn.options.find("synchronous"); it != dsn.options.end()) {
    if (it->second != "full" && it->second != "normal") {
      return absl::InvalidArgumentError(
          absl::StrCat("DSN option synchronous=", it->second, ": expected full or normal"));
    }
    synchronous = it->second;
  }
  if (!dsn.in_memory) PGQRS_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  PGQRS_RETURN_IF_ERROR(db->Exec(absl::StrCat("PRAGMA synchronous=", synchronous)));
  PGQRS_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  return db;
}

}  // namespace

absl::StatusOr<QueueRow> FindQueue(Connection& db, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(kSelectQueue));
  st->BindAll(name);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return absl::NotFoundError(absl::StrCat("queue \"", name, "\" not found"));
  QueueRow row{st->Int(0), static_cast<int32_t>(st->Int(2)), absl::Milliseconds(st->Int(3))};
  st->Reset();
  return row;
}

absl::StatusOr<QueueRow> FindPlainQueue(Connection& db, const std::string& name) {
  PGQRS_ASSIGN_OR_RETURN(QueueRow row, FindQueue(db, name));
  PGQRS_ASSIGN_OR_RETURN(Statement * st,
                         db.Prepare("SELECT 1 FROM pgqrs_workflows WHERE queue_id = ?"));
  st->BindAll(row.id);
  PGQRS_ASSIGN_OR_RETURN(bool trigger, st->Step());
  st->Reset();
  if (trigger) return TriggerQueueRefused(name);
  return row;
}

absl::StatusOr<int64_t> TakeIds(Connection& db, int64_t sequence, int64_t count) {
  PGQRS_ASSIGN_OR_RETURN(Statement * st,
                         db.Prepare("UPDATE pgqrs_sequences SET next_id = next_id + ? WHERE id = ? "
                                    "RETURNING next_id"));
  st->BindAll(count, sequence);
  PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return absl::DataLossError("pgqrs_sequences row missing");
  int64_t first = st->Int(0) - count;
  st->Reset();
  return first;
}

SqliteStore::SqliteStore(std::unique_ptr<Connection> writer,
                         std::vector<std::unique_ptr<Connection>> readers,
                         std::shared_ptr<const Clock> clock)
    : clock_(std::move(clock)),
      writer_(std::move(writer)),
      committer_(*writer_),
      idle_readers_(std::move(readers)),
      has_readers_(!idle_readers_.empty()) {}

absl::Status SqliteStore::Read(const Work& work) {
  if (!has_readers_) return Write(work);
  std::unique_ptr<Connection> db;
  {
    absl::MutexLock lock(&readers_mu_);
    readers_mu_.Await(absl::Condition(
        +[](std::vector<std::unique_ptr<Connection>>* idle) { return !idle->empty(); },
        &idle_readers_));
    db = std::move(idle_readers_.back());
    idle_readers_.pop_back();
  }
  absl::Status status = db->Exec("BEGIN");
  if (status.ok()) {
    status = work(*db);
    absl::Status end = db->Exec("COMMIT");
    if (status.ok()) status = end;
  }
  absl::MutexLock lock(&readers_mu_);
  idle_readers_.push_back(std::move(db));
  return status;
}

absl::StatusOr<MigrationReport> SqliteStore::Migrate() {
  GroupCommitMigrationTarget target(committer_, *clock_);
  return RunMigrations(target, SqliteSchema());
}

absl::StatusOr<VerifyReport> SqliteStore::Verify() {
  VerifyReport report;
  absl::Status status = Write([&](Connection& db) {
    PGQRS_ASSIGN_OR_RETURN(auto applied, SqliteMigrationTarget(db, *clock_).ReadApplied());
    SchemaState state = CompareSchema(applied, SqliteSchema());
    report.schema_version = state.version;
    report.problems = SchemaProblems(state);
    PGQRS_ASSIGN_OR_RETURN(Statement * fk, db.Prepare("PRAGMA foreign_key_check"));
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(bool row, fk->Step());
      if (!row) break;
      report.problems.push_back(absl::StrCat("foreign key violation in ", fk->Text(0), " rowid ",
                                             fk->Int(1), " -> ", fk->Text(2)));
    }
    PGQRS_ASSIGN_OR_RETURN(Statement * check, db.Prepare("PRAGMA integrity_check"));
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(bool row, check->Step());
      if (!row) break;
      if (check->Text(0) != "ok") report.problems.push_back("integrity: " + check->Text(0));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return report;
}

absl::StatusOr<QueueInfo> SqliteStore::CreateQueue(const QueueOptions& options) {
  PGQRS_RETURN_IF_ERROR(CheckText("name", options.name));
  QueueInfo info;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(Statement * existing, db.Prepare(kSelectQueue));
    existing->BindAll(options.name);
    PGQRS_ASSIGN_OR_RETURN(bool found, existing->Step());
    if (found) {
      if (!options.if_not_exists) {
        return absl::AlreadyExistsError(
            absl::StrCat("queue \"", options.name, "\" already exists"));
      }
      info = ReadQueueInfo(*existing);
      existing->Reset();
      return absl::OkStatus();
    }
    PGQRS_ASSIGN_OR_RETURN(int64_t id, TakeIds(db, kQueueSequence, 1));
    info = {id, options.name, options.max_read_count, options.visibility_timeout,
            FromMicros(NowMicros())};
    PGQRS_ASSIGN_OR_RETURN(Statement * insert,
                           db.Prepare("INSERT INTO pgqrs_queues (id, queue_name, max_read_count, "
                                      "visibility_timeout_ms, created_at) VALUES (?,?,?,?,?)"));
    insert->BindAll(id, options.name, int64_t{options.max_read_count},
                    absl::ToInt64Milliseconds(options.visibility_timeout),
                    absl::ToUnixMicros(info.created_at));
    return insert->Run();
  });
  if (!status.ok()) return status;
  return info;
}

absl::StatusOr<QueueInfo> SqliteStore::GetQueue(const std::string& name) {
  QueueInfo info;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(kSelectQueue));
    st->BindAll(name);
    PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return absl::NotFoundError(absl::StrCat("queue \"", name, "\" not found"));
    info = ReadQueueInfo(*st);
    st->Reset();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return info;
}

absl::StatusOr<std::vector<QueueInfo>> SqliteStore::ListQueues(const std::string& after_name,
                                                               int32_t limit) {
  std::vector<QueueInfo> queues;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(
        Statement * st,
        db.Prepare("SELECT id, queue_name, max_read_count, visibility_timeout_ms, created_at "
                   "FROM pgqrs_queues WHERE queue_name > ? ORDER BY queue_name LIMIT ?"));
    st->BindAll(after_name, int64_t{limit});
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) return absl::OkStatus();
      queues.push_back(ReadQueueInfo(*st));
    }
  });
  if (!status.ok()) return status;
  return queues;
}

absl::Status SqliteStore::DeleteQueue(const std::string& name, bool force) {
  return Write([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow queue, FindPlainQueue(db, name));
    if (!force) {
      PGQRS_ASSIGN_OR_RETURN(
          Statement * busy,
          db.Prepare("SELECT (SELECT COUNT(*) FROM pgqrs_messages WHERE queue_id = ?1 "
                     "AND state IN (0, 1)), (SELECT COUNT(*) FROM pgqrs_workers "
                     "WHERE queue_id = ?1 AND status IN (0, 1, 2, 3))"));
      busy->BindAll(queue.id);
      PGQRS_ASSIGN_OR_RETURN(bool row, busy->Step());
      int64_t messages = row ? busy->Int(0) : 0;
      int64_t workers = row ? busy->Int(1) : 0;
      busy->Reset();
      if (messages > 0 || workers > 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("queue \"", name, "\" has ", messages, " unarchived messages and ",
                         workers, " live workers; purge it, stop them, or delete with force"));
      }
    }
    for (const char* sql : {
             "DELETE FROM pgqrs_messages WHERE queue_id = ?1",
             "UPDATE pgqrs_messages SET producer_worker_id = NULL WHERE producer_worker_id IN "
             "(SELECT id FROM pgqrs_workers WHERE queue_id = ?1)",
             "UPDATE pgqrs_messages SET consumer_worker_id = NULL, lease_token = NULL "
             "WHERE consumer_worker_id IN (SELECT id FROM pgqrs_workers WHERE queue_id = ?1)",
             "DELETE FROM pgqrs_workers WHERE queue_id = ?1",
             "DELETE FROM pgqrs_queues WHERE id = ?1",
         }) {
      PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql));
      st->BindAll(queue.id);
      PGQRS_RETURN_IF_ERROR(st->Run());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> SqliteStore::PurgeQueue(const std::string& name) {
  int64_t purged = 0;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow queue, FindPlainQueue(db, name));
    PGQRS_ASSIGN_OR_RETURN(Statement * st,
                           db.Prepare("DELETE FROM pgqrs_messages WHERE queue_id = ?"));
    st->BindAll(queue.id);
    PGQRS_RETURN_IF_ERROR(st->Run());
    purged = db.Changes();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return purged;
}

}  // namespace sqlite

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const Dsn& dsn,
                                                       const StoreOptions& options) {
  using sqlite::Connection;
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer, sqlite::OpenWriter(dsn));
  std::vector<std::unique_ptr<Connection>> readers;
  if (!dsn.in_memory) {
    for (int i = 0; i < options.pool_size; ++i) {
      PGQRS_ASSIGN_OR_RETURN(auto reader,
                             Connection::Open(dsn.path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                              sqlite::kBusyTimeoutMs));
      readers.push_back(std::move(reader));
    }
  }
  return std::make_unique<sqlite::SqliteStore>(std::move(writer), std::move(readers),
                                               options.clock ? options.clock : ProcessClock());
}

}  // namespace pgqrs::storage
