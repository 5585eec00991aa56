// A model-based snapshot-isolation check of concurrent transactions (engine/MVCC.md section 7).
//
// Registers (a few hot, many cold) hold a balance, the version that wrote it (the writing
// transaction's id) and the version it replaced. Threads run transactions that scan every
// register (the balances must sum to the total: one consistent snapshot), move an amount
// between two registers, re-read what they read and wrote, and insert or delete a token of a
// UNIQUE index; some also insert a batch of filler rows, so that the in-memory row stamps are
// pruned while transactions run. Afterwards the history is checked:
// - no lost update / first committer wins: per register, the committed writers form one chain
//   from the initial version (no two replaced the same version), ending in the stored row;
// - no dirty read: every version read was written by a transaction that committed;
// - snapshots: a transaction saw every commit that returned before it began and none that had
//   not started to commit when it began; its repeated reads return what it read or wrote;
// - UNIQUE holds, and sqlite3 finds the file intact.
// Bounded by time (PGQRS_ENGINE_LONG=1: a minute per variant), seeded (PGQRS_TEST_SEED), the
// seed is printed on failure.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/crypto/key.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kHot = 4;
constexpr int kRegisters = 150;  // ids 1..kHot are hot
constexpr int64_t kInitial = 1000;
constexpr int kTokens = 12;
constexpr int kThreads = 4;
constexpr int kFillerRows = 300;  // a few of these batches make the row stamps be pruned

// Catch2's assertions are not thread-safe: worker threads throw instead.
void Expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("expectation failed: " + what);
}
template <typename T>
T Ok(absl::StatusOr<T> v, const std::string& what) {
  Expect(v.ok(), what + ": " + v.status().ToString());
  return std::move(*v);
}

// One transaction as the test saw it.
struct Record {
  int64_t id = 0;
  Clock::time_point begin_called, begun, commit_called, committed_at;
  bool committed = false;
  std::map<int64_t, int64_t> read;                    // register -> version seen
  std::vector<std::pair<int64_t, int64_t>> replaced;  // (register, version replaced)
};

void CreateModel(Database* db) {
  auto txn = Ok(db->Begin(), "begin");
  Expect(txn->CreateTable({"registers",
                           {{"id", ColumnType::kInteger},
                            {"balance", ColumnType::kInteger, true},
                            {"version", ColumnType::kInteger, true},
                            {"replaced", ColumnType::kInteger, true},
                            {"pad", ColumnType::kText}},
                           0})
             .ok(),
         "create registers");
  Expect(txn->CreateTable(
                {"tokens", {{"id", ColumnType::kInteger}, {"token", ColumnType::kText, true}}, 0})
             .ok(),
         "create tokens");
  Expect(txn->CreateTable({"filler", {{"id", ColumnType::kInteger}}, 0}).ok(), "create filler");
  Expect(txn->CreateIndex({"tokens_token", "tokens", /*unique=*/true, {{"token"}}}).ok(),
         "create index");
  for (int i = 1; i <= kRegisters; ++i) {
    Expect(txn->Insert("registers", {Value::Integer(i), Value::Integer(kInitial), Value::Integer(0),
                                     Value::Integer(-1), Value::Text(std::string(120, 'r'))})
               .ok(),
           "insert register");
  }
  Expect(txn->Commit().ok(), "commit model");
}

int64_t PickRegister(std::mt19937_64& rng) {
  return rng() % 2 == 0 ? 1 + rng() % kHot : 1 + kHot + rng() % (kRegisters - kHot);
}

// Scans every register: returns balance by id and records the versions seen.
std::map<int64_t, Row> Scan(Transaction* txn, Record* rec) {
  std::map<int64_t, Row> rows;
  auto it = Ok(txn->ScanTable("registers"), "scan");
  int64_t sum = 0;
  while (it->Valid()) {
    Row row = Ok(it->row(), "row");
    sum += row[1].integer();
    rec->read[it->rowid()] = row[2].integer();
    rows[it->rowid()] = std::move(row);
    Expect(it->Next().ok(), "next");
  }
  Expect(rows.size() == kRegisters, "every register is there");
  Expect(sum == kInitial * kRegisters, absl::StrCat("snapshot sum ", sum));
  return rows;
}

// Inserts the token if the snapshot lacks it, else deletes it. Returns the status of the
// delete (which may be an early write conflict).
absl::Status ToggleToken(Transaction* txn, std::mt19937_64& rng) {
  const std::string token = absl::StrCat("t", rng() % kTokens);
  IndexRange range;
  range.lower = IndexBound{{Value::Text(token)}, true};
  range.upper = IndexBound{{Value::Text(token)}, true};
  auto it = Ok(txn->ScanIndex("tokens_token", range), "scan token");
  if (it->Valid()) {
    absl::StatusOr<bool> deleted = txn->Delete("tokens", it->rowid());
    if (!deleted.ok()) return deleted.status();
    Expect(*deleted, "token row exists");
  } else {
    Ok(txn->Insert("tokens", {Value::Null(), Value::Text(token)}), "insert token");
  }
  return absl::OkStatus();
}

