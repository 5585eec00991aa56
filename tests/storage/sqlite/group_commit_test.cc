// Group commit: a call whose error rolled back the shared transaction must not take the
// other calls of its batch down with it, nor leave any of them stored but reported failed.
#include "storage/sqlite/group_commit.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "absl/synchronization/notification.h"

namespace pgqrs::storage::sqlite {
namespace {

// Time for a thread to queue its work behind the leader.
constexpr auto kQueueUp = std::chrono::milliseconds(100);

std::unique_ptr<Connection> OpenMemory() {
  auto db = Connection::Open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
  REQUIRE(db.ok());
  REQUIRE((*db)->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY)").ok());
  REQUIRE((*db)->Exec("INSERT INTO t VALUES (1)").ok());
  return std::move(*db);
}

GroupCommit::Work Insert(const std::string& sql) {
  return [sql](Connection& db) { return db.Exec(sql); };
}

bool Stored(Connection& db, int64_t id) {
  auto st = db.Prepare("SELECT count(*) FROM t WHERE id = ?");
  REQUIRE(st.ok());
  (*st)->BindAll(id);
  REQUIRE((*st)->Step().ok());
  bool found = (*st)->Int(0) == 1;
  (*st)->Reset();
  return found;
}

TEST_CASE("an error that rolls back the shared transaction fails only its own call",
          "[sqlite][group_commit]") {
  std::unique_ptr<Connection> db = OpenMemory();
  GroupCommit committer(*db);
  // The leader holds its batch open while the next three queue up as one batch.
  absl::Notification release;
  std::thread leader([&] {
    CHECK(committer
              .Run([&](Connection&) {
                release.WaitForNotification();
                return absl::OkStatus();
              })
              .ok());
  });
  std::this_thread::sleep_for(kQueueUp);
  absl::Status before, failing, after;
  std::thread t1([&] { before = committer.Run(Insert("INSERT INTO t VALUES (2)")); });
  std::this_thread::sleep_for(kQueueUp);
  // OR ROLLBACK: the constraint error ends the whole transaction, not just the statement.
  std::thread t2([&] { failing = committer.Run(Insert("INSERT OR ROLLBACK INTO t VALUES (1)")); });
  std::this_thread::sleep_for(kQueueUp);
  std::thread t3([&] { after = committer.Run(Insert("INSERT INTO t VALUES (3)")); });
  std::this_thread::sleep_for(kQueueUp);
  release.Notify();
  for (std::thread* t : {&leader, &t1, &t2, &t3}) t->join();

  CHECK(failing.code() != absl::StatusCode::kOk);
  INFO(before.ToString() << " / " << after.ToString());
  CHECK(before.ok());
  CHECK(after.ok());
  CHECK(Stored(*db, 2));
  CHECK(Stored(*db, 3));
  CHECK(sqlite3_get_autocommit(db->raw()) != 0);
  // The connection is left usable.
  CHECK(committer.Run(Insert("INSERT INTO t VALUES (4)")).ok());
  CHECK(Stored(*db, 4));

  // Three COMMITs: the leader alone, 2 and 3 (run again without 1's failure), then 4.
  engine::HistogramSnapshot batches = committer.batch_sizes().Snapshot();
  CHECK(batches.count() == 3);
  CHECK(batches.sum == 4);
  CHECK(batches.counts[0] == 2);  // batches of 1
  CHECK(batches.counts[1] == 1);  // a batch of 2
  CHECK(committer.commit_seconds().Snapshot().count() == 3);
}

}  // namespace
}  // namespace pgqrs::storage::sqlite
