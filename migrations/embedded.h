// Migration scripts compiled into the binary, so a daemon never depends on files at
// run time. Each set is ordered by version.
#pragma once

#include <span>

namespace pgqrs::migrations {

struct EmbeddedMigration {
  int version;
  const char* name;  // file name without .sql, e.g. "0001_queues_workers_messages"
  const char* sql;
};

// Used by sqlite:// and engine://.
std::span<const EmbeddedMigration> SqliteMigrations();
// Used by postgres://.
std::span<const EmbeddedMigration> PostgresMigrations();

}  // namespace pgqrs::migrations
