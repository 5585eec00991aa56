// Storage DSNs: which adapter to open and where.
//
//   sqlite:///abs/path.db  sqlite://./rel/path.db  sqlite::memory:
//   engine:///abs/path.db  engine://./rel/path.db  engine::memory:
//   postgres://user:password@host:port/db?schema=s  (also postgresql://)
//
// Options follow `?` as key=value pairs joined by `&`. A DSN may carry a password, so it
// is only ever shown through RedactDsn().
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace pgqrs::storage {

enum class Backend { kSqlite, kEngine, kPostgres };

struct Dsn {
  Backend backend = Backend::kSqlite;
  // File path for sqlite/engine (empty when in memory).
  std::string path;
  bool in_memory = false;
  // For postgres: the URI given to libpq, without the options pgqrs consumes itself.
  std::string conninfo;
  // Options pgqrs consumes (e.g. schema, synchronous).
  std::map<std::string, std::string> options;
};

// Parses `text`. INVALID_ARGUMENT names what is wrong, with the password redacted.
absl::StatusOr<Dsn> ParseDsn(const std::string& text);

// `text` with any password (URI user-info or a password= option) replaced by "***".
// Safe on malformed input.
std::string RedactDsn(const std::string& text);

const char* BackendName(Backend backend);

}  // namespace pgqrs::storage
