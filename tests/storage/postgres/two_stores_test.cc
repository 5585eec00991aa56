// Postgres-specific: two stores on one schema behave like two daemons sharing a database.
// Consumers never share a lease, reclaim releases each worker once, and wake-ups cross
// from one store to the other, also after the listener's connection is cut.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/pg_listener.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/postgres/pg_test_env.h"

namespace pgqrs::testing {
namespace {

using storage::Lease;
using storage::LeaseOutcome;
using storage::Message;
using storage::Store;

struct Pair {
  std::unique_ptr<Store> a;
  std::unique_ptr<Store> b;
};

Pair TwoStores() {
  std::string dsn = TestDsn();
  std::string schema = FreshSchema();
  Pair pair;
  pair.a = OpenMigrated(dsn, schema);
  pair.b = OpenMigrated(dsn, schema);
  return pair;
}

// Records every queue the wake handler is called with.
class WakeLog {
 public:
  std::function<void(const std::string&)> Handler() {
    return [this](const std::string& queue) {
      std::lock_guard<std::mutex> lock(mu_);
      wakes_.push_back(queue);
    };
  }
  int Count(const std::string& queue) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count(wakes_.begin(), wakes_.end(), queue));
  }
  bool WaitFor(const std::string& queue, int at_least) {
    return WaitUntil([&] { return Count(queue) >= at_least; }, std::chrono::seconds(15));
  }

 private:
  std::mutex mu_;
  std::vector<std::string> wakes_;
};

TEST_CASE("concurrent consumers on two stores never share a lease", "[postgres][two_stores]") {
  Pair s = TwoStores();
  MakeQueue(*s.a, "q");
  constexpr int kMessages = 600;
  std::vector<storage::NewMessage> batch;
  for (int i = 0; i < kMessages; ++i) batch.push_back(Msg(absl::StrCat(i)));
  Ok(s.a->Enqueue("q", batch, 0));

  std::mutex mu;
  std::multiset<int64_t> seen;
  std::atomic<int> errors{0};
  auto consume = [&](Store* store) {
    while (true) {
      storage::DequeueOptions options;
      options.max_messages = 7;
      absl::StatusOr<std::vector<Message>> got = store->Dequeue("q", options);
      if (!got.ok()) {
        ++errors;
        continue;
      }
      if (got->empty()) return;
      std::vector<Lease> leases;
      for (const Message& m : *got) leases.push_back(*m.lease);
      absl::StatusOr<std::vector<LeaseOutcome>> acked = store->Ack("q", leases);
      if (!acked.ok()) ++errors;
      std::lock_guard<std::mutex> lock(mu);
      for (const Message& m : *got) seen.insert(m.id);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) threads.emplace_back(consume, i % 2 == 0 ? s.a.get() : s.b.get());
  for (auto& t : threads) t.join();
  CHECK(errors == 0);
  CHECK(seen.size() == kMessages);
  CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == kMessages);
  CHECK(Ok(s.b->GetQueueCounts("q")).archived == kMessages);
}

