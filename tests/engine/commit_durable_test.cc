// Transaction::CommitDurable: a transaction that only read a commit whose WAL fsync is still
// running returns once that fsync is done, while plain Commit returns at once. The fsync is
// held back by a backend whose WAL syncs wait for a gate.
#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "engine/db/database.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine {
namespace {

// Syncs of "-wal" files block while the gate is closed.
class Gate {
 public:
  void Close() {
    absl::MutexLock l(&mu_);
    open_ = false;
  }
  void Open() {
    absl::MutexLock l(&mu_);
    open_ = true;
  }
  void Pass() {
    absl::MutexLock l(&mu_);
    ++waiting_;
    mu_.Await(absl::Condition(&open_));
    --waiting_;
  }
  int waiting() {
    absl::MutexLock l(&mu_);
    return waiting_;
  }

 private:
  absl::Mutex mu_;
  bool open_ = true;
  int waiting_ = 0;
};

TEST_CASE("CommitDurable waits for the fsync of what it read", "[engine][durable]") {
  Gate gate;
  DatabaseOptions options;
  options.backend =
      testing::NewWalHookBackend(7, {.on_read = {}, .on_sync = [&gate] { gate.Pass(); }});
  auto db = *Database::Open("/gated.db", options);
  {
    auto txn = *db->Begin();
    REQUIRE(txn->CreateTable({"t", {{"id", ColumnType::kInteger}}, 0}).ok());
    REQUIRE(txn->Commit().ok());
  }
  gate.Close();
  // A writer commits; its fsync waits at the gate after it released the slot.
  std::future<absl::Status> writer = std::async(std::launch::async, [&] {
    auto txn = *db->Begin();
    if (absl::Status s = txn->Insert("t", {Value::Integer(1)}).status(); !s.ok()) return s;
    return txn->Commit();
  });
  while (gate.waiting() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  // A reader sees the row. Commit returns at once; CommitDurable waits for the gate.
  auto plain = *db->Begin();
  REQUIRE((*plain->Get("t", 1)).has_value());
  CHECK(plain->Commit().ok());
  // (A transaction ends on the thread that began it.)
  std::atomic<bool> saw_row{false};
  std::future<absl::Status> reader = std::async(std::launch::async, [&] {
    auto durable = *db->Begin();
    saw_row = (*durable->Get("t", 1)).has_value();
    return durable->CommitDurable();
  });
  CHECK(reader.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
  CHECK(writer.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  gate.Open();
  CHECK(reader.get().ok());
  CHECK(saw_row);
  CHECK(writer.get().ok());
  // Nothing in flight: it returns at once.
  auto idle = *db->Begin();
  CHECK(idle->CommitDurable().ok());
  REQUIRE(db->Close().ok());
}

TEST_CASE("a read transaction sees only durable commits and never waits for an fsync",
          "[engine][durable]") {
  Gate gate;
  DatabaseOptions options;
  options.backend =
      testing::NewWalHookBackend(7, {.on_read = {}, .on_sync = [&gate] { gate.Pass(); }});
  auto db = *Database::Open("/gated_read.db", options);
  {
    auto txn = *db->Begin();
    REQUIRE(txn->CreateTable({"t", {{"id", ColumnType::kInteger}}, 0}).ok());
    REQUIRE(txn->Commit().ok());
  }
  gate.Close();
  std::future<absl::Status> writer = std::async(std::launch::async, [&] {
    auto txn = *db->Begin();
    if (absl::Status s = txn->Insert("t", {Value::Integer(1)}).status(); !s.ok()) return s;
    return txn->Commit();
  });
  while (gate.waiting() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  // The commit's fsync is held back: a read transaction does not see it, and ends at once.
  auto before = *db->BeginRead();
  REQUIRE(before->Get("t", 1).ok());
  CHECK(!(*before->Get("t", 1)).has_value());
  CHECK(before->CommitDurable().ok());
  CHECK(writer.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  gate.Open();
  REQUIRE(writer.get().ok());
  // Commit returned: the next read transaction sees it.
  auto after = *db->BeginRead();
  CHECK((*after->Get("t", 1)).has_value());
  CHECK(after->CommitDurable().ok());
  REQUIRE(db->Close().ok());
}

TEST_CASE("a write conflict is returned once the winning commit is durable",
          "[engine][durable][mvcc]") {
  Gate gate;
  DatabaseOptions options;
  options.backend =
      testing::NewWalHookBackend(7, {.on_read = {}, .on_sync = [&gate] { gate.Pass(); }});
  options.mvcc = true;
  auto db = *Database::Open("/gated_conflict.db", options);
  {
    auto txn = *db->Begin();
    REQUIRE(txn->CreateTable({"t", {{"id", ColumnType::kInteger}, {"v", ColumnType::kInteger}}, 0})
                .ok());
    REQUIRE(txn->Insert("t", {Value::Integer(1), Value::Integer(0)}).ok());
    REQUIRE(txn->Commit().ok());
  }
  // Both begin on the same snapshot (each transaction ends on the thread that began it).
  std::promise<void> both_begun;
  std::shared_future<void> begun = both_begun.get_future().share();
  std::atomic<int> ready{0};
  auto update_to = [&](int64_t v, bool wait_for_gate) {
    auto txn = *db->BeginConcurrent();
    if (++ready == 2) both_begun.set_value();
    begun.wait();
    absl::Status s = txn->Update("t", 1, {Value::Integer(1), Value::Integer(v)});
    if (!s.ok()) return s;
    if (wait_for_gate) {
      while (gate.waiting() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return txn->Commit();
  };
  gate.Close();
  std::future<absl::Status> winner = std::async(std::launch::async, update_to, 1, false);
  std::future<absl::Status> loser = std::async(std::launch::async, update_to, 2, true);
  // The winner's fsync waits at the gate; the loser waits for it too before reporting.
  CHECK(loser.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
  CHECK(winner.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  gate.Open();
  CHECK(winner.get().ok());
  absl::Status lost = loser.get();
  CHECK(IsWriteConflict(lost));
  // A retry begun after the conflict was reported sees the winner and commits.
  auto retry = *db->BeginConcurrent();
  auto row = retry->Get("t", 1);
  REQUIRE(row.ok());
  CHECK((**row)[1].integer() == 1);
  CHECK(retry->Update("t", 1, {Value::Integer(1), Value::Integer(2)}).ok());
  CHECK(retry->Commit().ok());
  REQUIRE(db->Close().ok());
}

}  // namespace
}  // namespace pgqrs::engine
