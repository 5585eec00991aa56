// Read transactions (Database::BeginRead, engine/MVCC.md): each sees exactly the commits before
// it, for as long as it is open, while the writer commits and checkpoints copy frames into the
// database file and restart the WAL. sqlite3 judges the files at every stage.
//
// The model: accounts whose balances always sum to kTotal (transfers, splits into new accounts,
// merges that delete one), an index on balance, and a meta row counting commits. A reader checks
// that its snapshot keeps the sum, that the index lists exactly the rows of the table with their
// balances, that the commit counter does not move while it reads, and that it sees every commit
// that returned before it began and none that had not started.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>

#include "engine/crypto/key.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine::testing {
namespace {

constexpr int kAccounts = 300;
constexpr int64_t kInitialBalance = 1000;
constexpr int64_t kTotal = kAccounts * kInitialBalance;

TableDef AccountsDef() {
  return {"accounts",
          {{"id", ColumnType::kInteger},
           {"balance", ColumnType::kInteger, true},
           {"note", ColumnType::kText}},
          /*rowid_column=*/0};
}
IndexDef ByBalanceDef() {
  return {"accounts_balance", "accounts", /*unique=*/false, {{"balance"}, {"id"}}};
}
TableDef MetaDef() {
  return {"meta", {{"id", ColumnType::kInteger}, {"commits", ColumnType::kInteger}}, 0};
}

// ~300 bytes so that the tables span many pages and splits and merges happen.
std::string Note(std::mt19937_64& rng) { return std::string(200 + rng() % 200, 'a' + rng() % 26); }

// Catch2's assertions are not thread-safe and these helpers run on writer and reader threads:
// they throw instead (a test case reports the exception; threads record it and stop).
void Expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("expectation failed: " + what);
}

void CreateModel(Database* db) {
  std::mt19937_64 rng(1);
  auto txn = db->Begin();
  Expect(txn.ok(), "txn.ok()");
  Expect((*txn)->CreateTable(AccountsDef()).ok(), "(*txn)->CreateTable(AccountsDef()).ok()");
  Expect((*txn)->CreateIndex(ByBalanceDef()).ok(), "(*txn)->CreateIndex(ByBalanceDef()).ok()");
  Expect((*txn)->CreateTable(MetaDef()).ok(), "(*txn)->CreateTable(MetaDef()).ok()");
  Expect((*txn)->Insert("meta", {Value::Integer(1), Value::Integer(0)}).ok(), "insert meta");
  for (int i = 0; i < kAccounts; ++i) {
    Expect((*txn)
               ->Insert("accounts",
                        {Value::Null(), Value::Integer(kInitialBalance), Value::Text(Note(rng))})
               .ok(),
           "insert account");
  }
  Expect((*txn)->Commit().ok(), "commit");
}

// A random existing account (the first at or after a random rowid, else the first).
int64_t PickAccount(Transaction* txn, std::mt19937_64& rng, int64_t max_rowid) {
  auto it = txn->SeekTable("accounts", 1 + static_cast<int64_t>(rng() % max_rowid));
  Expect(it.ok(), "it.ok()");
  if (!(*it)->Valid()) {
    it = txn->ScanTable("accounts");
    Expect(it.ok(), "it.ok()");
  }
  Expect((*it)->Valid(), "(*it)->Valid()");
  return (*it)->rowid();
}

int64_t Balance(Transaction* txn, int64_t id) {
  auto row = txn->Get("accounts", id);
  Expect(row.ok(), "row.ok()");
  Expect(row->has_value(), "row->has_value()");
  return (**row)[1].integer();
}

void SetBalance(Transaction* txn, int64_t id, int64_t balance) {
  auto changed = txn->Modify("accounts", id, [&](Row& r) {
    r[1] = Value::Integer(balance);
    return absl::OkStatus();
  });
  Expect(changed.ok(), "changed.ok()");
  Expect(*changed, "*changed");
}

