#include "storage/postgres/pg_pool.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace pgqrs::storage::pg {

absl::Duration Jitter(absl::Duration d) {
  thread_local absl::BitGen gen;
  double factor = absl::Uniform(gen, 0.5, 1.0);
  return d * factor;
}

absl::Duration Backoff(const PoolOptions& options, int failures) {
  absl::Duration d = options.backoff_initial;
  for (int i = 1; i < failures && d < options.backoff_max; ++i) d *= 2;
  return Jitter(std::min(d, options.backoff_max));
}

PgPool::PgPool(ConnSettings settings, Redactor redactor, PoolOptions options)
    : settings_(std::move(settings)),
      redactor_(std::move(redactor)),
      options_(options),
      mode_(options.statement_mode.value_or(StatementMode::kPrepared)) {
  PGQRS_CHECK(options_.size > 0);
}

absl::Status PgPool::Prime() {
  PGQRS_ASSIGN_OR_RETURN(Handle handle, Acquire());
  Release(std::move(handle.conn));
  return absl::OkStatus();
}

StatementMode PgPool::mode() const {
  absl::MutexLock lock(&mu_);
  return mode_;
}

void PgPool::SwitchToUnnamed() {
  absl::MutexLock lock(&mu_);
  if (mode_ == StatementMode::kUnnamed) return;
  mode_ = StatementMode::kUnnamed;
  spdlog::info(
      "postgres: server connections are shared between clients (a transaction-pooling "
      "PgBouncer?); sending unnamed statements from now on");
}

absl::StatusOr<PgPool::Handle> PgPool::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    auto can_proceed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.size;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&can_proceed), options_.acquire_timeout)) {
      return absl::UnavailableError(absl::StrCat("postgres: all ", options_.size,
                                                 " pooled connections stayed busy for ",
                                                 absl::FormatDuration(options_.acquire_timeout)));
    }
    if (!idle_.empty()) {
      Handle handle{std::move(idle_.front()), true};
      idle_.pop_front();
      return handle;
    }
    absl::Time now = absl::Now();
    if (now < next_attempt_) {
      return absl::UnavailableError(absl::StrCat(
          last_error_, " (next reconnect attempt in ",
          absl::FormatDuration(absl::Trunc(next_attempt_ - now, absl::Milliseconds(1))), ")"));
    }
    ++open_;
  }
  absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(settings_, redactor_);
  absl::MutexLock lock(&mu_);
  if (!conn.ok()) {
    --open_;
    ++failures_;
    last_error_ = std::string(conn.status().message());
    next_attempt_ = absl::Now() + Backoff(options_, failures_);
    return conn.status();
  }
  failures_ = 0;
  next_attempt_ = absl::InfinitePast();
  return Handle{*std::move(conn), false};
}

void PgPool::Release(std::unique_ptr<PgConn> conn) {
  absl::MutexLock lock(&mu_);
  if (conn->broken()) {
    --open_;
    return;
  }
  idle_.push_back(std::move(conn));
}

void PgPool::ConnectionLost() {
  std::deque<std::unique_ptr<PgConn>> dropped;  // closed after the lock is released
  absl::MutexLock lock(&mu_);
  open_ -= static_cast<int32_t>(idle_.size());
  dropped.swap(idle_);
}

absl::Status PgPool::TryOnce(const Attempt& attempt, bool* retry_fresh) {
  *retry_fresh = false;
  PGQRS_ASSIGN_OR_RETURN(Handle handle, Acquire());
  PgConn& conn = *handle.conn;
  bool nothing_ran = false;
  absl::Status status = attempt(conn, mode(), &nothing_ran);
  // Nothing ran: a dead idle connection is retried once on a fresh one.
  *retry_fresh = !status.ok() && nothing_ran && handle.reused && conn.broken();
  if (IsPreparedStatementLost(status)) conn.ForgetPrepared();
  bool lost = conn.broken();
  Release(std::move(handle.conn));
  if (lost) ConnectionLost();
  return status;
}

absl::Status PgPool::Transact(const std::string& begin_sql,
                              const std::function<absl::Status(Tx&)>& body) {
  return Run([&](PgConn& conn, StatementMode mode, bool* nothing_ran) {
    absl::Status status = conn.Exec(begin_sql);
    *nothing_ran = !status.ok();
    if (status.ok()) {
      Tx tx(conn, mode);
      status = body(tx);
      if (status.ok()) status = conn.Exec("COMMIT");
    }
    if (!status.ok() && !conn.broken()) {
      // A failed ROLLBACK breaks the connection, which Release then drops.
      conn.Exec("ROLLBACK").IgnoreError();
    }
    return status;
  });
}

absl::StatusOr<Rows> PgPool::Flight(std::span<const FlightStatement> statements,
                                    std::span<const FlightStatement> follow_up) {
  std::optional<Rows> rows;
  PGQRS_RETURN_IF_ERROR(Run([&](PgConn& conn, StatementMode mode, bool* nothing_ran) {
    rows.reset();
    if (!conn.StillOpen()) {
      *nothing_ran = true;
      return absl::UnavailableError("postgres unavailable: the pooled connection was closed");
    }
    absl::StatusOr<Rows> result = conn.Flight(statements, mode, follow_up);
    if (!result.ok()) return result.status();
    rows = *std::move(result);
    return absl::OkStatus();
  }));
  return *std::move(rows);
}

absl::Status PgPool::Run(const Attempt& attempt) {
  int aborted = 0;
  bool fresh_retried = false;
  bool mode_switched = false;
  while (true) {
    bool retry_fresh = false;
    absl::Status status = TryOnce(attempt, &retry_fresh);
    if (status.ok()) return status;
    if (retry_fresh && !fresh_retried) {
      fresh_retried = true;
      continue;
    }
    if (IsPreparedStatementLost(status) && !mode_switched && !options_.statement_mode.has_value()) {
      // Our named statements vanished or were already there: the server connection is
      // shared (a transaction-pooling PgBouncer). Send unnamed statements from now on.
      mode_switched = true;
      SwitchToUnnamed();
      continue;
    }
    if (status.code() == absl::StatusCode::kAborted && aborted < options_.max_retries) {
      ++aborted;
      absl::SleepFor(Jitter(absl::Milliseconds(5) * (1 << aborted)));
      continue;
    }
    return status;
  }
}

}  // namespace pgqrs::storage::pg
