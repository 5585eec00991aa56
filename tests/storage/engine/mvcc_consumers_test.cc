// Eight consumers on one queue of an engine:// store with concurrent writers (mvcc=on), two
// producers beside them: no message is leased to two consumers at once, every message is
// acked exactly once, none is lost, and stock sqlite3 finds the file intact. Consumers nack
// some messages, so a message is leased again, but only after its lease ended. Write
// conflicts are counted and printed.
//
// Catch2 assertions are not thread-safe: the threads record what they saw and the test checks
// it afterwards.
//
// Bounded by time: producers run PGQRS_TEST_MVCC_SECONDS (default 3) seconds, then the
// consumers drain the queue. With PGQRS_TEST_ENGINE_ENCRYPT=1 the database is encrypted.
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "storage/open_store.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/engine/workload.h"

namespace pgqrs::testing {
namespace {

constexpr int kConsumers = 8;
constexpr int kProducers = 2;
const char kQueue[] = "work";

absl::Duration ProduceTime() {
  const char* seconds = std::getenv("PGQRS_TEST_MVCC_SECONDS");
  return absl::Seconds(seconds != nullptr ? std::atoi(seconds) : 3);
}

bool Encrypted() { return std::getenv("PGQRS_TEST_ENGINE_ENCRYPT") != nullptr; }

// "engine://<path>?mvcc=on", with a key file when Encrypted().
std::string MvccDsn(const std::string& dir, const std::string& path) {
  std::string dsn = "engine://" + path + "?mvcc=on";
  if (!Encrypted()) return dsn;
  const std::string key = dir + "/mvcc.key";
  std::ofstream(key) << "5e0c2b7a9d1f3e4c6a8b0d2f4e6c8a0b1d3f5e7c9a1b3d5f7e9c1a3b5d7f9e1c\n";
  REQUIRE(chmod(key.c_str(), 0600) == 0);
  return dsn + "&key_file=" + key + "&key_id=3";
}

// What the test knows about every message, checked as the consumers go.
class Ledger {
 public:
  void Enqueued(const std::vector<int64_t>& ids) {
    absl::MutexLock lock(&mu_);
    for (int64_t id : ids) duplicate_ids_ += !enqueued_.insert(id).second;
  }
  // Call `call` failed (the first error is kept).
  void Failed(const char* call, const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (first_error_.empty()) first_error_ = std::string(call) + ": " + status.ToString();
  }
  // A consumer got a lease; false when another consumer holds one on the message already.
  bool Leased(int64_t id, int consumer) {
    absl::MutexLock lock(&mu_);
    return holder_.emplace(id, consumer).second;
  }
  // The lease is about to end (before the call that ends it, so a new lease never precedes).
  void Released(int64_t id) {
    absl::MutexLock lock(&mu_);
    holder_.erase(id);
  }
  void Acked(int64_t id) {
    absl::MutexLock lock(&mu_);
    ++acks_[id];
  }
  bool AllAcked(bool producers_done) {
    absl::MutexLock lock(&mu_);
    return producers_done && acks_.size() == enqueued_.size();
  }
  // Every message enqueued was acked exactly once and nothing else was.
  void CheckExactlyOnce() {
    absl::MutexLock lock(&mu_);
    CHECK(first_error_ == "");
    CHECK(duplicate_ids_ == 0);
    int64_t twice = 0, unknown = 0;
    for (const auto& [id, count] : acks_) {
      twice += count > 1;
      unknown += enqueued_.count(id) == 0;
    }
    CHECK(twice == 0);
    CHECK(unknown == 0);
    CHECK(acks_.size() == enqueued_.size());
    CHECK(holder_.empty());
  }
  int64_t enqueued() {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(enqueued_.size());
  }

