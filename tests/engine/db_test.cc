// API semantics, locking, read-only mode, group commit and hostile files, on both backends.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <thread>

#include "engine/base/status_macros.h"
#include "tests/engine/test_util.h"
#include "tests/engine/workload.h"

namespace pgqrs::engine::testing {
namespace {

std::unique_ptr<Database> MustOpen(const std::string& path, const DatabaseOptions& o) {
  auto db = Database::Open(path, o);
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  return std::move(*db);
}

std::unique_ptr<Transaction> MustBegin(Database* db) {
  auto txn = db->Begin();
  REQUIRE(txn.ok());
  return std::move(*txn);
}

TableDef Jobs() {
  TableDef t;
  t.name = "jobs";
  t.columns = {{"id", ColumnType::kInteger, false},
               {"queue", ColumnType::kText, true},
               {"prio", ColumnType::kInteger, true},
               {"vt", ColumnType::kInteger, false},
               {"body", ColumnType::kBlob, false}};
  t.rowid_column = 0;
  t.autoincrement = true;
  return t;
}

Row Job(const std::string& q, int64_t prio, std::optional<int64_t> vt) {
  return {Value::Null(), Value::Text(q), Value::Integer(prio),
          vt ? Value::Integer(*vt) : Value::Null(), Value::Blob("x")};
}

TEST_CASE("typed API: constraints, rollback, autoincrement and index ranges", "[engine][api]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string path = NewTempDir("api") + "/a.db";
  auto db = MustOpen(path, Options(backend));
  auto txn = MustBegin(db.get());
  REQUIRE(txn->CreateTable(Jobs()).ok());
  REQUIRE(txn->CreateIndex({"jobs_q",
                            "jobs",
                            false,
                            {{"queue", false}, {"prio", true}, {"vt", false}},
                            PartialPredicate::kNone,
                            ""})
              .ok());
  REQUIRE(txn->CreateIndex({"jobs_u",
                            "jobs",
                            true,
                            {{"queue", false}, {"vt", false}},
                            PartialPredicate::kIsNotNull,
                            "vt"})
              .ok());
  REQUIRE(absl::IsAlreadyExists(txn->CreateTable(Jobs())));
  for (int i = 0; i < 50; ++i) {
    auto id = txn->Insert(
        "jobs", Job(i % 2 ? "a" : "b", i % 5, i % 3 ? std::optional<int64_t>(i) : std::nullopt));
    REQUIRE(id.ok());
    REQUIRE(*id == i + 1);
  }
  // UNIQUE violation and NOT NULL / type errors leave the transaction usable.
  REQUIRE(absl::IsAlreadyExists(txn->Insert("jobs", Job("a", 0, 1)).status()));
  REQUIRE(
      absl::IsInvalidArgument(txn->Insert("jobs", {Value::Null(), Value::Null(), Value::Integer(1),
                                                   Value::Null(), Value::Null()})
                                  .status()));
  REQUIRE(
      absl::IsInvalidArgument(txn->Insert("jobs", {Value::Null(), Value::Integer(5),
                                                   Value::Integer(1), Value::Null(), Value::Null()})
                                  .status()));
  REQUIRE(absl::IsNotFound(txn->Update("jobs", 999, Job("a", 1, std::nullopt))));
  REQUIRE(txn->Commit().ok());

  // Range scan: queue 'a', prio DESC between 3 and 1 inclusive, forward and backward.
  txn = MustBegin(db.get());
  IndexRange r;
  r.lower = IndexBound{{Value::Text("a"), Value::Integer(3)}, true};
  r.upper = IndexBound{{Value::Text("a"), Value::Integer(1)}, true};
  auto it = txn->ScanIndex("jobs_q", r);
  REQUIRE(it.ok());
  std::vector<int64_t> fwd;
  for (; (*it)->Valid(); (*it)->Next().IgnoreError()) {
    REQUIRE((*it)->key()[0] == Value::Text("a"));
    int64_t prio = (*it)->key()[1].integer();
    REQUIRE((prio >= 1 && prio <= 3));
    fwd.push_back((*it)->rowid());
  }
  REQUIRE(fwd.size() == 15);
  r.reverse = true;
  r.lower->inclusive = false;  // excludes prio 3
  auto back = txn->ScanIndex("jobs_q", r);
  REQUIRE(back.ok());
  std::vector<int64_t> bwd;
  for (; (*back)->Valid(); (*back)->Next().IgnoreError()) bwd.push_back((*back)->rowid());
  REQUIRE(bwd.size() == 10);
  // Seek the lowest entry and update that row while iterating (the queue's claim pattern).
  IndexRange all;
  auto claim = txn->ScanIndex("jobs_q", all);
  REQUIRE(claim.ok());
  int64_t first = (*claim)->rowid();
  auto row = (*claim)->row();
  REQUIRE(row.ok());
  (*row)[2] = Value::Integer(-1);
  REQUIRE(txn->Update("jobs", first, *row).ok());
  REQUIRE((*claim)->Next().ok());
  REQUIRE((*claim)->Valid());
  REQUIRE((*claim)->rowid() != first);
  // Delete the max rowid, roll back a delete, then check rowids are not reused after reopen.
  REQUIRE(*txn->Delete("jobs", 50));
  REQUIRE(txn->Commit().ok());
  txn = MustBegin(db.get());
  REQUIRE(*txn->Delete("jobs", 49));
  txn->Rollback();
  txn = MustBegin(db.get());
  REQUIRE(txn->Get("jobs", 49)->has_value());
  REQUIRE(*txn->Count("jobs") == 49);
  txn->Rollback();
  txn.reset();
  REQUIRE(db->Close().ok());
  db = MustOpen(path, Options(backend));
  txn = MustBegin(db.get());
  auto id = txn->Insert("jobs", Job("c", 0, std::nullopt));
  REQUIRE(id.ok());
  REQUIRE(*id == 51);
  REQUIRE(txn->Commit().ok());
  txn.reset();
  REQUIRE(db->Close().ok());
  REQUIRE(SqliteIntegrity(path) == "ok");
  auto seq = SqliteQuery(path, "SELECT seq FROM sqlite_sequence WHERE name='jobs'");
  REQUIRE(seq[0][0].integer() == 51);
  // sqlite3 agrees on the rows the partial unique index covers.
  auto n = SqliteQuery(path, "SELECT count(*) FROM jobs INDEXED BY jobs_u WHERE vt IS NOT NULL");
  REQUIRE(n[0][0].integer() == 32);
}

TEST_CASE("reserved words and quotes in names give a schema sqlite3 reads", "[engine][catalog]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string path = NewTempDir("quoted") + "/q.db";
  const TableDef order{"order",
                       {{"select", ColumnType::kInteger},
                        {"group", ColumnType::kText, true},
                        {"we\"ird col", ColumnType::kInteger}},
                       0};
  const IndexDef by_group{
      "index", "order", false, {{"group", true}}, PartialPredicate::kIsNotNull, "we\"ird col"};
  {
    auto db = MustOpen(path, Options(backend));
    auto txn = MustBegin(db.get());
    REQUIRE(txn->CreateTable(order).ok());
    REQUIRE(txn->CreateIndex(by_group).ok());
    for (int i = 1; i <= 20; ++i) {
      Row row{Value::Null(), Value::Text("g" + std::to_string(i % 7)),
              i % 4 ? Value::Integer(i) : Value::Null()};
      REQUIRE(txn->Insert("order", row).ok());
    }
    REQUIRE(txn->Commit().ok());
    REQUIRE(db->Close().ok());
  }
  REQUIRE(SqliteIntegrity(path) == "ok");
  auto rows =
      SqliteQuery(path,
                  "SELECT \"select\", \"group\" FROM \"order\" INDEXED BY \"index\" "
                  "WHERE \"we\"\"ird col\" IS NOT NULL ORDER BY \"group\" DESC, \"select\"");
  REQUIRE(rows.size() == 15);
  REQUIRE(rows[0][1].bytes() == "g6");
  SqliteExec(path, "INSERT INTO \"order\"(\"group\", \"we\"\"ird col\") VALUES ('g9', 99)");
  // The engine parses the quoted schema back and continues.
  auto db = MustOpen(path, Options(backend));
  auto txn = MustBegin(db.get());
  REQUIRE(*txn->Count("order") == 21);
  IndexRange first;
  auto it = txn->ScanIndex("index", first);
  REQUIRE(it.ok());
  REQUIRE((*it)->Valid());
  REQUIRE((*it)->key()[0].bytes() == "g9");
  REQUIRE(txn->Insert("order", {Value::Null(), Value::Text("g0"), Value::Integer(5)}).ok());
  REQUIRE(txn->Commit().ok());
  txn.reset();
  REQUIRE(db->Close().ok());
  REQUIRE(SqliteIntegrity(path) == "ok");
}

// Runs `sql` with libsqlite3 in a child process that dies (_exit) before committing, leaving
// a hot rollback journal when the transaction spilled pages into the database file.
void CrashSqliteMidTransaction(const std::string& path, const std::string& sql) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) ::_exit(2);
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) ::_exit(3);
    ::_exit(0);  // no COMMIT, no close: as if the process crashed
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

