// Postgres-specific: the schema option (validation, quoting, isolation), migration
// concurrency, what holds messages to their queue, and that DSN passwords never reach an
// error message.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "storage/dsn.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/pg_pool.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/postgres/pg_test_env.h"

namespace pgqrs::testing {
namespace {

using storage::PostgresOptions;

absl::Status OpenStatus(const std::string& dsn) {
  absl::StatusOr<storage::Dsn> parsed = storage::ParseDsn(dsn);
  if (!parsed.ok()) return parsed.status();
  PostgresOptions options;
  options.connect_timeout = absl::Seconds(2);
  return storage::OpenPostgresStore(*parsed, options).status();
}

// The password of a postgres://user:password@host URI.
std::string PasswordOf(const std::string& dsn) {
  size_t start = dsn.find("://") + 3;
  size_t colon = dsn.find(':', start);
  size_t at = dsn.find('@', start);
  REQUIRE(colon != std::string::npos);
  REQUIRE(at != std::string::npos);
  return dsn.substr(colon + 1, at - colon - 1);
}

std::string ReplacePassword(const std::string& dsn, const std::string& password) {
  return absl::StrReplaceAll(dsn, {{":" + PasswordOf(dsn) + "@", ":" + password + "@"}});
}

std::string WithPort(const std::string& dsn, int port) {
  size_t at = dsn.find('@');
  size_t colon = dsn.find(':', at);
  size_t slash = dsn.find('/', at);
  return absl::StrCat(dsn.substr(0, colon + 1), port, dsn.substr(slash));
}

void RequireSecretFree(const absl::Status& status, const std::string& secret) {
  INFO(status.ToString());
  REQUIRE(!status.ok());
  CHECK(!absl::StrContains(status.ToString(), secret));
}

TEST_CASE("schema names are validated before anything reaches the server", "[postgres]") {
  std::string dsn = TestDsn();
  for (const char* bad : {"Bad", "a-b", "1abc", "x\"; DROP TABLE y; --", "a b", "s.t",
                          "\xc3\xa9t\xc3\xa9"}) {
    INFO(bad);
    CHECK(OpenStatus(WithSchema(dsn, bad)).code() == absl::StatusCode::kInvalidArgument);
  }
  CHECK(OpenStatus(WithSchema(dsn, std::string(64, 'a'))).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(storage::pg::ValidateSchemaName(std::string(63, 'a')).ok());
  CHECK(storage::pg::ValidateSchemaName("_x9").ok());
  CHECK(storage::pg::QuoteIdentifier("a\"b") == "\"a\"\"b\"");
}

TEST_CASE("reserved words work as schema names and schemas keep stores apart", "[postgres]") {
  std::string dsn = TestDsn();
  // Fixed names: drop what an earlier run on the same cluster left.
  auto conn = Ok(storage::pg::PgConn::Connect({dsn}, storage::pg::Redactor(dsn)));
  RequireOk(conn->Exec("DROP SCHEMA IF EXISTS \"select\" CASCADE; "
                       "DROP SCHEMA IF EXISTS \"user\" CASCADE"));
  auto select_store = OpenMigrated(dsn, "select");
  auto user_store = OpenMigrated(dsn, "user");
  std::string queue = FreshSchema();
  MakeQueue(*select_store, queue);
  int64_t id = EnqueueOne(*select_store, queue, R"({"in":"select"})");
  CHECK(user_store->GetQueue(queue).status().code() == absl::StatusCode::kNotFound);
  auto leased = DequeueN(*select_store, queue, 1);
  REQUIRE(leased.size() == 1);
  CHECK(leased[0].id == id);
  RequireOk(select_store->DeleteQueue(queue, true));
}

TEST_CASE("two stores migrating one schema at once both succeed", "[postgres]") {
  std::string dsn = TestDsn();
  std::string schema = FreshSchema();
  storage::Dsn parsed = Ok(storage::ParseDsn(WithSchema(dsn, schema)));
  auto a = Ok(storage::OpenPostgresStore(parsed, {}));
  auto b = Ok(storage::OpenPostgresStore(parsed, {}));
  absl::StatusOr<storage::MigrationReport> ra, rb;
  std::thread ta([&] { ra = a->Migrate(); });
  std::thread tb([&] { rb = b->Migrate(); });
  ta.join();
  tb.join();
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  CHECK(ra->schema_version == rb->schema_version);
  CHECK(Ok(a->Verify()).problems.empty());
  // The advisory lock serialised them: 0001 ran once and is recorded once.
  auto conn = Ok(storage::pg::PgConn::Connect({dsn}, storage::pg::Redactor(dsn)));
  auto rows = Ok(conn->QueryText(
      absl::StrCat("SELECT count(*) FROM ", schema, ".pgqrs_schema_migrations"), {}));
  CHECK(rows.Int(0, 0) == static_cast<int64_t>(ra->schema_version));
}

// Messages have no foreign key to their queue (it cost a check per row): an enqueue locks
// its queue instead, so a DeleteQueue waits for it and no message outlives its queue.
TEST_CASE("DeleteQueue waits for an enqueue that has not committed", "[postgres]") {
  std::string dsn = TestDsn();
  std::string schema = FreshSchema();
  auto store = OpenMigrated(dsn, schema);
  MakeQueue(*store, "q");
  auto conn = Ok(storage::pg::PgConn::Connect({dsn}, storage::pg::Redactor(dsn)));
  RequireOk(conn->Exec(absl::StrCat(
      "BEGIN; SET LOCAL search_path TO ", schema,
      "; SELECT pgqrs_enqueue('q', 0, ARRAY['{}'], ARRAY[0], ARRAY[0::int8], ARRAY[NULL])")));
  std::atomic<bool> deleted{false};
  absl::Status status;
  std::thread deleter([&] {
    status = store->DeleteQueue("q", /*force=*/true);
    deleted = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK_FALSE(deleted.load());
  RequireOk(conn->Exec("COMMIT"));
  deleter.join();
  RequireOk(status);
  CHECK(Ok(store->Verify()).problems.empty());
}

TEST_CASE("a schema migrated by a newer binary is refused", "[postgres]") {
  std::string dsn = TestDsn();
  std::string schema = FreshSchema();
  auto store = OpenMigrated(dsn, schema);
  storage::pg::Redactor redactor(dsn);
  auto conn = Ok(storage::pg::PgConn::Connect({dsn}, redactor));
  RequireOk(conn->Exec(absl::StrCat("INSERT INTO ", schema,
                                    ".pgqrs_schema_migrations (version, name, checksum) "
                                    "VALUES (999, '0999_future', 'x')")));
  CHECK(store->Migrate().status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(!Ok(store->Verify()).problems.empty());
}

TEST_CASE("the DSN password never appears in connection errors", "[postgres][secrets]") {
  std::string dsn = TestDsn();
  std::string password = PasswordOf(dsn);
  REQUIRE(password.size() >= 8);

  SECTION("nothing listens on the port") {
    absl::Status status = OpenStatus(WithPort(dsn, 1));
    CHECK(status.code() == absl::StatusCode::kUnavailable);
    RequireSecretFree(status, password);
  }
  SECTION("wrong password") {
    std::string wrong = password + "-wrong";
    absl::Status status = OpenStatus(ReplacePassword(dsn, wrong));
    CHECK(status.code() == absl::StatusCode::kUnavailable);
    RequireSecretFree(status, wrong);
  }
  SECTION("a percent-encoded password with URI syntax in it") {
    absl::Status status = OpenStatus(ReplacePassword(WithPort(dsn, 1), "p%40ss%3Aw0rd%2F"));
    RequireSecretFree(status, "p@ss:w0rd/");
    RequireSecretFree(status, "p%40ss%3Aw0rd%2F");
  }
  SECTION("a malformed port") {
    std::string bad = absl::StrReplaceAll(WithPort(dsn, 1), {{":1/", ":notaport/"}});
    RequireSecretFree(OpenStatus(bad), password);
  }
  SECTION("the redactor hides raw and decoded forms") {
    storage::pg::Redactor redactor("postgres://u:s%2Fecret@h/db");
    CHECK(redactor.Apply("x s/ecret y s%2Fecret") == "x *** y ***");
  }
}

}  // namespace
}  // namespace pgqrs::testing

namespace pgqrs::testing {
namespace {

TEST_CASE("reconnect backoff doubles, is capped and jittered into [d/2, d]", "[postgres]") {
  storage::pg::PoolOptions options;
  options.backoff_initial = absl::Milliseconds(50);
  options.backoff_max = absl::Seconds(2);
  for (int failures = 1; failures <= 40; ++failures) {
    absl::Duration full = std::min(options.backoff_initial * (1LL << std::min(failures - 1, 20)),
                                   options.backoff_max);
    for (int i = 0; i < 20; ++i) {
      absl::Duration d = storage::pg::Backoff(options, failures);
      INFO("failures " << failures << ": " << absl::FormatDuration(d));
      CHECK(d >= full / 2);
      CHECK(d <= full);
    }
  }
}

}  // namespace
}  // namespace pgqrs::testing
