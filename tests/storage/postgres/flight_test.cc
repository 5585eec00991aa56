// Postgres-specific: PgConn::Flight, the one-round-trip path of the lifecycle calls. A
// flight's statements all go out before any result comes back (libpq's protocol trace
// shows one switch from frontend to backend), they commit together or not at all, a
// follow-up rides along as a transaction of its own, the settings its first statement
// makes last exactly as long as the flight, and it succeeds only once its commit is
// confirmed.
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/postgres/pg_conn.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/postgres/pg_test_env.h"

namespace pgqrs::testing {
namespace {

using storage::pg::FlightStatement;
using storage::pg::Params;
using storage::pg::PgConn;
using storage::pg::Redactor;
using storage::pg::Rows;
using storage::pg::Statement;
using storage::pg::StatementMode;

std::unique_ptr<PgConn> Connect() {
  std::string dsn = TestDsn();
  return Ok(PgConn::Connect({dsn}, Redactor(dsn)));
}

// A table t(v int) in a fresh schema; returns the schema.
std::string MakeTable(PgConn& conn) {
  std::string schema = FreshSchema();
  RequireOk(
      conn.Exec(absl::StrCat("CREATE SCHEMA ", schema, "; CREATE TABLE ", schema, ".t (v int)")));
  return schema;
}

int64_t CountRows(PgConn& conn, const std::string& schema) {
  Rows rows = Ok(conn.QueryText(absl::StrCat("SELECT count(*) FROM ", schema, ".t"), Params()));
  return rows.Int(0, 0);
}

// Runs `run` with libpq's protocol trace on and returns the direction of each message
// line: 'F' (to the server) or 'B' (from it).
template <typename Run>
std::string TraceDirections(PgConn& conn, Run run) {
  FILE* trace = std::tmpfile();
  REQUIRE(trace != nullptr);
  PQtrace(conn.raw(), trace);
  PQsetTraceFlags(conn.raw(), PQTRACE_SUPPRESS_TIMESTAMPS);
  run();
  PQuntrace(conn.raw());
  std::rewind(trace);
  std::string text;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, trace)) text.append(buffer, n);
  std::fclose(trace);
  std::string directions;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    directions.push_back(line[0]);
  }
  return directions;
}

// How many times the traffic turns from client to server: one per round trip.
int RoundTrips(const std::string& directions) {
  int trips = 0;
  for (size_t i = 0; i < directions.size(); ++i) {
    if (directions[i] == 'F' && (i + 1 == directions.size() || directions[i + 1] == 'B')) {
      ++trips;
    }
  }
  return trips;
}

TEST_CASE("a flight is one round trip and returns its last statement's rows",
          "[postgres][flight]") {
  auto conn = Connect();
  std::string schema = MakeTable(*conn);
  std::string insert_sql = absl::StrCat("INSERT INTO ", schema, ".t VALUES ($1)");
  std::string count_sql = absl::StrCat("SELECT count(*), sum(v) FROM ", schema, ".t");
  Statement insert{"test_insert", insert_sql.c_str()};
  Statement count{"test_count", count_sql.c_str()};
  Params one = Params().Add(int64_t{1});
  Params two = Params().Add(int64_t{2});
  Params none;
  FlightStatement flight[] = {{insert, one}, {insert, two}, {count, none}};
  for (StatementMode mode : {StatementMode::kUnnamed, StatementMode::kPrepared}) {
    std::optional<Rows> rows;
    std::string directions = TraceDirections(*conn, [&] { rows = Ok(conn->Flight(flight, mode)); });
    INFO(directions);
    CHECK(RoundTrips(directions) == 1);
    CHECK(rows->Int(0, 0) == (mode == StatementMode::kUnnamed ? 2 : 4));
  }
  // Prepared again: the Prepare messages are not repeated, still one round trip.
  std::string directions = TraceDirections(
      *conn, [&] { RequireOk(conn->Flight(flight, StatementMode::kPrepared).status()); });
  CHECK(RoundTrips(directions) == 1);
  CHECK(CountRows(*conn, schema) == 6);
}

TEST_CASE("a flight that fails part way stores nothing and leaves the connection usable",
          "[postgres][flight]") {
  auto conn = Connect();
  std::string schema = MakeTable(*conn);
  std::string insert_sql = absl::StrCat("INSERT INTO ", schema, ".t VALUES ($1)");
  Statement insert{"test_insert", insert_sql.c_str()};
  Statement divide{"test_divide", "SELECT 1 / $1::int"};
  Params one = Params().Add(int64_t{1});
  Params zero = Params().Add(int64_t{0});
  for (StatementMode mode : {StatementMode::kUnnamed, StatementMode::kPrepared}) {
    FlightStatement failing[] = {{insert, one}, {divide, zero}, {insert, one}};
    absl::Status status = conn->Flight(failing, mode).status();
    INFO(status.ToString());
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);  // 22012 division by zero
    CHECK_FALSE(conn->broken());
    CHECK(CountRows(*conn, schema) == 0);
  }
  FlightStatement good[] = {{insert, one}, {divide, one}};
  CHECK(Ok(conn->Flight(good, StatementMode::kPrepared)).Int(0, 0) == 1);
  CHECK(CountRows(*conn, schema) == 1);
}

