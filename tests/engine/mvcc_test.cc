// Concurrent writing transactions (Database::BeginConcurrent, engine/MVCC.md section 7): the
// write-conflict status, API semantics with mvcc on and off, and sqlite3 as the judge of the
// files they leave.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

// A database with `registers` (ids 1..n, value 0), `names` (UNIQUE name) and `children`
// (REFERENCES registers), opened with mvcc on.
std::unique_ptr<Database> OpenModel(const std::string& path, int n) {
  auto db = OpenDb(path, /*mvcc=*/true);
  auto txn = db->Begin();
  REQUIRE(txn.ok());
  REQUIRE((*txn)->CreateTable(RegistersDef()).ok());
  REQUIRE((*txn)
              ->CreateTable(
                  {"names", {{"id", ColumnType::kInteger}, {"name", ColumnType::kText, true}}, 0})
              .ok());
  REQUIRE((*txn)->CreateIndex({"names_name", "names", /*unique=*/true, {{"name"}}}).ok());
  TableDef children{
      "children", {{"id", ColumnType::kInteger}, {"parent", ColumnType::kInteger}}, 0};
  children.columns[1].references_table = "registers";
  children.columns[1].references_column = "id";
  REQUIRE((*txn)->CreateTable(children).ok());
  for (int i = 1; i <= n; ++i) {
    REQUIRE((*txn)->Insert("registers", {Value::Integer(i), Value::Integer(0)}).ok());
  }
  REQUIRE((*txn)->Commit().ok());
  return db;
}

std::unique_ptr<Transaction> BeginConcurrent(Database* db) {
  auto txn = db->BeginConcurrent();
  REQUIRE(txn.ok());
  return std::move(*txn);
}

void Set(Transaction* txn, int64_t id, int64_t value) {
  REQUIRE(txn->Update("registers", id, {Value::Integer(id), Value::Integer(value)}).ok());
}

int64_t ValueOf(Transaction* txn, int64_t id) {
  auto row = txn->Get("registers", id);
  REQUIRE(row.ok());
  REQUIRE(row->has_value());
  return (**row)[1].integer();
}

TEST_CASE("concurrent transactions: the first committer of a row wins") {
  const std::string path = NewTempDir("mvcc_ww") + "/db";
  auto db = OpenModel(path, 10);
  auto a = BeginConcurrent(db.get());
  auto b = BeginConcurrent(db.get());
  auto c = BeginConcurrent(db.get());
  Set(a.get(), 1, 11);
  Set(b.get(), 1, 12);
  Set(c.get(), 2, 13);               // another row: no conflict
  CHECK(ValueOf(a.get(), 1) == 11);  // own write
  CHECK(ValueOf(b.get(), 1) == 12);
  REQUIRE(a->Commit().ok());
  absl::Status lost = b->Commit();
  CHECK(IsWriteConflict(lost));
  REQUIRE(c->Commit().ok());
  // A transaction that writes the row after the winner committed learns it at once.
  auto late = BeginConcurrent(db.get());
  auto e = BeginConcurrent(db.get());
  Set(late.get(), 1, 15);
  REQUIRE(late->Commit().ok());
  CHECK(IsWriteConflict(e->Update("registers", 1, {Value::Integer(1), Value::Integer(16)})));
  CHECK(IsWriteConflict(e->Delete("registers", 1).status()));
  CHECK(ValueOf(e.get(), 1) == 11);  // its snapshot, unchanged by the failed calls
  e->Rollback();
  auto r = BeginConcurrent(db.get());
  CHECK(ValueOf(r.get(), 1) == 15);
  CHECK(ValueOf(r.get(), 2) == 13);
  REQUIRE(r->Commit().ok());
  // A later transaction (whose snapshot includes the winner) updates the row without conflict.
  auto d = BeginConcurrent(db.get());
  Set(d.get(), 1, 14);
  REQUIRE(d->Commit().ok());
  REQUIRE(db->Close().ok());
  CHECK(SqliteIntegrity(path) == "ok");
  auto rows = SqliteQuery(path, "SELECT value FROM registers WHERE id IN (1, 2) ORDER BY id");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][0].integer() == 14);
  CHECK(rows[1][0].integer() == 13);
}

// A concurrent transaction that set register 1 to 100, and lost it to another that set it to
// 200 and committed first.
std::unique_ptr<Transaction> BeginLoserOfRegisterOne(Database* db) {
  auto loser = BeginConcurrent(db);
  Set(loser.get(), 1, 100);
  auto winner = BeginConcurrent(db);
  Set(winner.get(), 1, 200);
  REQUIRE(winner->Commit().ok());
  return loser;
}

