// The versioned migration runner shared by every adapter.
//
// Migrations are numbered scripts compiled into the binary (migrations/). The database
// records each applied one, with a checksum of its text, in `pgqrs_schema_migrations`.
// The runner applies the missing ones in order, each in its own transaction; a re-run
// applies nothing. It refuses a database that records a version this binary does not
// know (a newer binary migrated it) or whose recorded checksum differs from this
// binary's script.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "migrations/embedded.h"
#include "storage/types.h"

namespace pgqrs::storage {

inline constexpr char kMigrationsTable[] = "pgqrs_schema_migrations";

// The file stores' version table (sqlite:// and engine://): one definition, so a file written
// by either adapter carries the same schema. In the engine's SQL subset.
inline constexpr char kFileMigrationsTableDdl[] =
    "CREATE TABLE IF NOT EXISTS pgqrs_schema_migrations (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)";

struct Migration {
  int32_t version = 0;
  std::string name;
  std::string sql;
  std::string checksum;  // SHA-256 of `sql`, lowercase hex
};

struct AppliedMigration {
  int32_t version = 0;
  std::string checksum;
};

// Converts an embedded set, computing checksums. REQUIRES: versions ascend.
std::vector<Migration> LoadMigrations(std::span<const migrations::EmbeddedMigration> set);

// What the runner needs from one database. Implemented by each adapter.
class MigrationTarget {
 public:
  virtual ~MigrationTarget() = default;
  // Creates the version table if it is missing and returns what it records.
  virtual absl::StatusOr<std::vector<AppliedMigration>> ReadApplied() = 0;
  // Runs the script and records it in one transaction. If another process recorded the
  // same version meanwhile, does nothing and returns OK.
  virtual absl::Status Apply(const Migration& migration) = 0;
};

// Brings the database up to the newest of `migrations`.
absl::StatusOr<MigrationReport> RunMigrations(MigrationTarget& target,
                                              std::span<const Migration> migrations);

// How a database's recorded migrations compare with this binary's.
struct SchemaState {
  int32_t version = 0;                 // highest recorded version
  std::vector<std::string> conflicts;  // newer or altered migrations; migrating is refused
  std::vector<std::string> missing;    // names of migrations not yet applied
};

SchemaState CompareSchema(std::span<const AppliedMigration> applied,
                          std::span<const Migration> migrations);

// Verify's view of a SchemaState: one line per conflict or missing migration.
std::vector<std::string> SchemaProblems(const SchemaState& state);

}  // namespace pgqrs::storage