TEST_CASE("reclaim from two stores at once stops and releases each worker once",
          "[postgres][two_stores]") {
  Pair s = TwoStores();
  MakeQueue(*s.a, "q");
  constexpr int kWorkers = 30;
  std::vector<storage::NewMessage> batch;
  for (int i = 0; i < 2 * kWorkers; ++i) batch.push_back(Msg("{}"));
  Ok(s.a->Enqueue("q", batch, 0));
  for (int i = 0; i < kWorkers; ++i) {
    storage::WorkerRegistration reg;
    reg.name = absl::StrCat("w", i);
    reg.queue = "q";
    int64_t id = Ok(s.a->RegisterWorker(reg)).id;
    REQUIRE(DequeueN(*s.a, "q", 2, absl::Seconds(60), id).size() == 2);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  for (int round = 0; round < 3; ++round) {
    std::atomic<bool> go{false};
    // Catch's assertions are not thread-safe: the threads only record, the test checks after.
    absl::StatusOr<storage::ReclaimReport> ra_or, rb_or;
    auto reclaim = [&](Store* store, absl::StatusOr<storage::ReclaimReport>* result) {
      while (!go) std::this_thread::yield();
      *result = store->ReclaimWorkers("q", absl::Milliseconds(10));
    };
    std::thread ta(reclaim, s.a.get(), &ra_or);
    std::thread tb(reclaim, s.b.get(), &rb_or);
    go = true;
    ta.join();
    tb.join();
    storage::ReclaimReport ra = Ok(std::move(ra_or));
    storage::ReclaimReport rb = Ok(std::move(rb_or));
    INFO("round " << round << ": " << ra.workers_stopped << " + " << rb.workers_stopped);
    CHECK(ra.workers_stopped + rb.workers_stopped == (round == 0 ? kWorkers : 0));
    CHECK(ra.messages_released + rb.messages_released == (round == 0 ? 2 * kWorkers : 0));
  }
  storage::QueueCounts counts = Ok(s.b->GetQueueCounts("q"));
  CHECK(counts.pending == 2 * kWorkers);
  CHECK(counts.in_flight == 0);
  for (const auto& w : Ok(s.a->ListWorkers({}))) {
    CHECK(w.status == storage::WorkerStatus::kStopped);
    CHECK(w.leased_messages == 0);
  }
}

// Cuts the LISTEN connections of this database's wake listeners.
int TerminateListeners() {
  std::string dsn = TestDsn();
  storage::pg::Redactor redactor(dsn);
  auto conn = Ok(storage::pg::PgConn::Connect({dsn}, redactor));
  storage::pg::Params params;
  params.Add(storage::pg::kListenerApplicationName);
  auto rows = Ok(conn->QueryText(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE application_name = $1",
      params));
  return static_cast<int>(rows.Int(0, 0));
}

TEST_CASE("a remote wake handler hears enqueues, nacks and redrives of the other store",
          "[postgres][wake]") {
  WakeLog log;  // outlives the stores, whose listener threads call its handler
  Pair s = TwoStores();
  s.a->SetRemoteWakeHandler(log.Handler());
  MakeQueue(*s.b, "q", /*max_read_count=*/1);
  MakeQueue(*s.b, "quiet");
  // The listener connects asynchronously; keep enqueueing until it hears one.
  REQUIRE(WaitUntil(
      [&] {
        EnqueueOne(*s.b, "q", "{}");
        return log.Count("q") > 0;
      },
      std::chrono::seconds(15)));
  int before = log.Count("q");
  EnqueueOne(*s.b, "q", R"({"second":true})");
  CHECK(log.WaitFor("q", before + 1));

  SECTION("nack and redrive wake too") {
    auto leased = DequeueN(*s.b, "q", 100);
    REQUIRE(!leased.empty());
    int n = log.Count("q");
    std::vector<Lease> leases = {*leased[0].lease};
    CHECK(Ok(s.b->Nack("q", leases, absl::ZeroDuration()))[0] == LeaseOutcome::kOk);
    // max_read_count 1: the nack dead-letters it; the redrive makes it visible.
    std::vector<int64_t> all;
    CHECK(Ok(s.b->Redrive("q", all)) >= 1);
    CHECK(log.WaitFor("q", n + 1));
  }
  SECTION("after the listener's connection is cut it re-checks every queue") {
    int q_before = log.Count("q");
    int quiet_before = log.Count("quiet");
    REQUIRE(TerminateListeners() >= 1);
    // No enqueue: the re-check after reconnecting alone wakes every queue.
    CHECK(log.WaitFor("quiet", quiet_before + 1));
    CHECK(log.WaitFor("q", q_before + 1));
    int after = log.Count("q");
    EnqueueOne(*s.b, "q", "{}");
    CHECK(log.WaitFor("q", after + 1));
  }
  CHECK(log.Count("quiet") <= 2);  // only re-checks, never a stray notification
}

TEST_CASE("wake-ups stay within their schema", "[postgres][wake]") {
  WakeLog log;  // outlives the stores, whose listener threads call its handler
  Pair s = TwoStores();
  auto other = OpenMigrated(TestDsn(), FreshSchema());
  s.a->SetRemoteWakeHandler(log.Handler());
  MakeQueue(*s.b, "q");
  MakeQueue(*other, "q");
  REQUIRE(WaitUntil(
      [&] {
        EnqueueOne(*s.b, "q", "{}");
        return log.Count("q") > 0;
      },
      std::chrono::seconds(15)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // stragglers of the loop
  int n = log.Count("q");
  for (int i = 0; i < 5; ++i) EnqueueOne(*other, "q", "{}");
  EnqueueOne(*s.b, "q", "{}");
  REQUIRE(log.WaitFor("q", n + 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(log.Count("q") == n + 1);
}

}  // namespace
}  // namespace pgqrs::testing
