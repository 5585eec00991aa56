// The PostgreSQL Store adapter (postgres:// DSNs).
//
// Every Store call is one transaction on a pooled libpq connection with a transaction-
// local search_path (`SET LOCAL search_path TO "<schema>"`), so a connection carries no
// session state and the adapter works through PgBouncer in transaction pooling mode. The
// message lifecycle calls (Enqueue, Dequeue, the lease calls) are one round trip each: a
// server-side function sent with its settings in one pipelined flight. All timestamps
// come from the database clock (now()). Dequeue uses FOR UPDATE SKIP LOCKED, so many
// daemons can share one database.
//
// Statements: named prepared statements per connection by default. PgBouncer before 1.21
// (Debian 12 ships 1.18) does not carry named statements across server connections; the
// adapter notices the first time a named statement is missing or already present on the
// server, and from then on sends unnamed statements (PQexecParams) on that store. The
// `statement_mode` option pins either behaviour.
//
// Wake-ups: calls that make messages visible send `NOTIFY pgqrs_wake, '<schema>.<queue>'`
// (the lifecycle calls in a transaction of their own right after the call's). SetRemoteWakeHandler starts a listener thread on its own connection
// (LISTEN needs a session: through a transaction-pooling PgBouncer, give the listener a
// direct DSN with `listen_dsn`).
//
// Errors: 23505 -> ALREADY_EXISTS; serialization failures and deadlocks are retried a few
// times, then ABORTED; connection loss or a server restart -> UNAVAILABLE for the calls in
// flight, after which the pool reconnects with capped, jittered exponential backoff.
// Messages never contain the DSN password.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/dsn.h"
#include "storage/store.h"

namespace pgqrs::storage {

struct PostgresOptions {
  // Connections kept for Store calls (the listener has its own).
  int32_t pool_size = 8;
  // libpq connect_timeout (whole seconds, at least 2 as libpq requires).
  absl::Duration connect_timeout = absl::Seconds(5);
  // How long a call waits for a free pooled connection before UNAVAILABLE.
  absl::Duration acquire_timeout = absl::Seconds(10);
  // Reconnect backoff: starts at backoff_initial, doubles per failure up to backoff_max,
  // jittered into [d/2, d].
  absl::Duration backoff_initial = absl::Milliseconds(50);
  absl::Duration backoff_max = absl::Seconds(2);
  // Bounds every statement (SET LOCAL statement_timeout); a call that hits it fails with
  // UNAVAILABLE. Zero means no bound.
  absl::Duration statement_timeout = absl::Seconds(30);
  // Serialization failures (40001) and deadlocks (40P01) are retried this many times.
  int32_t max_retries = 3;
  // Unset: detect (see above). true: always named prepared statements. false: always
  // unnamed statements.
  std::optional<bool> prepared_statements;
  // DSN for the LISTEN connection; empty means the store's own DSN. May carry a password.
  std::string listen_dsn;
};

// Opens a store on `dsn` (Backend::kPostgres). The schema comes from dsn.options["schema"]
// (default "public") and must match [a-z_][a-z0-9_]{0,62}: INVALID_ARGUMENT otherwise.
// Connects once to check the server is reachable: UNAVAILABLE otherwise. Does not
// migrate; Migrate() creates the schema when it is missing.
absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const Dsn& dsn,
                                                         const PostgresOptions& options);

}  // namespace pgqrs::storage