// Inserts enough rows in `bulk` that its commit prunes the row stamps.
void InsertManyNames(Transaction* bulk) {
  for (int i = 0; i < 3000; ++i) {
    REQUIRE(bulk->Insert("names", {Value::Null(), Value::Text(absl::StrCat("n", i))}).ok());
  }
}

TEST_CASE("concurrent transactions: pruned row stamps never hide a conflict") {
  const std::string path = NewTempDir("mvcc_prune") + "/db";
  auto db = OpenModel(path, 10);
  auto old = BeginLoserOfRegisterOne(db.get());
  // The bulk commit prunes the stamps; the winner's stamp is newer than the open
  // transaction's snapshot and must stay.
  auto bulk = db->Begin();
  REQUIRE(bulk.ok());
  InsertManyNames(bulk->get());
  REQUIRE((*bulk)->Commit().ok());
  CHECK(IsWriteConflict(old->Commit()));
  auto r = BeginConcurrent(db.get());
  CHECK(ValueOf(r.get(), 1) == 200);
}

TEST_CASE("concurrent transactions: a commit waiting for the writer slot keeps its conflicts") {
  const std::string path = NewTempDir("mvcc_prune_wait") + "/db";
  auto db = OpenModel(path, 10);
  auto old = BeginLoserOfRegisterOne(db.get());
  // `old` commits while an exclusive transaction holds the writer slot: it releases its
  // snapshot and waits. The exclusive commit prunes the stamps, and the winner's stamp is
  // the evidence of old's conflict.
  auto bulk = db->Begin();
  REQUIRE(bulk.ok());
  absl::Status old_commit;
  std::thread committer([&] { old_commit = old->Commit(); });
  // Lets the committer reach the slot; the outcome must be the same if it has not yet.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  InsertManyNames(bulk->get());
  REQUIRE((*bulk)->Commit().ok());
  committer.join();
  CHECK(IsWriteConflict(old_commit));
  auto r = BeginConcurrent(db.get());
  CHECK(ValueOf(r.get(), 1) == 200);
}

TEST_CASE("concurrent transactions are snapshot isolation, not serializable: write skew") {
  const std::string path = NewTempDir("mvcc_skew") + "/db";
  auto db = OpenModel(path, 2);
  // Each reads both registers and writes the other one: no row is written twice, so both
  // commit, although no serial order gives this result (reads are not validated).
  auto a = BeginConcurrent(db.get());
  auto b = BeginConcurrent(db.get());
  Set(a.get(), 1, ValueOf(a.get(), 2) + 1);
  Set(b.get(), 2, ValueOf(b.get(), 1) + 1);
  REQUIRE(a->Commit().ok());
  REQUIRE(b->Commit().ok());
  auto r = BeginConcurrent(db.get());
  CHECK(ValueOf(r.get(), 1) == 1);
  CHECK(ValueOf(r.get(), 2) == 1);
}

TEST_CASE("concurrent transactions: a delete conflicts with an update of the same row") {
  const std::string path = NewTempDir("mvcc_del") + "/db";
  auto db = OpenModel(path, 3);
  auto a = BeginConcurrent(db.get());
  auto b = BeginConcurrent(db.get());
  auto gone = a->Delete("registers", 3);
  REQUIRE(gone.ok());
  CHECK(*gone);
  auto row = a->Get("registers", 3);
  REQUIRE(row.ok());
  CHECK(!row->has_value());
  Set(b.get(), 3, 5);
  REQUIRE(b->Commit().ok());
  CHECK(IsWriteConflict(a->Commit()));
  auto r = BeginConcurrent(db.get());
  CHECK(ValueOf(r.get(), 3) == 5);
}

TEST_CASE("concurrent transactions: snapshot isolation for reads") {
  const std::string path = NewTempDir("mvcc_si") + "/db";
  auto db = OpenModel(path, 10);
  auto reader = BeginConcurrent(db.get());
  CHECK(ValueOf(reader.get(), 4) == 0);
  auto writer = BeginConcurrent(db.get());
  Set(writer.get(), 4, 40);
  CHECK(ValueOf(reader.get(), 4) == 0);  // no dirty read
  REQUIRE(writer->Commit().ok());
  CHECK(ValueOf(reader.get(), 4) == 0);  // repeatable read
  Set(reader.get(), 5, 50);              // writes a different row: commits
  REQUIRE(reader->Commit().ok());
  auto after = BeginConcurrent(db.get());
  CHECK(ValueOf(after.get(), 4) == 40);
  CHECK(ValueOf(after.get(), 5) == 50);
}