TEST_CASE("a hot rollback journal from a crashed sqlite3 is rolled back at open",
          "[engine][journal]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const std::string dir = NewTempDir("journal");
  const std::string path = dir + "/j.db";
  SqliteExec(path,
             "PRAGMA journal_mode=DELETE;"
             "CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT);"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
             "INSERT INTO t SELECT i, printf('%0500d', i) FROM n;");
  const std::string before = ReadFile(path);
  // A 10-page cache makes sqlite3 spill the transaction's pages into the database file.
  CrashSqliteMidTransaction(path,
                            "PRAGMA cache_size=10; BEGIN;"
                            "UPDATE t SET body = randomblob(700);"
                            "INSERT INTO t(body) SELECT randomblob(900) FROM t;");
  REQUIRE(std::filesystem::exists(path + "-journal"));
  REQUIRE(ReadFile(path) != before);
  // Each spill synced the journal and started a new segment (a header on a sector boundary).
  const std::string journal = ReadFile(path + "-journal");
  const std::string magic("\xd9\xd5\x05\xf9\x20\xa1\x63\xd7", 8);
  int segments = 0;
  for (size_t off = 0; off + 8 <= journal.size(); off += 512) {
    segments += journal.compare(off, 8, magic) == 0;
  }
  REQUIRE(segments > 1);
  const std::string copy = dir + "/copy.db";
  CopyFile(path, copy);
  CopyFile(path + "-journal", copy + "-journal");

  DatabaseOptions ro = Options(backend);
  ro.read_only = true;
  auto refused = Database::Open(path, ro);
  REQUIRE(absl::IsFailedPrecondition(refused.status()));
  REQUIRE(refused.status().message().find(path + "-journal") != std::string::npos);

  auto db = MustOpen(path, Options(backend));
  REQUIRE(!std::filesystem::exists(path + "-journal"));
  std::vector<Row> rows = EngineRows(db.get(), "t");
  REQUIRE(rows.size() == 300);
  for (const Row& r : rows) {
    char want[512];
    std::snprintf(want, sizeof(want), "%0500lld", static_cast<long long>(r[0].integer()));
    REQUIRE(r[1].bytes() == want);
  }
  auto txn = MustBegin(db.get());
  REQUIRE(txn->Insert("t", {Value::Null(), Value::Text("after")}).ok());
  REQUIRE(txn->Commit().ok());
  txn.reset();
  REQUIRE(db->Close().ok());
  REQUIRE(SqliteIntegrity(path) == "ok");
  // sqlite3's own rollback of the same crash gives the same rows.
  const std::string all = "SELECT id, body FROM t WHERE id <= 300 ORDER BY id";
  REQUIRE(SqliteQuery(copy, all) == SqliteQuery(path, all));
  REQUIRE(SqliteQuery(path, "SELECT body FROM t WHERE id = 301")[0][0].bytes() == "after");
}