// One committed change that keeps the sum: a transfer, a split or a merge.
void WriteOnce(Database* db, std::mt19937_64& rng, std::atomic<int64_t>* begun,
               std::atomic<int64_t>* committed) {
  auto txn_or = db->Begin();
  Expect(txn_or.ok(), "txn_or.ok()");
  Transaction* txn = txn_or->get();
  begun->fetch_add(1);
  auto count = txn->Count("accounts");
  Expect(count.ok(), "count.ok()");
  auto last = txn->ScanTable("accounts", /*reverse=*/true);
  Expect(last.ok(), "last.ok()");
  const int64_t max_rowid = (*last)->rowid();
  const int64_t a = PickAccount(txn, rng, max_rowid);
  const int64_t b = PickAccount(txn, rng, max_rowid);
  const int64_t balance_a = Balance(txn, a);
  switch (rng() % 4) {
    case 0:
    case 1:
      if (a != b) {
        const int64_t amount = balance_a == 0 ? 0 : static_cast<int64_t>(rng() % balance_a);
        SetBalance(txn, a, balance_a - amount);
        SetBalance(txn, b, Balance(txn, b) + amount);
      }
      break;
    case 2: {
      const int64_t half = balance_a / 2;
      SetBalance(txn, a, balance_a - half);
      Expect(txn->Insert("accounts", {Value::Null(), Value::Integer(half), Value::Text(Note(rng))})
                 .ok(),
             "insert account");
      break;
    }
    case 3:
      if (a != b && *count > kAccounts / 2) {
        SetBalance(txn, b, Balance(txn, b) + balance_a);
        auto deleted = txn->Delete("accounts", a);
        Expect(deleted.ok(), "deleted.ok()");
        Expect(*deleted, "*deleted");
      }
      break;
  }
  auto meta = txn->Modify("meta", 1, [](Row& r) {
    r[1] = Value::Integer(r[1].integer() + 1);
    return absl::OkStatus();
  });
  Expect(meta.ok(), "meta.ok()");
  Expect(txn->Commit().ok(), "txn->Commit().ok()");
  committed->fetch_add(1);
}

int64_t Commits(Transaction* txn) {
  auto row = txn->Get("meta", 1);
  Expect(row.ok(), "row.ok()");
  Expect(row->has_value(), "row->has_value()");
  return (**row)[1].integer();
}

// Every row of the snapshot, checked against the model's invariants.
std::map<int64_t, int64_t> CheckSnapshot(Transaction* txn) {
  std::map<int64_t, int64_t> balances;
  int64_t sum = 0;
  auto it = txn->ScanTable("accounts");
  Expect(it.ok(), "it.ok()");
  while ((*it)->Valid()) {
    auto row = (*it)->row();
    Expect(row.ok(), "row.ok()");
    balances[(*it)->rowid()] = (*row)[1].integer();
    sum += (*row)[1].integer();
    Expect((*it)->Next().ok(), "(*it)->Next().ok()");
  }
  Expect(sum == kTotal, "sum == kTotal");
  auto ix = txn->ScanIndex("accounts_balance", {});
  Expect(ix.ok(), "ix.ok()");
  size_t entries = 0;
  int64_t previous = -1;
  while ((*ix)->Valid()) {
    const int64_t balance = (*ix)->key()[0].integer();
    Expect(balance >= previous, "balance >= previous");
    previous = balance;
    auto row = balances.find((*ix)->rowid());
    Expect(row != balances.end(), "row != balances.end()");
    Expect(row->second == balance, "row->second == balance");
    ++entries;
    Expect((*ix)->Next().ok(), "(*ix)->Next().ok()");
  }
  Expect(entries == balances.size(), "entries == balances.size()");
  auto count = txn->Count("accounts");
  Expect(count.ok(), "count.ok()");
  Expect(*count == static_cast<int64_t>(balances.size()),
         "*count == static_cast<int64_t>(balances.size())");
  return balances;
}

std::shared_ptr<const EncryptionKey> TestKey() {
  auto key = EncryptionKey::FromBytes(std::string(32, '\x5a'));
  REQUIRE(key.ok());
  return *key;
}

DatabaseOptions ModelOptions(const std::string& backend, bool encrypted) {
  DatabaseOptions opts = Options(backend);
  opts.cache_pages = 32;           // the writer spills and reloads pages
  opts.wal_checkpoint_pages = 24;  // automatic checkpoints all the time
  if (encrypted) {
    opts.key = TestKey();
    opts.key_id = 7;
  }
  return opts;
}

