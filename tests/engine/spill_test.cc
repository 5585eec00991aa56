// Transactions larger than the page cache: dirty pages spill to the WAL as uncommitted frames
// (the WAL grows while the transaction is open, memory stays near the cache bound), and the
// result commits, rolls back and crash-recovers correctly, judged by libsqlite3.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>

#include "absl/strings/match.h"
#include "engine/io/sim_backend.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine::testing {
namespace {

constexpr size_t kCachePages = 64;
// ~4 rows of 1000 bytes per 4 KiB leaf: about 650 leaf pages, 10x the cache.
constexpr int kRows = 2600;

TableDef BigTable() {
  return {"big", {{"id", ColumnType::kInteger}, {"body", ColumnType::kBlob}}, 0};
}

std::string Body(int64_t id) {
  return std::to_string(id) + std::string(1000, static_cast<char>('a' + id % 26));
}

// Inserts rows first..first+n-1 into `txn`, calling `during` halfway through.
template <typename F>
void InsertRows(Transaction* txn, int64_t first, int n, F during) {
  for (int64_t id = first; id < first + n; ++id) {
    auto r = txn->Insert("big", {Value::Integer(id), Value::Blob(Body(id))});
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    if (id == first + n / 2) during();
  }
}

void RequireSqliteRows(const std::string& path, int64_t n) {
  REQUIRE(SqliteIntegrity(path) == "ok");
  auto rows = SqliteQuery(path, "SELECT count(*), min(id), max(id) FROM big");
  REQUIRE(rows[0][0].integer() == n);
  if (n == 0) return;
  REQUIRE(rows[0][1].integer() == 1);
  REQUIRE(rows[0][2].integer() == n);
  auto bad = SqliteQuery(path, "SELECT id, body FROM big");
  for (const auto& r : bad) REQUIRE(r[1].bytes() == Body(r[0].integer()));
}

uint64_t FileSize(const std::string& path) {
  return std::filesystem::exists(path) ? std::filesystem::file_size(path) : 0;
}

TEST_CASE("a transaction larger than the cache spills to the WAL, commits and rolls back",
          "[engine][spill]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const std::string path = NewTempDir("spill") + "/s.db";
  DatabaseOptions o = Options(backend);
  o.cache_pages = kCachePages;
  o.wal_checkpoint_pages = 1000000;  // keep every frame in the WAL for sqlite3 to recover
  o.checkpoint_on_close = false;
  auto db = Database::Open(path, o);
  REQUIRE(db.ok());
  {
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->CreateTable(BigTable()).ok());
    REQUIRE((*txn)->Commit().ok());
  }
  const uint64_t wal_before = FileSize(path + "-wal");
  uint64_t wal_midway = 0;
  {
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    InsertRows(txn->get(), 1, kRows, [&] { wal_midway = FileSize(path + "-wal"); });
    REQUIRE((*txn)->Commit().ok());
  }
  INFO("WAL bytes before " << wal_before << ", midway through the transaction " << wal_midway);
  // Half the transaction is ~325 leaf pages; all but about a cache's worth are in the WAL.
  REQUIRE(wal_midway > wal_before + 200 * 4096);
  REQUIRE((*db)->cached_pages() <= kCachePages);

  // A second large transaction is rolled back: its spilled frames are discarded.
  {
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    InsertRows(txn->get(), kRows + 1, kRows, [] {});
    REQUIRE(*(*txn)->Count("big") == 2 * kRows);
    auto deleted = (*txn)->Delete("big", 7);
    REQUIRE(deleted.ok());
    (*txn)->Rollback();
  }
  {
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    REQUIRE(*(*txn)->Count("big") == kRows);
    auto row = (*txn)->Get("big", 7);
    REQUIRE(row.ok());
    REQUIRE(row->has_value());
    REQUIRE((**row)[1].bytes() == Body(7));
    // A small commit after the rollback overwrites the start of the discarded frames.
    REQUIRE((*txn)->Update("big", 8, {Value::Integer(8), Value::Blob(Body(8))}).ok());
    REQUIRE((*txn)->Commit().ok());
  }
  REQUIRE((*db)->Close().ok());
  // sqlite3 recovers the WAL (which still holds stale uncommitted frames after the last
  // commit) and sees exactly the committed rows.
  const std::string copy = path + ".copy";
  CopyFile(path, copy);
  CopyFile(path + "-wal", copy + "-wal");
  RequireSqliteRows(copy, kRows);
  // So does the engine.
  auto again = Database::Open(path, Options(backend));
  REQUIRE(again.ok());
  REQUIRE(EngineRows(again->get(), "big").size() == kRows);
  REQUIRE((*again)->Close().ok());
  RequireSqliteRows(path, kRows);
}

