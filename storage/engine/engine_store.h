// The engine:// adapter: a Store on the page engine (engine/), with the schema and
// semantics of the sqlite:// adapter and no SQL execution. Files are interchangeable between
// the two adapters.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "storage/dsn.h"
#include "storage/open_store.h"
#include "storage/store.h"

namespace pgqrs::storage {

// Opens (or creates) the database file of an engine:// DSN. Options: io=auto|uring|posix,
// cache_pages=N (pages of 4 KiB kept in memory), key_file=PATH or key_env=VAR with key_id=N
// (encryption at rest), mvcc=on|off (concurrent writers, default off; engine/MVCC.md
// section 7: writing calls conflicting on a row are retried inside the store). INVALID_ARGUMENT
// names a bad or unknown option, and refuses engine::memory: (the engine stores to a file).
absl::StatusOr<std::unique_ptr<Store>> OpenEngineStore(const Dsn& dsn, const StoreOptions& options);

}  // namespace pgqrs::storage
