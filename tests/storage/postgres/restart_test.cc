// Postgres-specific: the server restarts (immediate shutdown, crash recovery) while
// producers and consumers run. Calls in flight fail with UNAVAILABLE, service resumes
// without reopening the store, every enqueue that returned OK survives, and no message
// whose ack returned OK is delivered again.
//
// Needs PGQRS_TEST_PG_DIR (the cluster directory) and runs tools/pg/cluster.sh
// restart-pg on it, so the target is exclusive and unsandboxed.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "storage/dsn.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/postgres/pg_test_env.h"

namespace pgqrs::testing {
namespace {

using storage::Lease;
using storage::LeaseOutcome;
using storage::Message;

std::string ClusterScript() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  REQUIRE(srcdir != nullptr);
  return absl::StrCat(srcdir, "/pgqrs/tools/pg/cluster.sh");
}

bool OpenPostgresProbe(const std::string& dsn) {
  absl::StatusOr<storage::Dsn> parsed = storage::ParseDsn(dsn);
  if (!parsed.ok()) return false;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenPostgresStore(*parsed, {});
  // An empty check still runs a transaction, and needs no tables.
  return store.ok() && (*store)->QueuesWithVisibleMessages({}).ok();
}

struct Tally {
  std::mutex mu;
  std::vector<int64_t> enqueued;  // ids whose Enqueue returned OK
  std::set<int64_t> acked;        // ids whose Ack returned kOk
  int64_t redelivered = 0;        // dequeued again after an OK ack
  std::map<absl::StatusCode, int64_t> errors;
  absl::Time last_error = absl::InfinitePast();
  absl::Time first_ok_after_error = absl::InfinitePast();

  void Error(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu);
    ++errors[status.code()];
    last_error = absl::Now();
    first_ok_after_error = absl::InfinitePast();
  }
  void Ok() {
    std::lock_guard<std::mutex> lock(mu);
    if (last_error != absl::InfinitePast() && first_ok_after_error == absl::InfinitePast()) {
      first_ok_after_error = absl::Now();
    }
  }
};