std::chrono::milliseconds RunTime() {
  const char* long_run = std::getenv("PGQRS_ENGINE_LONG");
  return std::chrono::milliseconds(long_run != nullptr ? 120000 : 2500);
}

TEST_CASE("a read transaction neither waits for nor blocks the writer and keeps its snapshot") {
  for (const std::string backend : {"uring", "posix"}) {
    SECTION(backend) {
      const std::string path = NewTempDir("snapshot_basic") + "/db";
      auto db = Database::Open(path, Options(backend));
      REQUIRE(db.ok());
      CreateModel(db->get());
      auto before = (*db)->BeginRead();
      REQUIRE(before.ok());

      // The writer's transaction is open; a reader still starts and sees the last commit.
      auto writer = (*db)->Begin();
      REQUIRE(writer.ok());
      REQUIRE(
          (*writer)
              ->Insert("accounts", {Value::Integer(100000), Value::Integer(0), Value::Text("new")})
              .ok());
      auto during = (*db)->BeginRead();
      REQUIRE(during.ok());
      REQUIRE(!(*during)->Get("accounts", 100000)->has_value());
      REQUIRE((*writer)->Commit().ok());

      // Commits and a checkpoint after they began change nothing for them.
      std::mt19937_64 rng(2);
      std::atomic<int64_t> begun{0}, committed{0};
      for (int i = 0; i < 50; ++i) WriteOnce(db->get(), rng, &begun, &committed);
      REQUIRE((*db)->Checkpoint().ok());
      REQUIRE(Commits(before->get()) == 0);
      REQUIRE(Commits(during->get()) == 0);
      REQUIRE(!(*before)->Get("accounts", 100000)->has_value());
      CheckSnapshot(before->get());

      auto after = (*db)->BeginRead();
      REQUIRE(after.ok());
      REQUIRE(Commits(after->get()) == 50);
      REQUIRE((*after)->Get("accounts", 100000)->has_value());

      // Modifying calls are refused; the transaction stays readable.
      REQUIRE(absl::IsFailedPrecondition(
          (*after)->Insert("meta", {Value::Integer(2), Value::Integer(0)}).status()));
      REQUIRE(absl::IsFailedPrecondition((*after)->Delete("meta", 1).status()));
      REQUIRE(absl::IsFailedPrecondition((*after)->CreateTable(MetaDef())));
      REQUIRE(Commits(after->get()) == 50);
      REQUIRE((*after)->CommitDurable().ok());
      REQUIRE(absl::IsFailedPrecondition((*after)->Get("meta", 1).status()));
      (*before)->Rollback();
      REQUIRE((*during)->Commit().ok());
      REQUIRE((*db)->Close().ok());
      REQUIRE(SqliteIntegrity(path) == "ok");
    }
  }
}

