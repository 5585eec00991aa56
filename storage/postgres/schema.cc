// PostgresStore: Migrate (the MigrationTarget for PostgreSQL) and Verify.
//
// Two daemons may migrate one schema at once: every migration transaction first takes a
// transaction-level advisory lock keyed by the schema, so they run one after the other and
// the second finds the work done.
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "migrations/embedded.h"
#include "storage/migrate.h"
#include "storage/postgres/store_impl.h"

namespace pgqrs::storage::pg {
namespace {

constexpr Statement kMigrationLock{
    "migration_lock", "SELECT pg_advisory_xact_lock(hashtextextended('pgqrs.migrate.' || $1, 0))"};
constexpr Statement kReadApplied{
    "read_applied", "SELECT version, checksum FROM pgqrs_schema_migrations ORDER BY version"};
constexpr Statement kIsApplied{"is_applied",
                               "SELECT 1 FROM pgqrs_schema_migrations WHERE version = $1"};
constexpr Statement kRecordApplied{
    "record_applied",
    "INSERT INTO pgqrs_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"};
constexpr Statement kHasVersionTable{
    "has_version_table", "SELECT to_regclass('pgqrs_schema_migrations') IS NOT NULL"};

// Referential and state checks; each returns the number of offending rows.
constexpr struct {
  const char* problem;
  Statement statement;
} kChecks[] = {
    {"messages whose queue is missing",
     {"verify_orphan_messages",
      "SELECT count(*) FROM pgqrs_messages m WHERE NOT EXISTS "
      "(SELECT 1 FROM pgqrs_queues q WHERE q.id = m.queue_id)"}},
    {"workers whose queue is missing",
     {"verify_orphan_workers",
      "SELECT count(*) FROM pgqrs_workers w WHERE w.queue_id IS NOT NULL AND NOT EXISTS "
      "(SELECT 1 FROM pgqrs_queues q WHERE q.id = w.queue_id)"}},
    {"messages leased by a missing worker",
     {"verify_orphan_leases",
      "SELECT count(*) FROM pgqrs_messages m WHERE m.consumer_worker_id IS NOT NULL AND NOT "
      "EXISTS (SELECT 1 FROM pgqrs_workers w WHERE w.id = m.consumer_worker_id)"}},
    {"dead or archived messages that still hold a lease",
     {"verify_stale_leases",
      "SELECT count(*) FROM pgqrs_messages WHERE state <> 0 AND lease_token IS NOT NULL"}},
    {"archived messages without archived_at",
     {"verify_archived_at",
      "SELECT count(*) FROM pgqrs_messages WHERE state = 2 AND archived_at IS NULL"}},
    {"messages that name a consumer but hold no lease",
     {"verify_lease_consumer",
      "SELECT count(*) FROM pgqrs_messages WHERE consumer_worker_id IS NOT NULL "
      "AND lease_token IS NULL"}},
};

class PostgresMigrationTarget final : public MigrationTarget {
 public:
  PostgresMigrationTarget(PgPool& pool, std::string begin_sql, std::string schema)
      : pool_(pool), begin_sql_(std::move(begin_sql)), schema_(std::move(schema)) {}

  absl::StatusOr<std::vector<AppliedMigration>> ReadApplied() override {
    std::vector<AppliedMigration> applied;
    PGQRS_RETURN_IF_ERROR(pool_.Transact(begin_sql_, [&](Tx& tx) -> absl::Status {
      applied.clear();
      PGQRS_RETURN_IF_ERROR(Lock(tx));
      PGQRS_RETURN_IF_ERROR(tx.Exec(absl::StrCat(
          "CREATE SCHEMA IF NOT EXISTS ", QuoteIdentifier(schema_), ";",
          "CREATE TABLE IF NOT EXISTS ", kMigrationsTable,
          " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
          " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")));
      PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.QueryText(kReadApplied.sql));
      for (int i = 0; i < rows.size(); ++i) {
        applied.push_back({static_cast<int32_t>(rows.Int(i, 0)), rows.Text(i, 1)});
      }
      return absl::OkStatus();
    }));
    return applied;
  }

  absl::Status Apply(const Migration& migration) override {
    return pool_.Transact(begin_sql_, [&](Tx& tx) -> absl::Status {
      PGQRS_RETURN_IF_ERROR(Lock(tx));
      PGQRS_ASSIGN_OR_RETURN(Rows done,
                             tx.QueryText(kIsApplied.sql, Params().Add(int64_t{migration.version})));
      if (done.size() > 0) return absl::OkStatus();  // another daemon was first
      absl::Status status = tx.Exec(migration.sql);
      if (!status.ok()) {
        return absl::Status(status.code(), absl::StrCat("migration ", migration.name, ": ",
                                                        status.message()));
      }
      Params record;
      record.Add(int64_t{migration.version}).Add(migration.name).Add(migration.checksum);
      return tx.QueryText(kRecordApplied.sql, record).status();
    });
  }

 private:
  absl::Status Lock(Tx& tx) {
    // DDL and this lock are per schema, so unnamed statements keep the cache clean.
    return tx.QueryText(kMigrationLock.sql, Params().Add(schema_)).status();
  }

  PgPool& pool_;
  const std::string begin_sql_;
  const std::string schema_;
};

std::vector<Migration> PostgresSet() {
  return LoadMigrations(migrations::PostgresMigrations());
}

}  // namespace

absl::StatusOr<MigrationReport> PostgresStore::Migrate() {
  PostgresMigrationTarget target(*pool_, begin_sql_, schema_);
  std::vector<Migration> set = PostgresSet();
  return RunMigrations(target, set);
}

absl::StatusOr<VerifyReport> PostgresStore::Verify() {
  std::vector<Migration> set = PostgresSet();
  VerifyReport report;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    report = VerifyReport();
    PGQRS_ASSIGN_OR_RETURN(Rows has_table, tx.QueryText(kHasVersionTable.sql));
    std::vector<AppliedMigration> applied;
    if (has_table.Bool(0, 0)) {
      PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.QueryText(kReadApplied.sql));
      for (int i = 0; i < rows.size(); ++i) {
        applied.push_back({static_cast<int32_t>(rows.Int(i, 0)), rows.Text(i, 1)});
      }
    }
    SchemaState state = CompareSchema(applied, set);
    report.schema_version = state.version;
    report.problems = SchemaProblems(state);
    if (!state.missing.empty() || !state.conflicts.empty()) return absl::OkStatus();
    for (const auto& check : kChecks) {
      PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(check.statement));
      if (int64_t n = rows.Int(0, 0); n > 0) {
        report.problems.push_back(absl::StrCat(n, " ", check.problem));
      }
    }
    return absl::OkStatus();
  }));
  return report;
}

}  // namespace pgqrs::storage::pg