TEST_CASE("a flight's follow-up is a transaction of its own in the same round trip",
          "[postgres][flight]") {
  auto conn = Connect();
  std::string schema = MakeTable(*conn);
  std::string insert_sql = absl::StrCat("INSERT INTO ", schema, ".t VALUES ($1)");
  std::string has_sql = absl::StrCat("SELECT count(*) FROM ", schema, ".t WHERE v = $1");
  Statement insert{"test_insert", insert_sql.c_str()};
  Statement divide{"test_divide", "SELECT 1 / $1::int"};
  Params zero = Params().Add(int64_t{0});
  std::vector<Params> values;
  for (int64_t v = 0; v <= 6; ++v) values.push_back(Params().Add(v));
  auto has = [&](int64_t v) {
    return Ok(conn->QueryText(has_sql, Params().Add(v))).Int(0, 0) == 1;
  };
  for (StatementMode mode : {StatementMode::kUnnamed, StatementMode::kPrepared}) {
    int base = mode == StatementMode::kUnnamed ? 0 : 3;
    RequireOk(conn->QueryText(absl::StrCat("TRUNCATE ", schema, ".t"), Params()).status());
    // Both commit, in one round trip.
    FlightStatement first[] = {{insert, values[base + 1]}};
    FlightStatement then[] = {{insert, values[base + 2]}};
    std::string directions =
        TraceDirections(*conn, [&] { RequireOk(conn->Flight(first, mode, then).status()); });
    CHECK(RoundTrips(directions) == 1);
    CHECK((has(base + 1) && has(base + 2)));
    // A failed first transaction stores nothing, and the follow-up still runs.
    FlightStatement failing[] = {{insert, values[0]}, {divide, zero}};
    FlightStatement after_failure[] = {{insert, values[base + 3]}};
    CHECK(conn->Flight(failing, mode, after_failure).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK_FALSE(has(0));
    CHECK(has(base + 3));
    // A failed follow-up is not the flight's failure, and undoes nothing of the first.
    FlightStatement good[] = {{insert, values[0]}};
    FlightStatement failing_then[] = {{divide, zero}};
    RequireOk(conn->Flight(good, mode, failing_then).status());
    CHECK(has(0));
    CHECK_FALSE(conn->broken());
  }
}

// A deferred constraint trigger on t runs `body` (PL/pgSQL) at commit, after the statements'
// results have gone out.
void FailAtCommit(PgConn& conn, const std::string& schema, const std::string& body) {
  RequireOk(conn.Exec(absl::StrCat(
      "CREATE FUNCTION ", schema, ".at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ",
      body, " RETURN NULL; END $$; CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON ", schema,
      ".t DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ", schema, ".at_commit()")));
}

TEST_CASE("a flight whose commit fails reports the failure, not the statements' rows",
          "[postgres][flight]") {
  auto conn = Connect();
  std::string schema = MakeTable(*conn);
  FailAtCommit(*conn, schema, "RAISE EXCEPTION 'refused at commit';");
  std::string insert_sql = absl::StrCat("INSERT INTO ", schema, ".t VALUES ($1) RETURNING v");
  Statement insert{"test_insert_returning", insert_sql.c_str()};
  Params one = Params().Add(int64_t{1});
  FlightStatement flight[] = {{insert, one}};
  for (StatementMode mode : {StatementMode::kUnnamed, StatementMode::kPrepared}) {
    absl::Status status = conn->Flight(flight, mode).status();
    INFO(status.ToString());
    CHECK_FALSE(status.ok());
    CHECK(absl::StrContains(status.message(), "refused at commit"));
    CHECK_FALSE(conn->broken());
  }
  CHECK(CountRows(*conn, schema) == 0);
}

TEST_CASE("a flight whose connection dies while it commits is UNAVAILABLE, never OK",
          "[postgres][flight]") {
  auto setup = Connect();
  std::string schema = MakeTable(*setup);
  // The server ends the session from inside the commit: the rows have been sent, the
  // commit never happens.
  FailAtCommit(*setup, schema,
               "PERFORM pg_terminate_backend(pg_backend_pid()); "
               "PERFORM pg_sleep(5);");
  std::string insert_sql = absl::StrCat("INSERT INTO ", schema, ".t VALUES ($1) RETURNING v");
  Statement insert{"test_insert_returning", insert_sql.c_str()};
  Params one = Params().Add(int64_t{1});
  FlightStatement flight[] = {{insert, one}};
  for (StatementMode mode : {StatementMode::kUnnamed, StatementMode::kPrepared}) {
    auto conn = Connect();
    absl::Status status = conn->Flight(flight, mode).status();
    INFO(status.ToString());
    CHECK(status.code() == absl::StatusCode::kUnavailable);
    CHECK(conn->broken());
  }
  CHECK(CountRows(*setup, schema) == 0);
}

TEST_CASE("settings made local in a flight hold for its later statements and end with it",
          "[postgres][flight]") {
  auto conn = Connect();
  Statement set_timeout{"test_set_timeout", "SELECT set_config('statement_timeout', $1, true)"};
  Statement sleep{"test_sleep", "SELECT pg_sleep($1::float8)"};
  Params timeout = Params().Add("200");
  Params seconds = Params().Add("3");
  FlightStatement flight[] = {{set_timeout, timeout}, {sleep, seconds}};
  absl::Time start = absl::Now();
  absl::Status status = conn->Flight(flight, StatementMode::kUnnamed).status();
  absl::Duration took = absl::Now() - start;
  INFO(status.ToString() << " after " << absl::FormatDuration(took));
  CHECK(status.code() == absl::StatusCode::kUnavailable);  // 57014 statement timeout
  CHECK(took < absl::Seconds(2));
  CHECK(Ok(conn->QueryText("SHOW statement_timeout", Params())).Text(0, 0) == "0");
}

}  // namespace
}  // namespace pgqrs::testing
