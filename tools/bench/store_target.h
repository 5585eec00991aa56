// The store target: the same transactions pgqrsd runs per call (Enqueue a batch,
// Dequeue, Ack), made in-process on a storage::Store, with no gRPC and no daemon. The
// difference to the pgqrs target is what the server and the network cost.
//
// A consumer that finds nothing waits on an in-process signal that producers raise
// after each enqueue, as the daemon's long-poll does.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tools/bench/target.h"

namespace pgqrs::bench {

// Opens the store `dsn` names (e.g. sqlite:///tmp/bench.db) and migrates it.
// `pool_size` is StoreOptions::pool_size (readers for SQLite, connections for Postgres).
absl::StatusOr<std::unique_ptr<Target>> NewStoreTarget(const std::string& dsn, int pool_size);

}  // namespace pgqrs::bench
