// Postgres-specific: bounded waits. A statement stuck behind another session's lock ends
// at statement_timeout with UNAVAILABLE, and a busy pool refuses after acquire_timeout.
#include <catch2/catch.hpp>
#include <future>
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

// The lifecycle calls go out as one flight whose first statement sets statement_timeout
// for the rest of its transaction.
TEST_CASE("a one-flight lifecycle call blocked on a row lock ends at statement_timeout",
          "[postgres][timeouts]") {
  std::string dsn = TestDsn();
  std::string schema = FreshSchema();
  storage::PostgresOptions options;
  options.statement_timeout = absl::Milliseconds(300);
  auto store = OpenMigrated(dsn, schema, options);
  MakeQueue(*store, "q");
  EnqueueOne(*store, "q", "{}");
  storage::Message m = DequeueN(*store, "q", 1).at(0);

  auto blocker = Ok(storage::pg::PgConn::Connect({dsn}, storage::pg::Redactor(dsn)));
  RequireOk(blocker->Exec(absl::StrCat("BEGIN; SELECT 1 FROM ", schema,
                                       ".pgqrs_messages WHERE id = ", m.id, " FOR UPDATE")));
  std::vector<storage::Lease> leases = {*m.lease};
  absl::Time start = absl::Now();
  auto ack = std::async(std::launch::async, [&] { return store->Ack("q", leases).status(); });
  bool ended = ack.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  absl::Duration waited = absl::Now() - start;
  RequireOk(blocker->Exec("ROLLBACK"));  // frees a stuck Ack either way
  REQUIRE(ended);
  absl::Status status = ack.get();
  INFO(status.ToString() << " after " << absl::FormatDuration(waited));
  CHECK(status.code() == absl::StatusCode::kUnavailable);
  // Nothing changed, and the lease still acks.
  CHECK(Ok(store->Ack("q", leases)) == std::vector{storage::LeaseOutcome::kOk});
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
