// Concurrent writing transactions (Database::BeginConcurrent, engine/MVCC.md section 7): the
// write-conflict status, API semantics with mvcc on and off, and sqlite3 as the judge of the
// files they leave.
#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine::testing {
namespace {

TableDef RegistersDef() {
  return {"registers",
          {{"id", ColumnType::kInteger}, {"value", ColumnType::kInteger, true}},
          /*rowid_column=*/0};
}

std::unique_ptr<Database> OpenDb(const std::string& path, bool mvcc) {
  DatabaseOptions opts = Options("posix");
  opts.mvcc = mvcc;
  auto db = Database::Open(path, opts);
  REQUIRE(db.ok());
  return std::move(*db);
}

TEST_CASE("a write conflict is recognised and nothing else is") {
  absl::Status conflict = WriteConflictError("registers row 1");
  CHECK(IsWriteConflict(conflict));
  CHECK(absl::IsAborted(conflict));
  CHECK(absl::StrContains(conflict.message(), "registers row 1"));
  CHECK_FALSE(IsWriteConflict(absl::AbortedError("write-write conflict: registers row 1")));
  CHECK_FALSE(IsWriteConflict(absl::AlreadyExistsError("UNIQUE constraint failed")));
  CHECK_FALSE(IsWriteConflict(absl::OkStatus()));
}

TEST_CASE("BeginConcurrent commits like Begin, with mvcc on and off") {
  for (bool mvcc : {false, true}) {
    const std::string path = NewTempDir("mvcc_api") + "/db";
    {
      auto db = OpenDb(path, mvcc);
      {
        auto txn = db->Begin();
        REQUIRE(txn.ok());
        REQUIRE((*txn)->CreateTable(RegistersDef()).ok());
        REQUIRE((*txn)->Commit().ok());
      }
      auto txn = db->BeginConcurrent();
      REQUIRE(txn.ok());
      auto id = (*txn)->Insert("registers", {Value::Null(), Value::Integer(7)});
      REQUIRE(id.ok());
      auto row = (*txn)->Get("registers", *id);
      REQUIRE(row.ok());
      REQUIRE(row->has_value());
      CHECK((**row)[1].integer() == 7);
      REQUIRE((*txn)->Commit().ok());
      REQUIRE(db->Close().ok());
    }
    CHECK(SqliteIntegrity(path) == "ok");
    auto rows = SqliteQuery(path, "SELECT id, value FROM registers");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][1].integer() == 7);
  }
}

}  // namespace
}  // namespace pgqrs::engine::testing