TEST_CASE("the OFD lock keeps sqlite3 and a second engine out", "[engine][lock]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string path = NewTempDir("lock") + "/l.db";
  auto db = MustOpen(path, Options(backend));
  auto second = Database::Open(path, Options(backend));
  REQUIRE(absl::IsUnavailable(second.status()));
  sqlite3* s = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &s) == SQLITE_OK);
  int rc = sqlite3_exec(s, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr);
  REQUIRE(rc == SQLITE_BUSY);
  REQUIRE(std::string(sqlite3_errmsg(s)) == "database is locked");
  sqlite3_close(s);
  REQUIRE(db->Close().ok());
  REQUIRE(SqliteIntegrity(path) == "ok");
}

TEST_CASE("read-only mode reads the WAL and refuses writes", "[engine][readonly]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string path = NewTempDir("ro") + "/r.db";
  DatabaseOptions o = Options(backend);
  o.checkpoint_on_close = false;
  {
    auto db = MustOpen(path, o);
    auto txn = MustBegin(db.get());
    REQUIRE(txn->CreateTable(Jobs()).ok());
    REQUIRE(txn->Insert("jobs", Job("a", 1, 5)).ok());
    REQUIRE(txn->Commit().ok());
    REQUIRE(db->Close().ok());
  }
  const std::string wal_before = ReadFile(path + "-wal");
  REQUIRE(wal_before.size() > 32);
  DatabaseOptions ro = Options(backend);
  ro.read_only = true;
  auto db = MustOpen(path, ro);
  auto txn = MustBegin(db.get());
  REQUIRE(*txn->Count("jobs") == 1);
  REQUIRE(absl::IsFailedPrecondition(txn->Insert("jobs", Job("b", 1, 6)).status()));
  txn->Rollback();
  txn.reset();
  // sqlite3 cannot write to the WAL-mode file behind the read-only engine's back.
  sqlite3* s = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &s) == SQLITE_OK);
  int rc = sqlite3_exec(s, "INSERT INTO jobs(queue, prio) VALUES ('sqlite', 1)", nullptr, nullptr,
                        nullptr);
  INFO(sqlite3_errmsg(s));
  REQUIRE(rc == SQLITE_BUSY);
  sqlite3_close(s);
  // A second engine, read-only or not, is kept out as well.
  REQUIRE(absl::IsUnavailable(Database::Open(path, ro).status()));
  REQUIRE(absl::IsUnavailable(Database::Open(path, Options(backend)).status()));
  txn = MustBegin(db.get());
  REQUIRE(*txn->Count("jobs") == 1);
  txn->Rollback();
  txn.reset();
  REQUIRE(db->Close().ok());
  REQUIRE(ReadFile(path + "-wal") == wal_before);
}