TEST_CASE("spilled frames of an unfinished transaction vanish in a crash", "[engine][spill]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  constexpr char kSim[] = "/sim/s.db";
  const std::string wal = std::string(kSim) + "-wal";
  auto sim = std::make_shared<SimBackend>(11);
  DatabaseOptions o;
  o.backend = sim;
  o.seed = 11;
  o.cache_pages = kCachePages;
  o.wal_checkpoint_pages = 1000000;
  {
    auto db = Database::Open(kSim, o);
    REQUIRE(db.ok());
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->CreateTable(BigTable()).ok());
    InsertRows(txn->get(), 1, kRows, [] {});
    REQUIRE((*txn)->Commit().ok());
    txn = (*db)->Begin();
    REQUIRE(txn.ok());
    const size_t committed_wal = sim->Contents(wal).size();
    InsertRows(txn->get(), kRows + 1, kRows, [] {});
    REQUIRE((*txn)->Update("big", 3, {Value::Integer(3), Value::Blob("changed")}).ok());
    REQUIRE(sim->Contents(wal).size() > committed_wal + 400 * 4096);
    sim->Crash();  // with the transaction open
  }
  const std::string img = NewTempDir("spillcrash") + "/img.db";
  WriteFile(img, sim->Contents(kSim));
  WriteFile(img + "-wal", sim->Contents(wal));
  const std::string eng = img + ".engine";
  CopyFile(img, eng);
  CopyFile(img + "-wal", eng + "-wal");
  RequireSqliteRows(img, kRows);
  auto db = Database::Open(eng, Options(backend));
  REQUIRE(db.ok());
  std::vector<Row> rows = EngineRows(db->get(), "big");
  REQUIRE(rows.size() == kRows);
  REQUIRE(rows[2][1].bytes() == Body(3));
  REQUIRE((*db)->Close().ok());
  RequireSqliteRows(eng, kRows);
}

TEST_CASE("a failed spill fails the transaction and leaves the database usable",
          "[engine][spill]") {
  constexpr char kSim[] = "/sim/f.db";
  auto sim = std::make_shared<SimBackend>(5);
  DatabaseOptions o;
  o.backend = sim;
  o.seed = 5;
  o.cache_pages = kCachePages;
  auto db = Database::Open(kSim, o);
  REQUIRE(db.ok());
  auto txn = (*db)->Begin();
  REQUIRE(txn.ok());
  REQUIRE((*txn)->CreateTable(BigTable()).ok());
  REQUIRE((*txn)->Commit().ok());
  txn = (*db)->Begin();
  REQUIRE(txn.ok());
  sim->InjectFault(SimBackend::Op::kWrite, 1, EIO);  // the first spill
  absl::Status failed = absl::OkStatus();
  for (int64_t id = 1; id <= kRows && failed.ok(); ++id) {
    failed = (*txn)->Insert("big", {Value::Integer(id), Value::Blob(Body(id))}).status();
  }
  INFO(failed.ToString());
  REQUIRE(absl::StrContains(failed.message(), "sim: write"));
  REQUIRE(!(*txn)->Commit().ok());
  txn = (*db)->Begin();
  REQUIRE(txn.ok());
  REQUIRE(*(*txn)->Count("big") == 0);
  InsertRows(txn->get(), 1, 10, [] {});
  REQUIRE((*txn)->Commit().ok());
  txn->reset();
  sim->Crash();
  const std::string img = NewTempDir("spillfail") + "/img.db";
  WriteFile(img, sim->Contents(kSim));
  WriteFile(img + "-wal", sim->Contents(std::string(kSim) + "-wal"));
  RequireSqliteRows(img, 10);
}

// Peak RSS in KiB of a child process that inserts `rows` rows in one transaction.
long PeakRssOfTransaction(const std::string& path, int rows, size_t cache_pages) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    DatabaseOptions o;
    o.io = IoBackendKind::kPosix;
    o.cache_pages = cache_pages;
    auto db = Database::Open(path, o);
    if (!db.ok()) ::_exit(2);
    auto txn = (*db)->Begin();
    if (!txn.ok() || !(*txn)->CreateTable(BigTable()).ok()) ::_exit(3);
    for (int64_t id = 1; id <= rows; ++id) {
      if (!(*txn)->Insert("big", {Value::Integer(id), Value::Blob(Body(id))}).ok()) ::_exit(4);
    }
    if (!(*txn)->Commit().ok()) ::_exit(5);
    ::_exit(0);
  }
  int status = 0;
  rusage usage{};
  REQUIRE(::wait4(pid, &status, 0, &usage) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return usage.ru_maxrss;
}

TEST_CASE("peak memory of a large transaction stays near the cache bound", "[engine][spill]") {
  const std::string dir = NewTempDir("spillrss");
  constexpr size_t kCache = 256;  // 1 MiB
  // 10x the cache in one transaction (~10 MiB of pages) against a transaction that fits.
  const long small = PeakRssOfTransaction(dir + "/small.db", 800, kCache);
  const long large = PeakRssOfTransaction(dir + "/large.db", 10 * 4 * kCache, kCache);
  WARN("peak RSS: transaction within the cache " << small << " KiB, 10x the cache " << large
                                                 << " KiB");
  REQUIRE(large - small < 4 * 1024);
  auto n = SqliteQuery(dir + "/large.db", "SELECT count(*) FROM big");
  REQUIRE(n[0][0].integer() == 10 * 4 * kCache);
}

}  // namespace
}  // namespace pgqrs::engine::testing
