// Postgres-specific: the plans of the store's statements on a drained queue. A queue table
// that an autovacuum found empty keeps its pages, and its statistics then say every index is
// one page long. The planner once looked messages up by id through the dequeue index
// (whose last column was id) there, scanning all of it for each message: dequeues and acks
// took up to a second until the next vacuum counted rows again (migration 0006).
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/plain_calls.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/postgres/pg_test_env.h"

namespace pgqrs::testing {
namespace {

using storage::pg::Params;
using storage::pg::PgConn;
using storage::pg::Redactor;
using storage::pg::Rows;

void EnqueueBatches(storage::Store& store, int batches) {
  for (int b = 0; b < batches; ++b) {
    std::vector<storage::NewMessage> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(Msg("{\"n\":" + std::to_string(i) + "}"));
    Ok(store.Enqueue("q", batch, 0));
  }
}

// The generic plan of `statement` for `args` in `schema`, under the store's call settings
// (kCallSettings, the statement every flight sends first).
std::string GenericPlan(PgConn& conn, const std::string& schema,
                        const storage::pg::Statement& statement, const std::string& types,
                        const std::string& args) {
  RequireOk(conn.Exec("BEGIN"));  // the settings are local to it; nothing runs (no ANALYZE)
  Params settings = Params().Add(storage::pg::QuoteIdentifier(schema)).Add("30000");
  RequireOk(conn.Query(storage::pg::kCallSettings, settings, storage::pg::StatementMode::kUnnamed)
                .status());
  RequireOk(conn.Exec(absl::StrCat("PREPARE s(", types, ") AS ", statement.sql)));
  Rows rows = Ok(conn.QueryText(absl::StrCat("EXPLAIN EXECUTE s(", args, ")"), Params()));
  RequireOk(conn.Exec("ROLLBACK; DEALLOCATE s"));
  std::vector<std::string> lines;
  for (int i = 0; i < rows.size(); ++i) lines.push_back(rows.Text(i, 0));
  return absl::StrJoin(lines, "\n");
}

TEST_CASE(
    "on a queue table vacuumed empty, dequeue and ack find messages without scanning "
    "the dequeue index",
    "[postgres]") {
  const std::string schema = FreshSchema();
  std::unique_ptr<storage::Store> store = OpenMigrated(TestDsn(), schema);
  MakeQueue(*store, "q");
  EnqueueBatches(*store, 20);
  const std::string dsn = TestDsn();
  std::unique_ptr<PgConn> conn = Ok(PgConn::Connect({dsn}, Redactor(dsn)));
  RequireOk(conn->Exec(absl::StrCat("SET search_path TO ", schema)));
  RequireOk(conn->Exec("DELETE FROM pgqrs_messages"));
  RequireOk(conn->Exec("VACUUM (ANALYZE, TRUNCATE false) pgqrs_messages"));
  Rows stats = Ok(conn->QueryText(
      "SELECT reltuples::int8, relpages::int8 FROM pg_class WHERE oid = 'pgqrs_messages'::regclass",
      Params()));
  REQUIRE(stats.Int(0, 0) == 0);
  REQUIRE(stats.Int(0, 1) > 0);
  EnqueueBatches(*store, 3);

  const std::string plan = GenericPlan(*conn, schema, storage::pg::kPlainDequeue,
                                       "text, int4, int8, int8[]", "'q', 100, NULL, '{}'");
  INFO(plan);
  // Before: a scan of the whole dequeue index per message, as an index condition on id or
  // as a join filter.
  CHECK(plan.find("Tid Scan on pgqrs_messages") != std::string::npos);
  CHECK(plan.find("(id = ") == std::string::npos);

  // Ack finds its messages by id: through the primary key, never the dequeue index.
  const std::string ack = GenericPlan(*conn, schema, storage::pg::kPlainAck, "text, int8[], int8[]",
                                      "'q', '{1,2,3}', '{4,5,6}'");
  INFO(ack);
  CHECK(ack.find("pgqrs_messages_pkey") != std::string::npos);
  CHECK(ack.find("pgqrs_messages_dequeue") == std::string::npos);

  std::vector<storage::Message> leased = DequeueN(*store, "q", 100);
  REQUIRE(leased.size() == 100);
  CHECK(AckOne(*store, "q", *leased[0].lease) == storage::LeaseOutcome::kOk);
}

}  // namespace
}  // namespace pgqrs::testing
