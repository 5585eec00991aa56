// Transaction::Modify (read, edit in place, write back once) and Transaction::SeekTable (a scan
// from a rowid), checked against the indexes they must keep and against libsqlite3.
#include <catch2/catch.hpp>

#include "engine/db/database.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, rank INTEGER NOT NULL,
                    owner INTEGER REFERENCES items (id));
CREATE UNIQUE INDEX items_name ON items (name);
CREATE INDEX items_rank ON items (rank DESC, id);
)sql";

std::vector<int64_t> RanksInIndexOrder(Transaction& txn) {
  auto it = *txn.ScanIndex("items_rank", {});
  std::vector<int64_t> ranks;
  while (it->Valid()) {
    ranks.push_back(it->key()[0].integer());
    REQUIRE(it->Next().ok());
  }
  return ranks;
}

TEST_CASE("Modify edits a row in place and keeps its indexes", "[engine][api][modify]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const std::string path = testing::NewTempDir("modify_" + backend) + "/m.db";
  auto db = *Database::Open(path, testing::Options(backend));
  auto txn = *db->Begin();
  REQUIRE(txn->ExecuteScript(kSchema).ok());
  for (int64_t i = 1; i <= 50; ++i) {
    REQUIRE(txn->Insert("items", {Value::Integer(i), Value::Text("n" + std::to_string(i)),
                                  Value::Integer(i % 7), Value::Null()})
                .ok());
  }

  int calls = 0;
  auto moved = txn->Modify("items", 10, [&](Row& row) {
    ++calls;
    CHECK(row[1] == Value::Text("n10"));
    row[2] = Value::Integer(100);
    return absl::OkStatus();
  });
  REQUIRE(moved.ok());
  CHECK(*moved);
  CHECK(calls == 1);
  CHECK(RanksInIndexOrder(*txn).front() == 100);
  CHECK((*txn->Get("items", 10))->at(2) == Value::Integer(100));

  // A missing row: false, and the edit is not called.
  CHECK(*txn->Modify("items", 999, [&](Row&) {
    ++calls;
    return absl::OkStatus();
  }) == false);
  CHECK(calls == 1);

  // An error from the edit, a UNIQUE clash and a missing parent each change nothing.
  auto refused = txn->Modify("items", 11, [](Row& row) {
    row[2] = Value::Integer(-5);
    return absl::FailedPreconditionError("not now");
  });
  CHECK(refused.status().message() == "not now");
  CHECK(absl::IsAlreadyExists(txn->Modify("items", 11,
                                          [](Row& row) {
                                            row[1] = Value::Text("n12");
                                            return absl::OkStatus();
                                          })
                                  .status()));
  CHECK(absl::IsFailedPrecondition(txn->Modify("items", 11,
                                               [](Row& row) {
                                                 row[3] = Value::Integer(777);
                                                 return absl::OkStatus();
                                               })
                                       .status()));
  CHECK(*txn->Get("items", 11) ==
        Row{Value::Integer(11), Value::Text("n11"), Value::Integer(4), Value::Null()});
  // An unchanged row is fine (nothing to write).
  CHECK(*txn->Modify("items", 11, [](Row&) { return absl::OkStatus(); }));
  REQUIRE(txn->Commit().ok());
  REQUIRE(db->Close().ok());
  CHECK(testing::SqliteIntegrity(path) == "ok");
  auto rows = testing::SqliteQuery(path, "SELECT rank FROM items WHERE id IN (10, 11) ORDER BY id");
  CHECK(rows == std::vector<std::vector<Value>>{{Value::Integer(100)}, {Value::Integer(4)}});
}

TEST_CASE("SeekTable scans from a rowid", "[engine][api][seek]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const std::string path = testing::NewTempDir("seek_" + backend) + "/s.db";
  auto db = *Database::Open(path, testing::Options(backend));
  auto txn = *db->Begin();
  REQUIRE(txn->ExecuteScript(kSchema).ok());
  // Enough rows for several leaves; gaps, and negative rowids.
  for (int64_t i = -20; i <= 3000; i += 3) {
    REQUIRE(txn->Insert("items",
                        {Value::Integer(i), Value::Text(std::string(40, 'x') + std::to_string(i)),
                         Value::Integer(0), Value::Null()})
                .ok());
  }
  for (int64_t from : {-100, -20, -19, 0, 1, 1500, 2998, 2999}) {
    INFO("from " << from);
    auto it = *txn->SeekTable("items", from);
    int64_t expected = -20;
    while (expected < from) expected += 3;
    for (int n = 0; n < 5 && expected <= 2998; ++n, expected += 3) {
      REQUIRE(it->Valid());
      CHECK(it->rowid() == expected);
      CHECK((*it->row())[0] == Value::Integer(expected));
      REQUIRE(it->Next().ok());
    }
  }
  CHECK_FALSE((*txn->SeekTable("items", 3000))->Valid());
  REQUIRE(txn->Commit().ok());
}

}  // namespace
}  // namespace pgqrs::engine