// Ends `txn` as a loser of a write conflict detected by a modifying call.
Record LostEarly(Transaction* txn, Record rec, const absl::Status& s) {
  Expect(IsWriteConflict(s), "modifying call: " + s.ToString());
  txn->Rollback();
  rec.commit_called = rec.committed_at = Clock::now();
  return rec;
}

// One transaction; returns its record (committed or lost a conflict).
Record RunOne(Database* db, std::mt19937_64& rng, std::atomic<int64_t>* next_id) {
  Record rec;
  rec.id = next_id->fetch_add(1);
  rec.begin_called = Clock::now();
  auto txn = Ok(db->BeginConcurrent(), "begin concurrent");
  rec.begun = Clock::now();
  std::map<int64_t, Row> rows = Scan(txn.get(), &rec);
  const int64_t a = PickRegister(rng);
  int64_t b = PickRegister(rng);
  if (b == a) b = a % kRegisters + 1;
  const int64_t amount = static_cast<int64_t>(rng() % 50);
  for (auto [id, delta] : {std::pair{a, -amount}, std::pair{b, amount}}) {
    Row row = rows[id];
    rec.replaced.emplace_back(id, row[2].integer());
    row[1] = Value::Integer(row[1].integer() + delta);
    row[3] = row[2];
    row[2] = Value::Integer(rec.id);
    absl::Status s = txn->Update("registers", id, row);
    if (!s.ok()) return LostEarly(txn.get(), std::move(rec), s);
  }
  if (rng() % 3 == 0) {
    absl::Status s = ToggleToken(txn.get(), rng);
    if (!s.ok()) return LostEarly(txn.get(), std::move(rec), s);
  }
  if (rng() % 4 == 0) {
    for (int i = 0; i < kFillerRows; ++i) {
      Ok(txn->Insert("filler", {Value::Null()}), "insert filler");
    }
  }
  // Repeatable reads: own writes, and a register read before is unchanged.
  const int64_t other = 1 + rng() % kRegisters;
  auto again = Ok(txn->Get("registers", other), "get");
  Expect(again.has_value(), "register exists");
  const int64_t expected = (other == a || other == b) ? rec.id : rec.read[other];
  Expect((*again)[2].integer() == expected, absl::StrCat("re-read of register ", other));
  rec.commit_called = Clock::now();
  absl::Status s = rng() % 2 == 0 ? txn->Commit() : txn->CommitDurable();
  rec.committed_at = Clock::now();
  Expect(s.ok() || IsWriteConflict(s), "commit: " + s.ToString());
  rec.committed = s.ok();
  return rec;
}

// The chain positions of a register's committed writers, indexed by when their commit returned
// and when it was called, for range queries in O(log n).
class WriterTimes {
 public:
  void Add(Clock::time_point returned, Clock::time_point called, int pos) {
    returned_.emplace_back(returned, pos);
    called_.emplace_back(called, pos);
  }
  void Finish() {
    std::sort(returned_.begin(), returned_.end());
    for (size_t i = 1; i < returned_.size(); ++i) {
      returned_[i].second = std::max(returned_[i].second, returned_[i - 1].second);
    }
    std::sort(called_.begin(), called_.end());
    for (size_t i = called_.size(); i-- > 1;) {
      called_[i - 1].second = std::min(called_[i - 1].second, called_[i].second);
    }
  }
  // The highest position of a writer whose commit returned before `t` (0: the initial one).
  int MaxReturnedBefore(Clock::time_point t) const {
    auto it = std::lower_bound(returned_.begin(), returned_.end(), std::pair{t, INT_MIN});
    return it == returned_.begin() ? 0 : std::prev(it)->second;
  }
  // The lowest position of a writer whose commit was called after `t` (INT_MAX: none).
  int MinCalledAfter(Clock::time_point t) const {
    auto it = std::upper_bound(called_.begin(), called_.end(), std::pair{t, INT_MAX});
    return it == called_.end() ? INT_MAX : it->second;
  }

 private:
  std::vector<std::pair<Clock::time_point, int>> returned_, called_;  // (time, position)
};

