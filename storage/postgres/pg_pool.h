// A bounded pool of libpq connections and the runners every Store call uses: Transact
// (BEGIN, statements, COMMIT) and Flight (one pipelined round trip).
//
// Connections open lazily, up to `size`. A connection that breaks is dropped, and with
// it every idle one (after a server restart they are all dead). While the server is
// unreachable, reconnects are spaced by a capped exponential backoff with jitter; calls
// in that window fail fast with UNAVAILABLE instead of piling up on connect timeouts.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/postgres/pg_conn.h"

namespace pgqrs::storage::pg {

struct PoolOptions {
  int32_t size = 8;
  // How long a call waits for a busy pool before UNAVAILABLE.
  absl::Duration acquire_timeout = absl::Seconds(10);
  // Reconnect backoff: initial * 2^failures, capped, then jittered into [d/2, d].
  absl::Duration backoff_initial = absl::Milliseconds(50);
  absl::Duration backoff_max = absl::Seconds(2);
  // Serialization failures and deadlocks are retried this many times, then ABORTED.
  int32_t max_retries = 3;
  // Unset: prepared statements, falling back to unnamed ones for good the first time the
  // server shows that connections are shared (PgBouncer in transaction mode).
  std::optional<StatementMode> statement_mode;
};

// A uniformly random duration in [d/2, d].
absl::Duration Jitter(absl::Duration d);

// The capped exponential backoff after `failures` consecutive failures (>= 1).
absl::Duration Backoff(const PoolOptions& options, int failures);

// The statements of one transaction. Valid only inside PgPool::Transact's body.
class Tx {
 public:
  Tx(PgConn& conn, StatementMode mode) : conn_(conn), mode_(mode) {}
  absl::StatusOr<Rows> Query(const Statement& statement, const Params& params = {}) {
    return conn_.Query(statement, params, mode_);
  }
  absl::StatusOr<Rows> QueryText(const std::string& sql, const Params& params = {}) {
    return conn_.QueryText(sql, params);
  }
  absl::Status Exec(const std::string& sql) { return conn_.Exec(sql); }

 private:
  PgConn& conn_;
  StatementMode mode_;
};

class PgPool {
 public:
  PgPool(ConnSettings settings, Redactor redactor, PoolOptions options);
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Opens one connection now, so a bad DSN fails at startup. UNAVAILABLE otherwise.
  absl::Status Prime();

  // Runs `body` between `begin_sql` (e.g. "BEGIN; SET LOCAL search_path TO ...") and
  // COMMIT, or ROLLBACK when it fails. Retries ABORTED (40001, 40P01) up to max_retries
  // times, and once on a fresh connection when a reused idle one turns out dead before
  // anything ran. The body may run more than once, so it must only touch its own locals.
  absl::Status Transact(const std::string& begin_sql, const std::function<absl::Status(Tx&)>& body);

  // Runs `statements` as one transaction in one round trip (PgConn::Flight): all take
  // effect or none. The same retries as Transact; a reused idle connection found dead
  // before sending is replaced by a fresh one. Returns the last statement's rows.
  // `follow_up` rides along as a transaction of its own (see PgConn::Flight).
  absl::StatusOr<Rows> Flight(std::span<const FlightStatement> statements,
                              std::span<const FlightStatement> follow_up = {});

  const Redactor& redactor() const { return redactor_; }
  const ConnSettings& settings() const { return settings_; }
  StatementMode mode() const;

 private:
  struct Handle {
    std::unique_ptr<PgConn> conn;
    bool reused = false;
  };
  absl::StatusOr<Handle> Acquire();
  void Release(std::unique_ptr<PgConn> conn);
  void ConnectionLost();
  void SwitchToUnnamed();
  // One try of a call on one pooled connection. Sets *nothing_ran when it failed before
  // anything could take effect on the server.
  using Attempt = std::function<absl::Status(PgConn& conn, StatementMode mode, bool* nothing_ran)>;
  // Runs `attempt` with the retries Transact and Flight describe.
  absl::Status Run(const Attempt& attempt);
  absl::Status TryOnce(const Attempt& attempt, bool* retry_fresh);

  const ConnSettings settings_;
  const Redactor redactor_;
  const PoolOptions options_;

  mutable absl::Mutex mu_;
  std::deque<std::unique_ptr<PgConn>> idle_ ABSL_GUARDED_BY(mu_);
  int32_t open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + handed out + connecting
  int32_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  StatementMode mode_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgqrs::storage::pg
