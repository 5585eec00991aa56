// Opens the Store adapter a DSN names.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/clock.h"
#include "storage/store.h"

namespace pgqrs::storage {

struct StoreOptions {
  // Connections the PostgreSQL adapter keeps; readers the SQLite adapter keeps.
  int32_t pool_size = 8;
  // PostgreSQL only: a direct DSN for the LISTEN connection that carries wake-ups from
  // other daemons, for when the main DSN goes through a transaction-pooling PgBouncer.
  // Empty means the main DSN.
  std::string notify_dsn;
  // The file stores' clock (storage/clock.h); null means ProcessClock(). PostgreSQL uses
  // the database server's now() instead.
  std::shared_ptr<const Clock> clock;
};

// Parses `dsn` and opens its adapter. Does not migrate: call Store::Migrate().
// INVALID_ARGUMENT for a malformed DSN, UNAVAILABLE when the storage cannot be reached.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& dsn,
                                                 const StoreOptions& options);

}  // namespace pgqrs::storage
