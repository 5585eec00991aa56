// Postgres-specific: the store's calls run with JIT compilation off. On a deep queue a
// generic plan's cost estimate passes the JIT thresholds, and compiling it cost a dequeue
// hundreds of milliseconds (storage/postgres/README.md), so both ways the store runs SQL
// (a flight's call settings and a transaction's BEGIN) turn JIT off.
//
// The test lowers the JIT threshold in a database of its own so far that every statement
// reading a table is a JIT candidate, proves with a statement of its own that JIT then
// compiles, runs calls of each kind through a store on that database, and asks
// pg_stat_statements (loaded by tools/pg/cluster.sh) whether any statement was compiled
// meanwhile. Setting up that database needs the cluster's superuser, reached through the
// socket in PGQRS_TEST_PG_DIR.
#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/postgres/pg_conn.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/postgres/pg_test_env.h"

namespace pgqrs::testing {
namespace {

using storage::pg::Params;
using storage::pg::PgConn;
using storage::pg::Redactor;
using storage::pg::Rows;

// The port of the server that `dsn` names.
std::string PortOf(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  REQUIRE(options != nullptr);
  std::string port;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string(o->keyword) == "port" && o->val != nullptr) port = o->val;
  }
  PQconninfoFree(options);
  REQUIRE(!port.empty());
  return port;
}

// `dsn` (postgres://user:password@host:port/db, as cluster.sh prints it) on database `db`.
std::string OnDatabase(const std::string& dsn, const std::string& db) {
  REQUIRE(dsn.find('?') == std::string::npos);
  return dsn.substr(0, dsn.rfind('/') + 1) + db;
}

std::unique_ptr<PgConn> Connect(const std::string& conninfo) {
  return Ok(PgConn::Connect({conninfo}, Redactor(conninfo)));
}

// JIT functions emitted so far per statement of database `db`, keyed by role, query id and
// nesting level, with each statement's text.
struct JitCounts {
  std::map<std::string, int64_t> functions;
  std::map<std::string, std::string> text;
};

JitCounts ReadJitCounts(PgConn& admin, const std::string& db) {
  Rows rows = Ok(admin.QueryText(
      "SELECT concat_ws('/', s.userid, s.queryid, s.toplevel), s.jit_functions, s.query "
      "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1",
      Params().Add(db)));
  JitCounts counts;
  for (int i = 0; i < rows.size(); ++i) {
    counts.functions[rows.Text(i, 0)] = rows.Int(i, 1);
    counts.text[rows.Text(i, 0)] = rows.Text(i, 2);
  }
  return counts;
}

// The texts of the statements that emitted JIT functions between `before` and `after`.
std::vector<std::string> CompiledBetween(const JitCounts& before, const JitCounts& after) {
  std::vector<std::string> compiled;
  for (const auto& [key, functions] : after.functions) {
    auto it = before.functions.find(key);
    if (functions > (it == before.functions.end() ? 0 : it->second)) {
      compiled.push_back(after.text.at(key));
    }
  }
  return compiled;
}

// A database owned by the test role in which every statement that reads a table is a JIT
// candidate and every statement, nested ones included, is tracked by pg_stat_statements.
// The threshold (default 100000) drops to 1: any table scan is estimated above it, while a
// plan that only calls functions, such as the statement that turns JIT off for the rest of
// its call (it runs before it takes effect), costs a few hundredths. Inlining and
// optimization stay off to keep compiling quick.
void CreateJitEagerDatabase(PgConn& admin, const std::string& db) {
  RequireOk(admin.Exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"));
  RequireOk(admin.Exec(absl::StrCat("CREATE DATABASE ", db, " OWNER pgqrs")));
  for (const char* setting : {"jit = on", "jit_above_cost = 1", "jit_inline_above_cost = -1",
                              "jit_optimize_above_cost = -1", "pg_stat_statements.track = 'all'"}) {
    RequireOk(admin.Exec(absl::StrCat("ALTER DATABASE ", db, " SET ", setting)));
  }
}

// Calls of each kind the store has: flights of plain statements (enqueue, dequeue, ack),
// flights calling functions (a keyed enqueue, a consumer's dequeue, a nack) and
// transactions (queue and worker administration, counts).
void RunCalls(storage::Store& store) {
  MakeQueue(store, "q");
  std::vector<storage::NewMessage> plain = {Msg("{\"n\":1}"), Msg("{\"n\":2}")};
  Ok(store.Enqueue("q", plain, 0));
  std::vector<storage::NewMessage> keyed = {Msg("{\"n\":3}", 0, absl::ZeroDuration(), "k3")};
  Ok(store.Enqueue("q", keyed, 0));
  std::vector<storage::Message> leased = DequeueN(store, "q", 1);
  REQUIRE(leased.size() == 1);
  REQUIRE(AckOne(store, "q", *leased[0].lease) == storage::LeaseOutcome::kOk);
  storage::WorkerRegistration reg;
  reg.name = "w";
  reg.queue = "q";
  storage::WorkerInfo worker = Ok(store.RegisterWorker(reg));
  leased = DequeueN(store, "q", 2, absl::Seconds(30), worker.id);
  REQUIRE(leased.size() == 2);
  std::vector<storage::Lease> leases = {*leased[0].lease, *leased[1].lease};
  Ok(store.Nack("q", leases, absl::ZeroDuration()));
  REQUIRE(Ok(store.GetQueueCounts("q")).pending == 2);
  Ok(store.GetSystemCounts());
}

TEST_CASE("the store's calls run with JIT off where every table read is a JIT candidate",
          "[postgres][jit]") {
  const std::string dsn = RequiredEnv("PGQRS_TEST_PG_DSN");
  auto admin = Connect(absl::StrCat("host=", RequiredEnv("PGQRS_TEST_PG_DIR"),
                                    " port=", PortOf(dsn), " user=postgres dbname=postgres"));
  REQUIRE(Ok(admin->QueryText("SELECT pg_jit_available()", Params())).Bool(0, 0));
  INFO("a cluster started by tools/pg/cluster.sh preloads pg_stat_statements");
  REQUIRE(Ok(admin->QueryText("SHOW shared_preload_libraries", Params())).Text(0, 0) ==
          "pg_stat_statements");
  const std::string db = "jit_" + FreshSchema();
  CreateJitEagerDatabase(*admin, db);
  const std::string db_dsn = OnDatabase(dsn, db);

  // The setup works: a statement of the test's own on that database is compiled.
  JitCounts before_probe = ReadJitCounts(*admin, db);
  Ok(Connect(db_dsn)->QueryText("SELECT count(*) FROM pg_class", Params()));
  REQUIRE(CompiledBetween(before_probe, ReadJitCounts(*admin, db)).size() == 1);

  {
    std::unique_ptr<storage::Store> store = OpenMigrated(db_dsn, FreshSchema());
    JitCounts before_calls = ReadJitCounts(*admin, db);
    RunCalls(*store);
    std::vector<std::string> compiled = CompiledBetween(before_calls, ReadJitCounts(*admin, db));
    for (const std::string& sql : compiled) UNSCOPED_INFO("JIT-compiled: " << sql.substr(0, 100));
    CHECK(compiled.empty());
  }
  RequireOk(admin->Exec(absl::StrCat("DROP DATABASE ", db, " WITH (FORCE)")));
}

}  // namespace
}  // namespace pgqrs::testing