TEST_CASE("concurrent commits share fsyncs (group commit)", "[engine][groupcommit]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string path = NewTempDir("group") + "/g.db";
  DatabaseOptions o = Options(backend);
  o.wal_checkpoint_pages = 100000;
  auto db = MustOpen(path, o);
  {
    auto txn = MustBegin(db.get());
    REQUIRE(txn->CreateTable(Jobs()).ok());
    REQUIRE(txn->Commit().ok());
  }
  const int64_t syncs_before = db->wal_sync_calls();
  const HistogramSnapshot per_sync_before = db->wal_stats().commits_per_sync.Snapshot();
  const int kThreads = 8, kCommits = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCommits; ++i) {
        auto txn = db->Begin();
        if (!txn.ok() ||
            !(*txn)->Insert("jobs", Job("t" + std::to_string(t), i, std::nullopt)).ok() ||
            !(*txn)->Commit().ok()) {
          failures++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(failures == 0);
  const int64_t syncs = db->wal_sync_calls() - syncs_before;
  INFO("commits " << kThreads * kCommits << " fsyncs " << syncs);
  CHECK(syncs < kThreads * kCommits);
  // The statistics account for every commit in the fsyncs that made them durable.
  HistogramSnapshot per_sync = db->wal_stats().commits_per_sync.Snapshot();
  HistogramSnapshot seconds = db->wal_stats().sync_seconds.Snapshot();
  CHECK(per_sync.sum - per_sync_before.sum == kThreads * kCommits);
  CHECK(per_sync.count() == seconds.count());
  CHECK(per_sync.count() - per_sync_before.count() <= static_cast<uint64_t>(syncs));
  CHECK(per_sync.count() - per_sync_before.count() < static_cast<uint64_t>(kThreads * kCommits));
  CHECK(seconds.sum > 0);
  auto txn = MustBegin(db.get());
  REQUIRE(*txn->Count("jobs") == kThreads * kCommits);
  txn->Rollback();
  txn.reset();
  REQUIRE(db->Close().ok());
  REQUIRE(SqliteIntegrity(path) == "ok");
  WARN("group commit (" << backend << "): " << kThreads * kCommits << " commits, " << syncs
                        << " WAL fsyncs");
}

// Opens `path` and reads every table and index; any error is fine, a crash or hang is not.
void ScanEverything(const std::string& path, const std::string& backend) {
  auto db = Database::Open(path, Options(backend));
  if (!db.ok()) return;
  for (const TableDef& t : (*db)->Tables()) {
    auto txn = (*db)->Begin();
    if (!txn.ok()) return;
    auto it = (*txn)->ScanTable(t.name);
    for (int n = 0; it.ok() && (*it)->Valid() && n < 100000; ++n) {
      if (!(*it)->Next().ok()) break;
    }
    (*txn)->Count(t.name).IgnoreError();
  }
  for (const IndexDef& ix : (*db)->Indexes()) {
    auto txn = (*db)->Begin();
    if (!txn.ok()) return;
    auto it = (*txn)->ScanIndex(ix.name, IndexRange());
    for (int n = 0; it.ok() && (*it)->Valid() && n < 100000; ++n) {
      (*it)->row().IgnoreError();
      if (!(*it)->Next().ok()) break;
    }
  }
}

TEST_CASE("corrupted files give errors, never crashes or hangs", "[engine][corrupt]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string dir = NewTempDir("corrupt");
  std::string good = dir + "/good.db";
  {
    auto db = MustOpen(good, Options(backend));
    auto txn = MustBegin(db.get());
    REQUIRE(txn->CreateTable(MsgsTable()).ok());
    for (const IndexDef& ix : MsgsIndexes()) REQUIRE(txn->CreateIndex(ix).ok());
    Workload w(4, 10);
    Model m;
    for (int i = 0; i < 300; ++i) REQUIRE(w.Step(txn.get(), &m).ok());
    REQUIRE(txn->Commit().ok());
    REQUIRE(db->Close().ok());
  }
  const std::string image = ReadFile(good);
  std::mt19937_64 rng(11);
  for (int round = 0; round < 150; ++round) {
    std::string bad = image;
    int flips = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < flips; ++i) {
      size_t pos = rng() % bad.size();
      // Bias towards page headers and cell pointers, where damage is most interesting.
      if (rng() % 2) pos = (pos / 4096) * 4096 + rng() % 64 + (pos < 4096 ? 100 : 0);
      bad[pos] = static_cast<char>(rng());
    }
    std::string path = dir + "/bad" + std::to_string(round) + ".db";
    WriteFile(path, bad);
    ScanEverything(path, backend);
  }
  // Truncated and empty-ish files.
  WriteFile(dir + "/short.db", image.substr(0, 50));
  REQUIRE(!Database::Open(dir + "/short.db", Options(backend)).ok());
  WriteFile(dir + "/notdb.db", std::string(8192, 'x'));
  REQUIRE(absl::IsInvalidArgument(Database::Open(dir + "/notdb.db", Options(backend)).status()));
}

}  // namespace
}  // namespace pgqrs::engine::testing

