// sqlite3 -> engine oracle: libsqlite3 writes databases in the supported subset (several page
// sizes, reserved bytes, overflow rows, freelist pages, uncheckpointed WAL frames); the engine
// must read exactly the same rows and index order, modify them, and sqlite3 checks the result.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <random>

#include "absl/strings/ascii.h"
#include "tests/engine/test_util.h"
#include "tests/engine/workload.h"

namespace pgqrs::engine::testing {
namespace {

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO(sql << ": " << (err ? err : ""));
  sqlite3_free(err);
  REQUIRE(rc == SQLITE_OK);
}

void Bind(sqlite3_stmt* st, int i, const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      sqlite3_bind_null(st, i);
      break;
    case Value::Type::kInteger:
      sqlite3_bind_int64(st, i, v.integer());
      break;
    case Value::Type::kReal:
      sqlite3_bind_double(st, i, v.real());
      break;
    case Value::Type::kText:
      sqlite3_bind_text(st, i, v.bytes().data(), static_cast<int>(v.bytes().size()),
                        SQLITE_TRANSIENT);
      break;
    case Value::Type::kBlob:
      sqlite3_bind_blob(st, i, v.bytes().data(), static_cast<int>(v.bytes().size()),
                        SQLITE_TRANSIENT);
      break;
  }
}

// Fills `path` through libsqlite3 and returns the model. The database file and its WAL are
// copied to `copy` while the connection is still open, so the copy has uncheckpointed frames.
Model WriteWithSqlite(const std::string& path, const std::string& copy, int page_size, int reserve,
                      uint64_t seed) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  if (reserve > 0) {
    int n = reserve;
    REQUIRE(sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &n) == SQLITE_OK);
  }
  Exec(db, "PRAGMA page_size=" + std::to_string(page_size));
  Exec(db, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0");
  // Lower-case and quoted spellings exercise the engine's parser.
  Exec(db,
       "create table \"msgs\" (id integer primary key autoincrement, queue_id integer not null, "
       "state integer not null, priority integer not null, vt integer, payload blob, label "
       "text, score real)");
  for (const IndexDef& ix : MsgsIndexes()) {
    Exec(db, absl::AsciiStrToLower(CreateIndexSql(ix)));
  }
  Model model;
  Workload w(seed, 8);
  std::mt19937_64 rng(seed);
  sqlite3_stmt* ins = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO msgs VALUES(?,?,?,?,?,?,?,?)", -1, &ins, nullptr) ==
          SQLITE_OK);
  for (int t = 0; t < 6; ++t) {
    Exec(db, "BEGIN");
    for (int i = 0; i < 150; ++i) {
      Row row = w.RandomRow();
      for (int c = 0; c < 8; ++c) Bind(ins, c + 1, row[c]);
      REQUIRE(sqlite3_step(ins) == SQLITE_DONE);
      sqlite3_reset(ins);
      int64_t id = sqlite3_last_insert_rowid(db);
      row[0] = Value::Integer(id);
      model[id] = row;
    }
    // Delete a quarter (creates freelist pages) and bump some states.
    for (auto it = model.begin(); it != model.end();) {
      if (rng() % 4 == 0) {
        Exec(db, "DELETE FROM msgs WHERE id=" + std::to_string(it->first));
        it = model.erase(it);
      } else {
        if (rng() % 5 == 0) {
          Exec(db, "UPDATE msgs SET state=2 WHERE id=" + std::to_string(it->first));
          it->second[2] = Value::Integer(2);
        }
        ++it;
      }
    }
    Exec(db, "COMMIT");
  }
  sqlite3_finalize(ins);
  CopyFile(path, copy);
  CopyFile(path + "-wal", copy + "-wal");
  sqlite3_close(db);
  return model;
}

TEST_CASE("the engine reads and modifies databases written by sqlite3", "[engine][oracle]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const int page_size = GENERATE(512, 4096, 65536);
  const int reserve = GENERATE(0, 32);
  INFO("backend " << backend << " page_size " << page_size << " reserve " << reserve);
  std::string dir = NewTempDir("fromsqlite");
  std::string path = dir + "/s.db", copy = dir + "/copy.db";
  Model model = WriteWithSqlite(path, copy, page_size, reserve, page_size + reserve);
  REQUIRE(ReadFile(copy + "-wal").size() > 32);  // uncheckpointed frames present
  auto db = Database::Open(copy, Options(backend));
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  CheckEngine(db->get(), model);
  // AUTOINCREMENT: the engine continues after sqlite3's sqlite_sequence value.
  int64_t max_id = model.empty() ? 0 : model.rbegin()->first;
  Workload w(3, 5, "E");
  for (int t = 0; t < 10; ++t) {
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    for (int i = 0; i < 30; ++i) {
      absl::Status s = w.Step(txn->get(), &model);
      INFO(s.ToString());
      REQUIRE(s.ok());
    }
    REQUIRE((*txn)->Commit().ok());
  }
  REQUIRE(model.rbegin()->first > max_id);
  CheckEngine(db->get(), model);
  REQUIRE((*db)->Close().ok());
  CheckSqlite(copy, model);
  auto ps = SqliteQuery(copy, "PRAGMA page_size");
  REQUIRE(ps[0][0].integer() == page_size);
}

}  // namespace
}  // namespace pgqrs::engine::testing