 private:
  absl::Mutex mu_;
  std::set<int64_t> enqueued_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, int> holder_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, int> acks_ ABSL_GUARDED_BY(mu_);
  int64_t duplicate_ids_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

void Produce(storage::Store& store, Ledger& ledger, absl::Time until, int seed) {
  std::mt19937 random(seed);
  while (absl::Now() < until) {
    std::vector<storage::NewMessage> batch(1 + random() % 4, Msg(R"({"n":1})"));
    absl::StatusOr<std::vector<int64_t>> ids = store.Enqueue(kQueue, batch, 0);
    if (!ids.ok()) return ledger.Failed("Enqueue", ids.status());
    ledger.Enqueued(*ids);
  }
}

struct ConsumerTally {
  int64_t double_leases = 0;
  int64_t lost_acks = 0;  // acks of a lease this consumer held that the store refused
  int64_t nacks = 0;
};

// Acks `lease`, or nacks it (visible again at once) when `nack`; false when the store refused
// the lease. Errors go to the ledger.
bool EndLease(storage::Store& store, Ledger& ledger, const storage::Lease& lease, bool nack) {
  absl::StatusOr<std::vector<storage::LeaseOutcome>> outcome =
      nack ? store.Nack(kQueue, {&lease, 1}, absl::ZeroDuration()) : store.Ack(kQueue, {&lease, 1});
  if (!outcome.ok()) ledger.Failed(nack ? "Nack" : "Ack", outcome.status());
  return outcome.ok() && (*outcome)[0] == storage::LeaseOutcome::kOk;
}

void Consume(storage::Store& store, Ledger& ledger, const std::atomic<bool>& producing, int me,
             absl::Time deadline, ConsumerTally& tally) {
  std::mt19937 random(100 + me);
  storage::DequeueOptions options;
  options.max_messages = 4;
  while (!ledger.AllAcked(!producing.load()) && absl::Now() < deadline) {
    absl::StatusOr<std::vector<storage::Message>> got = store.Dequeue(kQueue, options);
    if (!got.ok()) return ledger.Failed("Dequeue", got.status());
    if (got->empty()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    for (const storage::Message& m : *got) {
      if (!ledger.Leased(m.id, me)) ++tally.double_leases;
    }
    for (const storage::Message& m : *got) {
      if (!m.lease) return ledger.Failed("Dequeue", absl::InternalError("a message without lease"));
      ledger.Released(m.id);
      const bool nack = random() % 10 == 0;
      const bool ended = EndLease(store, ledger, *m.lease, nack);
      tally.nacks += nack;
      tally.lost_acks += !ended;
      if (ended && !nack) ledger.Acked(m.id);
    }
  }
}

TEST_CASE("eight consumers on one queue with mvcc: exactly once, no double lease",
          "[engine][mvcc]") {
  const char* tmp = std::getenv("TEST_TMPDIR");
  REQUIRE(tmp != nullptr);
  const std::string path = std::string(tmp) + "/consumers.db";
  auto store = Ok(storage::OpenStore(MvccDsn(tmp, path), {}));
  Ok(store->Migrate());
  // Leases outlast the test, so a second lease can only follow a nack.
  MakeQueue(*store, kQueue, /*max_read_count=*/1000, absl::Minutes(10));

  Ledger ledger;
  std::atomic<bool> producing{true};
  const absl::Time produce_until = absl::Now() + ProduceTime();
  const absl::Time deadline = produce_until + absl::Seconds(30);
  std::vector<ConsumerTally> tallies(kConsumers);
  std::vector<std::thread> consumers;
  for (int i = 0; i < kConsumers; ++i) {
    consumers.emplace_back(Consume, std::ref(*store), std::ref(ledger), std::cref(producing), i,
                           deadline, std::ref(tallies[i]));
  }
  std::vector<std::thread> producers;
  for (int i = 0; i < kProducers; ++i) {
    producers.emplace_back(Produce, std::ref(*store), std::ref(ledger), produce_until, i);
  }
  for (std::thread& t : producers) t.join();
  producing = false;
  for (std::thread& t : consumers) t.join();

  ConsumerTally total;
  for (const ConsumerTally& t : tallies) {
    total.double_leases += t.double_leases;
    total.lost_acks += t.lost_acks;
    total.nacks += t.nacks;
  }
  storage::CommitStats stats = *store->GetCommitStats();
  std::printf(
      "mvcc consumers: %lld messages, %lld nacks, %lld write conflicts, %lld calls retried, "
      "%lld of them exclusively at last\n",
      static_cast<long long>(ledger.enqueued()), static_cast<long long>(total.nacks),
      static_cast<long long>(stats.write_conflicts),
      static_cast<long long>(stats.write_retried_calls),
      static_cast<long long>(stats.write_exclusive_attempts));
  CHECK(stats.write_retried_calls <= stats.write_conflicts);
  CHECK(ledger.enqueued() > 0);
  CHECK(total.double_leases == 0);
  CHECK(total.lost_acks == 0);
  ledger.CheckExactlyOnce();
  storage::QueueCounts counts = Ok(store->GetQueueCounts(kQueue));
  CHECK(counts.pending + counts.delayed + counts.in_flight + counts.dead == 0);
  CHECK(counts.archived == ledger.enqueued());
  CHECK(Ok(store->Verify()).problems.empty());
  store.reset();
  if (!Encrypted()) {
    CHECK(SqliteIntegrityCheck(path) == std::vector<std::string>{"ok"});
    CHECK(SqliteRows(path, "SELECT count(*) FROM pgqrs_messages WHERE state = 2") ==
          std::vector<std::string>{std::to_string(ledger.enqueued())});
  }
}

}  // namespace
}  // namespace pgqrs::testing
