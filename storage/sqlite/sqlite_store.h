// The SQLite adapter: a Store over one database file (or a private in-memory database)
// through libsqlite3.
//
// File databases use WAL mode with synchronous=FULL (the DSN option synchronous=normal
// trades power-loss durability for speed), foreign keys on, and a busy timeout. Writes go
// through one connection with group commit; reads use a pool of read-only connections.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "storage/dsn.h"
#include "storage/open_store.h"
#include "storage/store.h"

namespace pgqrs::storage {

// REQUIRES: dsn.backend == Backend::kSqlite.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const Dsn& dsn, const StoreOptions& options);

}  // namespace pgqrs::storage