TEST_CASE("checkpoints copy only up to the oldest snapshot and restart the WAL when unused") {
  for (const std::string backend : {"uring", "posix"}) {
    SECTION(backend) {
      const std::string dir = NewTempDir("snapshot_backfill");
      const std::string path = dir + "/db";
      DatabaseOptions opts = Options(backend);
      opts.checkpoint_on_close = false;  // leave the files as a crash would
      auto db = Database::Open(path, opts);
      REQUIRE(db.ok());
      CreateModel(db->get());
      REQUIRE((*db)->Checkpoint().ok());
      REQUIRE((*db)->wal_frames() == 0);

      std::mt19937_64 rng(3);
      std::atomic<int64_t> begun{0}, committed{0};
      for (int i = 0; i < 30; ++i) WriteOnce(db->get(), rng, &begun, &committed);
      auto pinned = (*db)->BeginRead();  // at commit 30
      REQUIRE(pinned.ok());
      const std::map<int64_t, int64_t> at_30 = CheckSnapshot(pinned->get());
      for (int i = 0; i < 30; ++i) WriteOnce(db->get(), rng, &begun, &committed);

      // The database file now holds exactly commit 30: sqlite3 reads it without the WAL.
      REQUIRE((*db)->Checkpoint().ok());
      REQUIRE((*db)->wal_frames() > 0);
      CopyFile(path, dir + "/file_only");
      REQUIRE(SqliteIntegrity(dir + "/file_only") == "ok");
      REQUIRE(SqliteQuery(dir + "/file_only", "SELECT commits FROM meta")[0][0].integer() == 30);
      REQUIRE(SqliteQuery(dir + "/file_only", "SELECT count(*), sum(balance) FROM accounts")[0] ==
              std::vector<Value>{Value::Integer(static_cast<int64_t>(at_30.size())),
                                 Value::Integer(kTotal)});
      // With the WAL, sqlite3 sees the last commit.
      CopyFile(path, dir + "/with_wal");
      CopyFile(path + "-wal", dir + "/with_wal-wal");
      REQUIRE(SqliteIntegrity(dir + "/with_wal") == "ok");
      REQUIRE(SqliteQuery(dir + "/with_wal", "SELECT commits FROM meta")[0][0].integer() == 60);
      REQUIRE(CheckSnapshot(pinned->get()) == at_30);
      REQUIRE(Commits(pinned->get()) == 30);

      // A reader of the newest commit lets the WAL restart and then reads the file.
      (*pinned)->Rollback();
      auto newest = (*db)->BeginRead();
      REQUIRE(newest.ok());
      const std::map<int64_t, int64_t> at_60 = CheckSnapshot(newest->get());
      REQUIRE((*db)->Checkpoint().ok());
      REQUIRE((*db)->wal_frames() == 0);
      for (int i = 0; i < 30; ++i) WriteOnce(db->get(), rng, &begun, &committed);
      // While it is pinned, nothing is copied over the state it reads from the file.
      REQUIRE((*db)->Checkpoint().ok());
      REQUIRE((*db)->wal_frames() > 0);
      REQUIRE(CheckSnapshot(newest->get()) == at_60);
      REQUIRE(Commits(newest->get()) == 60);
      REQUIRE((*newest)->Commit().ok());

      // Crash with a partly copied WAL: sqlite3 and the engine recover commit 100.
      auto at_90 = (*db)->BeginRead();
      REQUIRE(at_90.ok());
      for (int i = 0; i < 10; ++i) WriteOnce(db->get(), rng, &begun, &committed);
      REQUIRE((*db)->Checkpoint().ok());
      REQUIRE((*db)->wal_frames() > 0);
      REQUIRE((*at_90)->Commit().ok());
      REQUIRE((*db)->Close().ok());
      CopyFile(path, dir + "/crashed");
      CopyFile(path + "-wal", dir + "/crashed-wal");
      REQUIRE(SqliteIntegrity(dir + "/crashed") == "ok");
      REQUIRE(SqliteQuery(dir + "/crashed", "SELECT commits FROM meta")[0][0].integer() == 100);
      REQUIRE(SqliteQuery(dir + "/crashed", "SELECT sum(balance) FROM accounts")[0][0].integer() ==
              kTotal);
      auto reopened = Database::Open(path, Options(backend));
      REQUIRE(reopened.ok());
      auto txn = (*reopened)->BeginRead();
      REQUIRE(txn.ok());
      REQUIRE(Commits(txn->get()) == 100);
      CheckSnapshot(txn->get());
      REQUIRE((*txn)->Commit().ok());
      REQUIRE((*reopened)->Close().ok());
    }
  }
}

