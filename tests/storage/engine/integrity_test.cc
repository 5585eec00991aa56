// A mixed, concurrent workload through the engine:// store, bounded by time
// (PGQRS_INTEGRITY_SECONDS, default 3), then libsqlite3 checks the file: integrity_check and
// foreign_key_check pass, and sqlite3's counts agree with the store's.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "storage/open_store.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/engine/workload.h"

namespace pgqrs::testing {
namespace {

// Refusals the workload provokes on purpose (unknown ids, invalid moves, races between
// threads); anything else is a failure.
bool Expected(const absl::Status& s) {
  return s.ok() || absl::IsNotFound(s) || absl::IsFailedPrecondition(s) ||
         absl::IsAlreadyExists(s) || absl::IsCancelled(s) || absl::IsInvalidArgument(s);
}

class Mix {
 public:
  Mix(storage::Store& store, uint32_t seed) : s_(store), rng_(seed) {}

  // One random operation; returns its status.
  absl::Status Step() {
    std::string queue = "q" + std::to_string(Pick(3));
    switch (Pick(12)) {
      case 0: {
        storage::QueueOptions o;
        o.name = queue;
        o.max_read_count = 2;
        o.visibility_timeout = absl::Milliseconds(Pick(50));
        return s_.CreateQueue(o).status();
      }
      case 1:
      case 2: {
        std::vector<storage::NewMessage> batch(1 + Pick(4));
        for (auto& m : batch) {
          m.payload_json = "{\"x\":" + std::to_string(Pick(1000)) + "}";
          m.priority = static_cast<int32_t>(Pick(3));
          if (Pick(3) == 0) m.dedup_key = "k" + std::to_string(Pick(20));
        }
        return s_.Enqueue(queue, batch, Pick(2) ? 0 : 1 + Pick(6)).status();
      }
      case 3:
      case 4:
        return DequeueAndSettle(queue);
      case 5: {
        storage::WorkerRegistration reg;
        reg.name = "w" + std::to_string(Pick(6));
        reg.queue = queue;
        return s_.RegisterWorker(reg).status();
      }
      case 6:
        return s_.ShutdownWorker(1 + Pick(6), Pick(2)).status();
      case 7:
        return s_.ReclaimWorkers("", absl::Milliseconds(Pick(20))).status();
      case 8:
        return s_.ReapMessages(absl::Milliseconds(Pick(20)), static_cast<int32_t>(1 + Pick(50)))
            .status();
      case 9:
        return Pick(8) == 0 ? s_.DeleteQueue(queue, /*force=*/true)
                            : s_.Redrive(queue, {}).status();
      case 10:
        return RunWorkflow();
      default:
        return s_.GetQueueCounts(queue).status();
    }
  }

 private:
  int64_t Pick(int64_t n) { return std::uniform_int_distribution<int64_t>(0, n - 1)(rng_); }

  absl::Status DequeueAndSettle(const std::string& queue) {
    storage::DequeueOptions o;
    o.max_messages = static_cast<int32_t>(1 + Pick(3));
    o.visibility_timeout = absl::Milliseconds(1 + Pick(30));
    o.consumer_worker_id = Pick(2) ? 0 : 1 + Pick(6);
    auto leased = s_.Dequeue(queue, o);
    if (!leased.ok()) return leased.status();
    for (const storage::Message& m : *leased) {
      std::vector<storage::Lease> one = {*m.lease};
      absl::Status s;
      switch (Pick(4)) {
        case 0:
          s = s_.Ack(queue, one).status();
          break;
        case 1:
          s = s_.Nack(queue, one, absl::Milliseconds(Pick(10))).status();
          break;
        case 2:
          s = s_.Delete(queue, one).status();
          break;
        default:
          break;  // let the lease expire
      }
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status RunWorkflow() {
    storage::WorkflowOptions flow;
    flow.name = "flow";
    flow.if_not_exists = true;
    if (absl::Status s = s_.CreateWorkflow(flow).status(); !s.ok()) return s;
    if (Pick(2))
      return s_.StartRun({"flow", "{}", Pick(2) ? "" : "key" + std::to_string(Pick(9))}).status();
    storage::ClaimOptions o;
    o.visibility_timeout = absl::Milliseconds(1 + Pick(50));
    auto claim = s_.ClaimRun("flow", o);
    if (!claim.ok() || !claim->run) return claim.status();
    storage::RunLease lease{claim->run->id, claim->lease};
    if (Pick(4) == 0) return s_.CancelRun(lease.run_id).status();
    auto begun = s_.BeginStep(lease, "s" + std::to_string(Pick(2)));
    if (!begun.ok() || begun->outcome != storage::StepOutcome::kStarted) return begun.status();
    if (absl::Status s = s_.CompleteStep(lease, begun->step.name, "{}").status(); !s.ok()) {
      return s;
    }
    return Pick(2) ? s_.CompleteRun(lease, "{}").status()
                   : s_.PauseRun(lease, absl::Milliseconds(Pick(20))).status();
  }

  storage::Store& s_;
  std::mt19937 rng_;
};

TEST_CASE("a mixed workload on engine:// leaves a file sqlite3 finds sound", "[engine][mixed]") {
  const char* tmp = std::getenv("TEST_TMPDIR");
  REQUIRE(tmp != nullptr);
  const char* env = std::getenv("PGQRS_INTEGRITY_SECONDS");
  const absl::Duration budget = absl::Seconds(env ? std::atoi(env) : 3);
  const std::string path = std::string(tmp) + "/mixed.db";
  std::atomic<int64_t> ops{0}, unexpected{0};
  std::string first_unexpected;
  std::mutex mu;
  storage::SystemCounts counts;
  {
    auto store = Ok(storage::OpenStore("engine://" + path + "?cache_pages=64", {}));
    Ok(store->Migrate());
    const absl::Time deadline = absl::Now() + budget;
    std::vector<std::thread> threads;
    for (uint32_t t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        Mix mix(*store, std::random_device{}() + t);
        while (absl::Now() < deadline) {
          absl::Status s = mix.Step();
          ++ops;
          if (!Expected(s)) {
            std::lock_guard<std::mutex> lock(mu);
            if (unexpected++ == 0) first_unexpected = s.ToString();
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    storage::VerifyReport report = Ok(store->Verify());
    INFO((report.problems.empty() ? std::string() : report.problems[0]));
    CHECK(report.problems.empty());
    counts = Ok(store->GetSystemCounts());
  }
  INFO(first_unexpected);
  CHECK(unexpected == 0);
  CHECK(ops > 100);
  CHECK(SqliteIntegrityCheck(path) == std::vector<std::string>{"ok"});
  CHECK(SqliteForeignKeyCheck(path).empty());
  // sqlite3 sees the rows the store counted.
  auto rows = SqliteRows(path,
                         "SELECT (SELECT count(*) FROM pgqrs_queues), "
                         "(SELECT count(*) FROM pgqrs_workers)");
  CHECK(rows == std::vector<std::string>{absl::StrCat(counts.queues, "|", counts.workers)});
}

}  // namespace
}  // namespace pgqrs::testing
