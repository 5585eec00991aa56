// Postgres-specific: bounded waits. A statement stuck behind another session's lock ends
// at statement_timeout with UNAVAILABLE, and a busy pool refuses after acquire_timeout.
#include <catch2/catch.hpp>

#include <thread>

#include "absl/strings/str_cat.h"
#include "storage/postgres/pg_conn.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/postgres/pg_test_env.h"

namespace pgqrs::testing {
namespace {

TEST_CASE("a call blocked on another session's lock ends at statement_timeout",
          "[postgres][timeouts]") {
  std::string dsn = TestDsn();
  std::string schema = FreshSchema();
  storage::PostgresOptions options;
  options.statement_timeout = absl::Milliseconds(300);
  auto store = OpenMigrated(dsn, schema, options);
  MakeQueue(*store, "q");

  auto blocker = Ok(storage::pg::PgConn::Connect({dsn}, storage::pg::Redactor(dsn)));
  RequireOk(blocker->Exec(absl::StrCat("BEGIN; SELECT 1 FROM ", schema,
                                       ".pgqrs_queues WHERE queue_name = 'q' FOR UPDATE")));
  absl::Time start = absl::Now();
  absl::Status status = store->DeleteQueue("q", true);
  absl::Duration waited = absl::Now() - start;
  INFO(status.ToString() << " after " << absl::FormatDuration(waited));
  CHECK(status.code() == absl::StatusCode::kUnavailable);
  CHECK(waited < absl::Seconds(5));
  RequireOk(blocker->Exec("ROLLBACK"));
  // The store is fine afterwards.
  RequireOk(store->DeleteQueue("q", true));
}

TEST_CASE("a pool whose connections stay busy refuses after acquire_timeout",
          "[postgres][timeouts]") {
  std::string dsn = TestDsn();
  std::string schema = FreshSchema();
  storage::PostgresOptions options;
  options.pool_size = 1;
  options.acquire_timeout = absl::Milliseconds(200);
  options.statement_timeout = absl::Seconds(3);
  auto store = OpenMigrated(dsn, schema, options);
  MakeQueue(*store, "q");

  auto blocker = Ok(storage::pg::PgConn::Connect({dsn}, storage::pg::Redactor(dsn)));
  RequireOk(blocker->Exec(absl::StrCat("BEGIN; SELECT 1 FROM ", schema,
                                       ".pgqrs_queues WHERE queue_name = 'q' FOR UPDATE")));
  // The only pooled connection waits on the lock...
  std::thread stuck([&] { store->DeleteQueue("q", true).IgnoreError(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // ...so the next call finds no connection.
  absl::Status status = store->GetQueue("q").status();
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kUnavailable);
  RequireOk(blocker->Exec("ROLLBACK"));
  stuck.join();
}

}  // namespace
}  // namespace pgqrs::testing