// Readers (short ones and one that holds its snapshot for a while) run the checks above
// while a writer commits and checkpoints run, for RunTime().
void RunModel(const std::string& backend, bool encrypted) {
  const std::string path = NewTempDir("snapshot_model") + "/db";
  DatabaseOptions opts = ModelOptions(backend, encrypted);
  auto db_or = Database::Open(path, opts);
  REQUIRE(db_or.ok());
  Database* db = db_or->get();
  CreateModel(db);

  std::atomic<bool> stop{false};
  std::atomic<int64_t> begun{0}, committed{0}, reads{0}, checkpoints{0};
  std::atomic<int> failures{0};
  // Catch2's REQUIRE is not thread-safe: threads record the first failure and stop.
  auto guard = [&](auto body) {
    return [&, body] {
      try {
        body();
      } catch (...) {
        failures.fetch_add(1);
        stop = true;
      }
    };
  };
  std::thread writer(guard([&] {
    std::mt19937_64 rng(4);
    while (!stop) WriteOnce(db, rng, &begun, &committed);
  }));
  std::thread checkpointer(guard([&] {
    while (!stop) {
      if (!db->Checkpoint().ok()) throw std::runtime_error("checkpoint");
      checkpoints.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  }));
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back(guard([&] {
      int64_t last_seen = 0;
      while (!stop) {
        const int64_t returned = committed.load();
        auto txn = db->BeginRead();
        if (!txn.ok()) throw std::runtime_error(txn.status().ToString());
        const int64_t first = Commits(txn->get());
        CheckSnapshot(txn->get());
        if (Commits(txn->get()) != first || first < returned || first < last_seen ||
            first > begun.load()) {
          throw std::runtime_error("snapshot moved or missed a commit");
        }
        last_seen = first;
        if (!(*txn)->CommitDurable().ok()) throw std::runtime_error("commit durable");
        reads.fetch_add(1);
      }
    }));
  }
  std::thread long_reader(guard([&] {
    while (!stop) {
      auto txn = db->BeginRead();
      if (!txn.ok()) throw std::runtime_error(txn.status().ToString());
      const std::map<int64_t, int64_t> first = CheckSnapshot(txn->get());
      const int64_t commits = Commits(txn->get());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (CheckSnapshot(txn->get()) != first || Commits(txn->get()) != commits) {
        throw std::runtime_error("long snapshot changed");
      }
    }
  }));
  const auto deadline = std::chrono::steady_clock::now() + RunTime();
  while (!stop && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  writer.join();
  checkpointer.join();
  long_reader.join();
  for (std::thread& t : readers) t.join();
  INFO("commits " << committed.load() << ", reads " << reads.load() << ", checkpoints "
                  << checkpoints.load());
  REQUIRE(failures.load() == 0);
  REQUIRE(committed.load() > 20);
  REQUIRE(reads.load() > 20);

  auto txn = db->BeginRead();
  REQUIRE(txn.ok());
  REQUIRE(Commits(txn->get()) == committed.load());
  CheckSnapshot(txn->get());
  REQUIRE((*txn)->Commit().ok());
  REQUIRE(db->Close().ok());
  if (!encrypted) {
    REQUIRE(SqliteIntegrity(path) == "ok");
    REQUIRE(SqliteQuery(path, "SELECT sum(balance), (SELECT commits FROM meta) FROM accounts")[0] ==
            std::vector<Value>{Value::Integer(kTotal), Value::Integer(committed.load())});
  }
}

TEST_CASE("readers reading back to back do not keep the WAL from restarting") {
  const std::string path = NewTempDir("snapshot_restart") + "/db";
  DatabaseOptions opts = Options("posix");
  opts.wal_checkpoint_pages = 16;
  auto db_or = Database::Open(path, opts);
  REQUIRE(db_or.ok());
  Database* db = db_or->get();
  CreateModel(db);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      try {
        while (!stop) {
          auto txn = db->BeginRead();
          Expect(txn.ok(), "begin read");
          CheckSnapshot(txn->get());
        }
      } catch (...) {
        failures.fetch_add(1);
      }
    });
  }
  std::mt19937_64 rng(5);
  std::atomic<int64_t> begun{0}, committed{0};
  uint32_t most_frames = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (committed.load() < 400 && std::chrono::steady_clock::now() < deadline) {
    WriteOnce(db, rng, &begun, &committed);
    most_frames = std::max(most_frames, db->wal_frames());
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  INFO("commits " << committed.load() << ", most WAL frames " << most_frames);
  REQUIRE(failures.load() == 0);
  REQUIRE(committed.load() >= 300);  // each commit writes at least 2 frames
  REQUIRE(most_frames <= 32 * opts.wal_checkpoint_pages);
  REQUIRE(db->Close().ok());
  REQUIRE(SqliteIntegrity(path) == "ok");
}

TEST_CASE("snapshot model: readers keep their invariants under a writer and checkpoints") {
  for (const std::string backend : {"uring", "posix"}) {
    SECTION(backend + " plain") { RunModel(backend, false); }
    SECTION(backend + " encrypted") { RunModel(backend, true); }
  }
}

}  // namespace
}  // namespace pgqrs::engine::testing