void Produce(storage::Store& store, std::atomic<bool>& stop, Tally& tally) {
  for (int i = 0; !stop; ++i) {
    std::vector<storage::NewMessage> batch = {Msg(absl::StrCat(i))};
    absl::StatusOr<std::vector<int64_t>> ids = store.Enqueue("q", batch, 0);
    if (!ids.ok()) {
      tally.Error(ids.status());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    tally.Ok();
    std::lock_guard<std::mutex> lock(tally.mu);
    tally.enqueued.push_back(ids->at(0));
  }
}

// Leases with a short timeout and acks; counts any OK-acked message seen again.
bool ConsumeOnce(storage::Store& store, Tally& tally) {
  storage::DequeueOptions options;
  options.max_messages = 10;
  options.visibility_timeout = absl::Seconds(1);
  absl::StatusOr<std::vector<Message>> got = store.Dequeue("q", options);
  if (!got.ok()) {
    tally.Error(got.status());
    return true;
  }
  std::vector<Lease> leases;
  {
    std::lock_guard<std::mutex> lock(tally.mu);
    for (const Message& m : *got) {
      if (tally.acked.contains(m.id)) ++tally.redelivered;
      leases.push_back(*m.lease);
    }
  }
  if (leases.empty()) return false;
  absl::StatusOr<std::vector<LeaseOutcome>> outcomes = store.Ack("q", leases);
  if (!outcomes.ok()) {
    tally.Error(outcomes.status());
    return true;
  }
  std::lock_guard<std::mutex> lock(tally.mu);
  for (size_t i = 0; i < leases.size(); ++i) {
    if ((*outcomes)[i] == LeaseOutcome::kOk) tally.acked.insert(leases[i].message_id);
  }
  return true;
}

TEST_CASE("a PostgreSQL restart mid-run gives UNAVAILABLE, then service resumes",
          "[restart]") {
  std::string dir = RequiredEnv("PGQRS_TEST_PG_DIR");
  storage::PostgresOptions options;
  options.pool_size = 4;
  options.backoff_max = absl::Milliseconds(500);
  // An earlier restart may still be settling (PgBouncer retries its server login).
  REQUIRE(WaitUntil([&] { return OpenPostgresProbe(TestDsn()); }, std::chrono::seconds(20)));
  std::string schema = FreshSchema();
  auto store = OpenMigrated(TestDsn(), schema, options);
  MakeQueue(*store, "q");
  // A second store listens (LISTEN needs a direct connection, also in the PgBouncer run).
  // Queue "idle" gets no traffic: only the listener's re-check after it reconnects can
  // wake it once more.
  storage::PostgresOptions listen_options = options;
  listen_options.listen_dsn = RequiredEnv("PGQRS_TEST_PG_DSN");
  std::mutex wake_mu;  // both outlive the store, whose listener thread calls the handler
  int idle_wakes = 0;
  auto listening = OpenMigrated(TestDsn(), schema, listen_options);
  listening->SetRemoteWakeHandler([&](const std::string& queue) {
    std::lock_guard<std::mutex> lock(wake_mu);
    if (queue == "idle") ++idle_wakes;
  });
  auto idle_wakes_now = [&] {
    std::lock_guard<std::mutex> lock(wake_mu);
    return idle_wakes;
  };
  MakeQueue(*store, "idle");
  REQUIRE(WaitUntil([&] {
    EnqueueOne(*store, "idle", "{}");
    return idle_wakes_now() > 0;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int idle_before_restart = idle_wakes_now();

  Tally tally;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { Produce(*store, stop, tally); });
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&] {
      while (!stop) {
        if (!ConsumeOnce(*store, tally)) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  std::string command = absl::StrCat(ClusterScript(), " restart-pg ", dir);
  absl::Time restart_begin = absl::Now();
  int rc = std::system(command.c_str());
  absl::Time restart_end = absl::Now();
  REQUIRE(rc == 0);
  // Service must come back on its own, without reopening the store.
  bool resumed = WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(tally.mu);
        return tally.first_ok_after_error != absl::InfinitePast();
      },
      std::chrono::seconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  stop = true;
  for (auto& t : threads) t.join();

  WARN("restart-pg took " << absl::FormatDuration(restart_end - restart_begin)
                          << "; first OK call " << absl::FormatDuration(
                                 tally.first_ok_after_error - restart_end)
                          << " after the server was back; enqueued " << tally.enqueued.size()
                          << ", acked " << tally.acked.size());
  REQUIRE(resumed);
  CHECK(WaitUntil([&] { return idle_wakes_now() > idle_before_restart; }));
  REQUIRE(!tally.errors.empty());  // the restart was felt
  for (const auto& [code, count] : tally.errors) {
    INFO(absl::StatusCodeToString(code) << " x" << count);
    CHECK(code == absl::StatusCode::kUnavailable);
  }

  // Every OK'd enqueue is still there (in any state).
  std::vector<Message> found;
  for (size_t i = 0; i < tally.enqueued.size(); i += 1000) {
    size_t end = std::min(tally.enqueued.size(), i + 1000);
    std::vector<int64_t> ids(tally.enqueued.begin() + i, tally.enqueued.begin() + end);
    std::vector<Message> part = Ok(store->GetMessages("q", ids));
    found.insert(found.end(), part.begin(), part.end());
  }
  CHECK(found.size() == tally.enqueued.size());
  for (const Message& m : found) {
    if (tally.acked.contains(m.id)) CHECK(m.state == storage::MessageState::kArchived);
  }
  // Drain what is left (including leases the restart orphaned) and check for redelivery.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  while (ConsumeOnce(*store, tally)) {
  }
  CHECK(tally.redelivered == 0);
}

}  // namespace
}  // namespace pgqrs::testing
