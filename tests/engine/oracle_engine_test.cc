// Engine -> sqlite3 oracle: the engine writes, libsqlite3 checks integrity and contents.
#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/engine/test_util.h"
#include "tests/engine/workload.h"

namespace pgqrs::engine::testing {
namespace {

std::unique_ptr<Database> OpenDb(const std::string& path, const DatabaseOptions& opts) {
  auto db = Database::Open(path, opts);
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  return std::move(*db);
}

void CreateSchema(Database* db) {
  auto txn = db->Begin();
  REQUIRE(txn.ok());
  REQUIRE((*txn)->CreateTable(MsgsTable()).ok());
  for (const IndexDef& ix : MsgsIndexes()) {
    auto s = (*txn)->CreateIndex(ix);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  REQUIRE((*txn)->Commit().ok());
}

// Runs `txns` random transactions; about 10% roll back. `concurrent`: in concurrent
// transactions (BeginConcurrent), one after the other.
void RunWorkload(Database* db, Workload* w, Model* model, int txns, int max_ops, uint64_t seed,
                 bool concurrent = false) {
  std::mt19937_64 rng(seed);
  for (int t = 0; t < txns; ++t) {
    Model before = *model;
    auto txn = concurrent ? db->BeginConcurrent() : db->Begin();
    REQUIRE(txn.ok());
    int ops = 1 + static_cast<int>(rng() % max_ops);
    for (int i = 0; i < ops; ++i) {
      absl::Status s = w->Step(txn->get(), model);
      INFO(s.ToString());
      REQUIRE(s.ok());
    }
    if (rng() % 10 == 0) {
      (*txn)->Rollback();
      *model = before;
    } else {
      absl::Status s = (*txn)->Commit();
      INFO(s.ToString());
      REQUIRE(s.ok());
    }
  }
}

TEST_CASE("engine-written databases pass sqlite3 integrity_check and match the model",
          "[engine][oracle]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const uint64_t seed = GENERATE(1, 2);
  // mvcc: the transactions are concurrent ones (private pages, replayed at commit).
  const bool mvcc = GENERATE(false, true);
  INFO("backend " << backend << " seed " << seed << " mvcc " << mvcc);
  std::string dir = NewTempDir("oracle");
  std::string path = dir + "/q.db";
  DatabaseOptions opts = Options(backend);
  opts.cache_pages = 64;            // force eviction
  opts.wal_checkpoint_pages = 200;  // force checkpoints mid-run
  opts.mvcc = mvcc;
  Model model;
  Workload w(seed, /*large_percent=*/5);
  {
    auto db = OpenDb(path, opts);
    REQUIRE(db->backend_name() == backend);
    CreateSchema(db.get());
    RunWorkload(db.get(), &w, &model, 60, 40, seed, mvcc);
    CheckEngine(db.get(), model);
    REQUIRE(db->Close().ok());
  }
  REQUIRE(!std::filesystem::exists(path + "-wal"));
  CheckSqlite(path, model);
  // Round trip: sqlite3 modifies the engine's file (its own index maintenance and
  // sqlite_sequence), then the engine must read exactly that.
  SqliteExec(path,
             "UPDATE msgs SET state = 2 WHERE id % 3 = 0; DELETE FROM msgs WHERE id % 7 = 0; "
             "INSERT INTO msgs(queue_id, state, priority, vt, payload, label, score) "
             "VALUES (1, 0, 5, 42, x'00ff', 'S1', 2.5)");
  for (auto it = model.begin(); it != model.end();) {
    if (it->first % 7 == 0) {
      it = model.erase(it);
      continue;
    }
    if (it->first % 3 == 0) it->second[2] = Value::Integer(2);
    ++it;
  }
  int64_t sqlite_id = SqliteQuery(path, "SELECT id FROM msgs WHERE label = 'S1'")[0][0].integer();
  model[sqlite_id] = {Value::Integer(sqlite_id), Value::Integer(1),
                      Value::Integer(0),         Value::Integer(5),
                      Value::Integer(42),        Value::Blob(std::string("\0\xff", 2)),
                      Value::Text("S1"),         Value::Real(2.5)};
  // Reopen after sqlite3 modified it, keep going, check again.
  {
    auto db = OpenDb(path, opts);
    CheckEngine(db.get(), model);
    RunWorkload(db.get(), &w, &model, 20, 40, seed + 100, mvcc);
    REQUIRE(db->Close().ok());
  }
  CheckSqlite(path, model);
}

TEST_CASE("sqlite3 recovers a WAL the engine left behind without checkpointing",
          "[engine][oracle]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string dir = NewTempDir("walrecover");
  std::string path = dir + "/q.db";
  DatabaseOptions opts = Options(backend);
  opts.checkpoint_on_close = false;
  opts.wal_checkpoint_pages = 1000000;
  Model model;
  Workload w(9, 5);
  {
    auto db = OpenDb(path, opts);
    CreateSchema(db.get());
    RunWorkload(db.get(), &w, &model, 40, 30, 9);
    REQUIRE(db->Close().ok());  // like a crash: the WAL stays, nothing is checkpointed
  }
  REQUIRE(std::filesystem::file_size(path + "-wal") > 32);
  // The engine recovers a copy; sqlite3 recovers the original.
  CopyFile(path, dir + "/copy.db");
  CopyFile(path + "-wal", dir + "/copy.db-wal");
  {
    auto db = OpenDb(dir + "/copy.db", Options(backend));
    CheckEngine(db.get(), model);
  }
  CheckSqlite(path, model);
}

TEST_CASE("100k rows with indexes, deletes and updates stay consistent", "[engine][oracle]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string dir = NewTempDir("big");
  std::string path = dir + "/big.db";
  DatabaseOptions opts = Options(backend);
  opts.cache_pages = 500;
  Model model;
  Workload w(77, 0);
  auto db = OpenDb(path, opts);
  CreateSchema(db.get());
  for (int t = 0; t < 100; ++t) {
    auto txn = db->Begin();
    REQUIRE(txn.ok());
    for (int i = 0; i < 1000; ++i) {
      Row row = w.RandomRow();
      if (row[5].type() == Value::Type::kBlob) row[5] = Value::Blob(row[5].bytes().substr(0, 16));
      auto id = (*txn)->Insert("msgs", row);
      if (!id.ok()) FAIL(id.status().ToString());
      row[0] = Value::Integer(*id);
      model[*id] = row;
    }
    REQUIRE((*txn)->Commit().ok());
  }
  REQUIRE(model.size() == 100000);
  std::mt19937_64 rng(5);
  auto txn = db->Begin();
  REQUIRE(txn.ok());
  for (int i = 0; i < 30000; ++i) {
    int64_t id = 1 + static_cast<int64_t>(rng() % 100000);
    auto gone = (*txn)->Delete("msgs", id);
    if (!gone.ok()) FAIL(gone.status().ToString());
    if (*gone != (model.erase(id) == 1)) FAIL("delete of " << id << " disagrees with model");
  }
  REQUIRE((*txn)->Commit().ok());
  CheckEngine(db.get(), model);
  REQUIRE(db->Close().ok());
  CheckSqlite(path, model);
  auto freelist = SqliteQuery(path, "PRAGMA freelist_count");
  INFO("freelist pages after deletes: " << freelist[0][0].integer());
}

}  // namespace
}  // namespace pgqrs::engine::testing