TEST_CASE("concurrent transactions: inserts get distinct rowids and see their index entries") {
  const std::string path = NewTempDir("mvcc_ins") + "/db";
  auto db = OpenModel(path, 2);
  auto a = BeginConcurrent(db.get());
  auto b = BeginConcurrent(db.get());
  auto ida = a->Insert("names", {Value::Null(), Value::Text("alpha")});
  auto idb = b->Insert("names", {Value::Null(), Value::Text("beta")});
  REQUIRE(ida.ok());
  REQUIRE(idb.ok());
  CHECK(*ida != *idb);
  auto it = a->ScanIndex("names_name", {});
  REQUIRE(it.ok());
  REQUIRE((*it)->Valid());
  CHECK((*it)->key()[0].bytes() == "alpha");
  CHECK((*it)->rowid() == *ida);
  REQUIRE((*it)->Next().ok());
  CHECK(!(*it)->Valid());  // b's row is not in a's snapshot
  REQUIRE(b->Commit().ok());
  REQUIRE(a->Commit().ok());
  REQUIRE(db->Close().ok());
  CHECK(SqliteIntegrity(path) == "ok");
  auto rows = SqliteQuery(path, "SELECT id, name FROM names ORDER BY name");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][0].integer() == *ida);
  CHECK(rows[1][0].integer() == *idb);
}

TEST_CASE("concurrent transactions: two inserts of one UNIQUE key, one winner") {
  const std::string path = NewTempDir("mvcc_uniq") + "/db";
  auto db = OpenModel(path, 2);
  auto a = BeginConcurrent(db.get());
  auto b = BeginConcurrent(db.get());
  REQUIRE(a->Insert("names", {Value::Null(), Value::Text("same")}).ok());
  REQUIRE(b->Insert("names", {Value::Null(), Value::Text("same")}).ok());
  // A duplicate within one transaction's own view is the usual error, not a conflict.
  auto dup = a->Insert("names", {Value::Null(), Value::Text("same")});
  CHECK(absl::IsAlreadyExists(dup.status()));
  REQUIRE(a->Commit().ok());
  absl::Status lost = b->Commit();
  INFO(lost.ToString());
  CHECK(IsWriteConflict(lost));
  // The retry sees the winner's key: now it is a genuine constraint error.
  auto retry = BeginConcurrent(db.get());
  CHECK(
      absl::IsAlreadyExists(retry->Insert("names", {Value::Null(), Value::Text("same")}).status()));
  retry->Rollback();
  REQUIRE(db->Close().ok());
  CHECK(SqliteIntegrity(path) == "ok");
  CHECK(SqliteQuery(path, "SELECT count(*) FROM names")[0][0].integer() == 1);
}

TEST_CASE("concurrent transactions: a child insert loses against its parent's delete") {
  const std::string path = NewTempDir("mvcc_fk") + "/db";
  auto db = OpenModel(path, 2);
  auto a = BeginConcurrent(db.get());
  auto b = BeginConcurrent(db.get());
  auto deleted = a->Delete("registers", 2);
  REQUIRE(deleted.ok());
  REQUIRE(*deleted);
  REQUIRE(b->Insert("children", {Value::Null(), Value::Integer(2)}).ok());
  REQUIRE(a->Commit().ok());
  CHECK(IsWriteConflict(b->Commit()));
  REQUIRE(db->Close().ok());
  CHECK(SqliteIntegrity(path) == "ok");
  CHECK(SqliteQuery(path, "PRAGMA foreign_key_check").empty());
}

TEST_CASE("concurrent transactions: schema changes need Begin, Begin excludes commits") {
  const std::string path = NewTempDir("mvcc_schema") + "/db";
  auto db = OpenModel(path, 2);
  auto c = BeginConcurrent(db.get());
  CHECK(absl::IsFailedPrecondition(c->CreateTable({"t", {{"id", ColumnType::kInteger}}, 0})));
  Set(c.get(), 1, 7);
  auto exclusive = db->Begin();
  REQUIRE(exclusive.ok());
  Set(exclusive->get(), 1, 8);
  std::atomic<bool> committed{false};
  std::thread committer([&] {
    absl::Status s = c->Commit();  // waits for the exclusive transaction, then loses
    CHECK(IsWriteConflict(s));
    committed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(!committed);
  REQUIRE((*exclusive)->Commit().ok());
  committer.join();
  auto r = BeginConcurrent(db.get());
  CHECK(ValueOf(r.get(), 1) == 8);
}

TEST_CASE("concurrent transactions with mvcc off are exclusive") {
  const std::string path = NewTempDir("mvcc_off") + "/db";
  auto db = OpenDb(path, /*mvcc=*/false);
  {
    auto txn = db->Begin();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->CreateTable(RegistersDef()).ok());
    REQUIRE((*txn)->Commit().ok());
  }
  auto a = BeginConcurrent(db.get());
  // A schema change is allowed: the transaction holds the writer slot.
  REQUIRE(a->CreateTable({"t", {{"id", ColumnType::kInteger}}, 0}).ok());
  REQUIRE(a->Commit().ok());
}

}  // namespace
}  // namespace pgqrs::engine::testing
