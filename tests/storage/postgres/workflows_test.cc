// Postgres-specific: workflows on two stores sharing one schema, like two daemons. A run
// is claimed by one worker at a time, cancels race lease-holder writes without losing
// either, and StartRun wakes parked ClaimRun calls on the other store.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/postgres/pg_test_env.h"

namespace pgqrs::testing {
namespace {

using storage::ClaimResult;
using storage::RunLease;
using storage::RunStatus;
using storage::Store;

struct Pair {
  std::unique_ptr<Store> a;
  std::unique_ptr<Store> b;
};

Pair TwoStores() {
  std::string dsn = TestDsn();
  std::string schema = FreshSchema();
  return {OpenMigrated(dsn, schema), OpenMigrated(dsn, schema)};
}

storage::WorkflowOptions Workflow(const std::string& name) {
  storage::WorkflowOptions options;
  options.name = name;
  return options;
}

// Claims and finishes runs until none is claimable; returns the ids it claimed. A run
// cancelled under it ends its work with CANCELLED, which is not an error.
std::vector<int64_t> Drain(Store& store, std::atomic<int>& errors) {
  std::vector<int64_t> claimed;
  while (true) {
    absl::StatusOr<ClaimResult> got = store.ClaimRun("wf", {});
    if (!got.ok()) {
      ++errors;
      continue;
    }
    if (!got->run) return claimed;
    claimed.push_back(got->run->id);
    RunLease lease{got->run->id, got->lease};
    absl::Status status = store.BeginStep(lease, "only").status();
    if (status.ok()) status = store.CompleteStep(lease, "only", "1").status();
    if (status.ok()) status = store.CompleteRun(lease, "{}").status();
    if (!status.ok() && !absl::IsCancelled(status)) ++errors;
  }
}

TEST_CASE("two stores claim every run once while cancels race the lease holders",
          "[postgres][workflow]") {
  Pair s = TwoStores();
  Ok(s.a->CreateWorkflow(Workflow("wf")));
  constexpr int kRuns = 120;
  std::vector<int64_t> ids;
  for (int i = 0; i < kRuns; ++i) ids.push_back(Ok(s.a->StartRun({"wf", "{}", ""})).run.id);

  std::atomic<int> errors{0};
  std::mutex mu;
  std::multiset<int64_t> claimed;
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      std::vector<int64_t> mine = Drain(i % 2 == 0 ? *s.a : *s.b, errors);
      std::lock_guard<std::mutex> lock(mu);
      claimed.insert(mine.begin(), mine.end());
    });
  }
  threads.emplace_back([&] {  // cancels every third run, wherever it is
    for (int i = 0; i < kRuns; i += 3) {
      absl::Status status = s.b->CancelRun(ids[i]).status();
      if (!status.ok() && !absl::IsFailedPrecondition(status)) ++errors;  // already done
    }
  });
  for (auto& t : threads) t.join();
  CHECK(errors == 0);
  CHECK(std::set<int64_t>(claimed.begin(), claimed.end()).size() == claimed.size());

  int succeeded = 0;
  for (int64_t id : ids) {
    storage::RunInfo run = Ok(s.a->GetRun(id));
    INFO("run " << id << " status " << static_cast<int>(run.status));
    // A cancel that met a live lease leaves CANCELLING only if no write followed; every
    // claimed run was written to, and unclaimed ones were cancelled at once.
    CHECK((run.status == RunStatus::kSucceeded || run.status == RunStatus::kCancelled));
    if (run.status == RunStatus::kSucceeded) ++succeeded;
  }
  CHECK(succeeded >= kRuns - (kRuns + 2) / 3);
  CHECK(Ok(s.a->GetQueueCounts("wf")).pending == 0);
  CHECK(Ok(s.a->GetQueueCounts("wf")).in_flight == 0);
  CHECK(Ok(s.a->Verify()).problems.empty());
}

TEST_CASE("StartRun and an immediate PauseRun wake the other store's ClaimRun waiters",
          "[postgres][workflow][wake]") {
  std::mutex mu;  // both outlive the stores, whose listener threads call the handler
  std::vector<std::string> wakes;
  Pair s = TwoStores();
  s.a->SetRemoteWakeHandler([&](const std::string& queue) {
    std::lock_guard<std::mutex> lock(mu);
    wakes.push_back(queue);
  });
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return std::count(wakes.begin(), wakes.end(), "wf");
  };
  Ok(s.b->CreateWorkflow(Workflow("wf")));
  // The listener connects asynchronously; keep starting runs until it hears one.
  REQUIRE(WaitUntil(
      [&] {
        Ok(s.b->StartRun({"wf", "{}", ""}));
        return count() > 0;
      },
      std::chrono::seconds(15)));
  auto before = count();
  ClaimResult claimed = Ok(s.b->ClaimRun("wf", {}));
  REQUIRE(claimed.run.has_value());
  // A pause due at once makes the run claimable again, so it wakes waiters too.
  Ok(s.b->PauseRun({claimed.run->id, claimed.lease}, absl::ZeroDuration()));
  CHECK(WaitUntil([&] { return count() >= before + 1; }, std::chrono::seconds(15)));
}

}  // namespace
}  // namespace pgqrs::testing