// The checks on the whole history (see the file comment). `stored` is the version of each
// register in the final database.
void CheckHistory(const std::vector<Record>& history, const std::map<int64_t, int64_t>& stored) {
  std::map<int64_t, const Record*> committed;
  for (const Record& r : history) {
    if (r.committed) committed[r.id] = &r;
  }
  // Per register: replaced version -> the committed writer that replaced it.
  std::map<int64_t, std::map<int64_t, int64_t>> next;
  for (const auto& [id, r] : committed) {
    for (auto [reg, old] : r->replaced) {
      auto [pos, inserted] = next[reg].emplace(old, id);
      REQUIRE(inserted);  // two committed writers replaced one version: a lost update
    }
  }
  // Chain positions: position of each version of each register.
  std::map<int64_t, std::map<int64_t, int>> position;
  for (int reg = 1; reg <= kRegisters; ++reg) {
    int64_t v = 0;
    int pos = 0;
    position[reg][v] = pos;
    while (next[reg].count(v)) {
      v = next[reg][v];
      position[reg][v] = ++pos;
    }
    INFO("register " << reg);
    REQUIRE(static_cast<size_t>(pos) == next[reg].size());  // every writer is on the chain
    REQUIRE(stored.at(reg) == v);                           // and the last one is stored
  }
  // Per register, the writers' chain positions by time: the highest position among commits
  // that returned before a time, and the lowest among commits called after a time.
  std::map<int64_t, WriterTimes> times;
  for (const auto& [reg, versions] : position) {
    for (const auto& [w, pos] : versions) {
      if (w != 0)
        times[reg].Add(committed.at(w)->committed_at, committed.at(w)->commit_called, pos);
    }
    times[reg].Finish();
  }
  // Plain comparisons below: a Catch2 assertion per read would dominate the run time.
  for (const Record& t : history) {
    for (const auto& [reg, v] : t.read) {
      const std::string what =
          absl::StrCat("transaction ", t.id, " read version ", v, " of register ", reg);
      auto seen = position[reg].find(v);
      if (seen == position[reg].end()) FAIL(what << ": no committed transaction wrote it");
      if (seen->second < times[reg].MaxReturnedBefore(t.begin_called)) {
        FAIL(what << ": misses a version committed before it began");
      }
      if (seen->second >= times[reg].MinCalledAfter(t.begun)) {
        FAIL(what << ": sees a version committed after it began");
      }
    }
  }
}

std::shared_ptr<const EncryptionKey> TestKey() {
  auto key = EncryptionKey::FromBytes(std::string(32, '\x3c'));
  REQUIRE(key.ok());
  return *key;
}

uint64_t Seed() {
  const char* s = std::getenv("PGQRS_TEST_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : std::random_device{}();
}

TEST_CASE("concurrent transactions are snapshot-isolated: model check") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const bool encrypted = GENERATE(false, true);
  const uint64_t seed = Seed();
  INFO("seed " << seed << " (PGQRS_TEST_SEED) backend " << backend << " encrypted " << encrypted);
  const std::string path = NewTempDir("mvcc_model") + "/db";
  DatabaseOptions opts = Options(backend);
  opts.mvcc = true;
  opts.cache_pages = 32;           // the writer spills and reloads pages
  opts.wal_checkpoint_pages = 24;  // automatic checkpoints and WAL restarts all the time
  if (encrypted) {
    opts.key = TestKey();
    opts.key_id = 3;
  }
  auto db = Database::Open(path, opts);
  REQUIRE(db.ok());
  CreateModel(db->get());
  const auto run_for =
      std::chrono::milliseconds(std::getenv("PGQRS_ENGINE_LONG") != nullptr ? 60000 : 2000);
  const auto deadline = Clock::now() + run_for;
  std::atomic<int64_t> next_id{1};
  std::vector<std::vector<Record>> histories(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937_64 rng(seed * 31 + i);
      try {
        while (Clock::now() < deadline) histories[i].push_back(RunOne(db->get(), rng, &next_id));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& e : errors) REQUIRE(e == "");
  std::vector<Record> history;
  for (auto& h : histories) history.insert(history.end(), h.begin(), h.end());
  int64_t commits = 0;
  for (const Record& r : history) commits += r.committed ? 1 : 0;
  const int64_t conflicts = static_cast<int64_t>(history.size()) - commits;
  WARN("mvcc model " << backend << (encrypted ? " encrypted" : "") << ": " << commits
                     << " commits, " << conflicts << " write conflicts");
  REQUIRE(commits > 50);
  REQUIRE(conflicts > 0);  // the hot registers make transactions collide
  REQUIRE((*db)->Close().ok());

  // The final state, read by the engine (encrypted) or sqlite3.
  auto reopened = Database::Open(path, opts);
  REQUIRE(reopened.ok());
  std::map<int64_t, int64_t> stored;
  int64_t sum = 0;
  for (const Row& row : EngineRows(reopened->get(), "registers")) {
    stored[row[0].integer()] = row[2].integer();
    sum += row[1].integer();
  }
  REQUIRE(sum == kInitial * kRegisters);
  CheckHistory(history, stored);
  std::set<std::string> tokens;
  for (const Row& row : EngineRows(reopened->get(), "tokens")) {
    REQUIRE(tokens.insert(row[1].bytes()).second);  // UNIQUE held
  }
  REQUIRE((*reopened)->Close().ok());
  if (!encrypted) {
    REQUIRE(SqliteIntegrity(path) == "ok");
    REQUIRE(
        SqliteQuery(path, "SELECT token FROM tokens GROUP BY token HAVING count(*) > 1").empty());
  }
}

}  // namespace
}  // namespace pgqrs::engine::testing