namespace pgqrs::engine::testing {
namespace {

TEST_CASE("many tables split the schema root on page 1", "[engine][api]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string path = NewTempDir("schema") + "/s.db";
  {
    auto db = MustOpen(path, Options(backend));
    auto txn = MustBegin(db.get());
    for (int i = 0; i < 120; ++i) {
      TableDef t = Jobs();
      t.name = "jobs_with_a_long_name_" + std::to_string(i);
      t.autoincrement = i % 2 == 0;
      REQUIRE(txn->CreateTable(t).ok());
      REQUIRE(txn->CreateIndex({t.name + "_by_queue",
                                t.name,
                                false,
                                {{"queue", false}, {"prio", true}},
                                PartialPredicate::kNone,
                                ""})
                  .ok());
      REQUIRE(txn->Insert(t.name, Job("q", i, i)).ok());
    }
    REQUIRE(txn->Commit().ok());
    REQUIRE(db->Close().ok());
  }
  REQUIRE(SqliteIntegrity(path) == "ok");
  auto n = SqliteQuery(path, "SELECT count(*) FROM sqlite_schema");
  REQUIRE(n[0][0].integer() == 241);  // 120 tables, 120 indexes, sqlite_sequence
  auto db = MustOpen(path, Options(backend));
  REQUIRE(db->Tables().size() == 120);
  auto txn = MustBegin(db.get());
  REQUIRE(*txn->Count("jobs_with_a_long_name_77") == 1);
}

}  // namespace
}  // namespace pgqrs::engine::testing

