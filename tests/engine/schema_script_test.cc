// Schema scripts (CREATE TABLE/INDEX, INSERT ... VALUES) and foreign keys, checked against
// libsqlite3: the file the engine writes must pass integrity_check and foreign_key_check, and
// sqlite3 must accept (and enforce) the schema text the engine stores.
#include <catch2/catch.hpp>

#include "engine/catalog/script.h"
#include "engine/db/database.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine {
namespace {

using testing::Options;
using testing::SqliteQuery;

constexpr char kScript[] = R"sql(
-- Parents and children; a comment; /* another */
CREATE TABLE parents (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE UNIQUE INDEX parents_name ON parents (name);
CREATE TABLE IF NOT EXISTS children (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER NOT NULL REFERENCES parents (id),
  other_id INTEGER REFERENCES parents(id),
  note TEXT
);
CREATE INDEX children_other ON children (other_id) WHERE other_id IS NOT NULL;
INSERT INTO parents (id, name) VALUES (1, 'it''s one'), (2, 'two'), (-3, 'minus');
INSERT INTO children (id, parent_id, note) VALUES (10, 1, NULL);
)sql";

TEST_CASE("ParseScript reads the migration subset", "[engine][script]") {
  auto parsed = ParseScript(kScript);
  INFO(parsed.status().ToString());
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 6);
  const TableDef& children = (*parsed)[2].table;
  CHECK((*parsed)[2].if_not_exists);
  CHECK(children.columns[1].references_table == "parents");
  CHECK(children.columns[1].references_column == "id");
  CHECK(children.columns[1].not_null);
  CHECK(CreateTableSql(children) ==
        R"(CREATE TABLE "children"("id" INTEGER PRIMARY KEY, "parent_id" INTEGER NOT NULL )"
        R"(REFERENCES "parents"("id"), "other_id" INTEGER REFERENCES "parents"("id"), "note" TEXT))");
  const InsertStatement& insert = (*parsed)[4].insert;
  REQUIRE(insert.rows.size() == 3);
  CHECK(insert.rows[0][1] == Value::Text("it's one"));
  CHECK(insert.rows[2][0] == Value::Integer(-3));
  CHECK((*parsed)[5].insert.rows[0][2].is_null());

  for (const char* outside :
       {"UPDATE parents SET name = 'x'", "CREATE VIEW v AS SELECT 1",
        "CREATE TABLE t (a INTEGER DEFAULT 0)", "INSERT INTO parents (id) VALUES (1.5)",
        "CREATE TABLE t (a INTEGER REFERENCES p(id) ON DELETE CASCADE)"}) {
    INFO(outside);
    CHECK(absl::IsUnimplemented(ParseScript(outside).status()));
  }
  CHECK(absl::IsInvalidArgument(ParseScript("INSERT INTO t (a, b) VALUES (1)").status()));
}

TEST_CASE("foreign keys are enforced and sqlite3 agrees with the file", "[engine][fk]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const std::string path = testing::NewTempDir("fk_" + backend) + "/fk.db";
  {
    auto db = *Database::Open(path, Options(backend));
    auto txn = *db->Begin();
    REQUIRE(txn->ExecuteScript(kScript).ok());
    // Re-running IF NOT EXISTS is a no-op; the plain CREATE TABLE is not.
    CHECK(txn->ExecuteScript("CREATE TABLE IF NOT EXISTS children (id INTEGER PRIMARY KEY)").ok());
    CHECK(absl::IsAlreadyExists(txn->ExecuteScript("CREATE TABLE parents (id INTEGER)")));
    REQUIRE(txn->Commit().ok());

    txn = *db->Begin();
    auto orphan =
        txn->Insert("children", {Value::Null(), Value::Integer(99), Value::Null(), Value::Null()});
    CHECK(absl::IsFailedPrecondition(orphan.status()));
    CHECK(orphan.status().message().find("FOREIGN KEY") != std::string::npos);
    auto child = txn->Insert("children",
                             {Value::Null(), Value::Integer(2), Value::Integer(-3), Value::Null()});
    REQUIRE(child.ok());
    CHECK(absl::IsFailedPrecondition(txn->Update(
        "children", *child, {Value::Null(), Value::Integer(2), Value::Integer(7), Value::Null()})));
    // Referenced through the indexed column and through the unindexed one.
    CHECK(absl::IsFailedPrecondition(txn->Delete("parents", -3).status()));
    CHECK(absl::IsFailedPrecondition(txn->Delete("parents", 1).status()));
    REQUIRE(*txn->Delete("children", 10));
    CHECK(*txn->Delete("parents", 1));
    REQUIRE(txn->Commit().ok());
    REQUIRE(db->Close().ok());
  }
  CHECK(testing::SqliteIntegrity(path) == "ok");
  CHECK(SqliteQuery(path, "PRAGMA foreign_key_check").empty());
  auto rows = SqliteQuery(path, "SELECT id, parent_id, other_id FROM children");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0][2] == Value::Integer(-3));
  // sqlite3 parses the stored schema and enforces the same keys.
  auto fails = SqliteQuery(path,
                           "SELECT count(*) FROM pragma_foreign_key_list('children') "
                           "WHERE \"table\" = 'parents'");
  CHECK(fails[0][0] == Value::Integer(2));
}

TEST_CASE("the engine enforces keys declared in a file sqlite3 made", "[engine][fk]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const std::string path = testing::NewTempDir("fk_sqlite_" + backend) + "/fk.db";
  testing::SqliteExec(path, std::string("PRAGMA journal_mode=WAL;") + kScript);
  auto db = *Database::Open(path, Options(backend));
  auto txn = *db->Begin();
  CHECK(absl::IsFailedPrecondition(txn->Delete("parents", 1).status()));
  CHECK(absl::IsFailedPrecondition(
      txn->Insert("children", {Value::Null(), Value::Integer(5), Value::Null(), Value::Null()})
          .status()));
  CHECK(txn->Insert("children", {Value::Null(), Value::Integer(2), Value::Null(), Value::Null()})
            .ok());
  REQUIRE(txn->Commit().ok());
  REQUIRE(db->Close().ok());
  CHECK(testing::SqliteIntegrity(path) == "ok");
  CHECK(SqliteQuery(path, "PRAGMA foreign_key_check").empty());
}

}  // namespace
}  // namespace pgqrs::engine