namespace pgqrs::engine::testing {
namespace {

// The example from engine/README.md, kept compiling and working.
absl::Status ReadmeExample(const std::string& path, const DatabaseOptions& opts) {
  TableDef messages{"messages",
                    {{"id", ColumnType::kInteger},
                     {"queue_id", ColumnType::kInteger, true},
                     {"state", ColumnType::kInteger, true},
                     {"priority", ColumnType::kInteger, true},
                     {"vt", ColumnType::kInteger},
                     {"payload", ColumnType::kBlob}},
                    /*rowid_column=*/0,
                    /*autoincrement=*/true};
  IndexDef claim{"messages_claim",
                 "messages",
                 /*unique=*/false,
                 {{"queue_id"}, {"state"}, {"priority", /*desc=*/true}, {"vt"}, {"id"}}};
  PGQRS_ASSIGN_OR_RETURN(auto db, Database::Open(path, opts));
  PGQRS_ASSIGN_OR_RETURN(auto txn, db->Begin());
  PGQRS_RETURN_IF_ERROR(txn->CreateTable(messages));
  PGQRS_RETURN_IF_ERROR(txn->CreateIndex(claim));
  PGQRS_ASSIGN_OR_RETURN(
      int64_t id,
      txn->Insert("messages", {Value::Null(), Value::Integer(7), Value::Integer(0),
                               Value::Integer(5), Value::Integer(1000), Value::Blob("hello")}));
  PGQRS_RETURN_IF_ERROR(txn->Commit());
  PGQRS_ASSIGN_OR_RETURN(txn, db->Begin());
  IndexRange r;
  r.lower = r.upper = IndexBound{{Value::Integer(7), Value::Integer(0)}, /*inclusive=*/true};
  PGQRS_ASSIGN_OR_RETURN(auto it, txn->ScanIndex("messages_claim", r));
  if (!it->Valid() || it->rowid() != id) return absl::InternalError("claim found nothing");
  PGQRS_ASSIGN_OR_RETURN(Row row, it->row());
  row[2] = Value::Integer(1);
  PGQRS_RETURN_IF_ERROR(txn->Update("messages", it->rowid(), row));
  PGQRS_RETURN_IF_ERROR(txn->Commit());
  return db->Close();
}

TEST_CASE("the README example works", "[engine][api]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string path = NewTempDir("readme") + "/q.db";
  absl::Status s = ReadmeExample(path, Options(backend));
  INFO(s.ToString());
  REQUIRE(s.ok());
  auto rows = SqliteQuery(path, "SELECT state FROM messages INDEXED BY messages_claim");
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0][0].integer() == 1);
  REQUIRE(SqliteIntegrity(path) == "ok");
}

}  // namespace
}  // namespace pgqrs::engine::testing
