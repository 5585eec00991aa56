// Conformance: retention deletes finished runs and stopped workers past their age, in
// bounded batches, and leaves everything that still refers to them consistent.
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {
namespace {

using storage::RetentionPolicy;
using storage::RetentionReport;

RetentionPolicy Keep(absl::Duration runs, absl::Duration workers) {
  RetentionPolicy policy;
  policy.runs = runs;
  policy.workers = workers;
  return policy;
}

// Calls DeleteOldHistory until nothing more is due; checks every batch's bound.
RetentionReport DeleteAllDue(storage::Store& store, const RetentionPolicy& policy, int32_t batch,
                             int* batches) {
  RetentionReport total;
  *batches = 0;
  bool more = true;
  while (more) {
    RetentionReport r = Ok(store.DeleteOldHistory(policy, batch));
    CHECK(r.runs_deleted <= batch);
    CHECK(r.workers_deleted <= batch);
    total.runs_deleted += r.runs_deleted;
    total.workers_deleted += r.workers_deleted;
    more = r.more;
    REQUIRE(++*batches <= 10);
  }
  return total;
}

storage::WorkerRegistration Worker(const std::string& name, const std::string& queue,
                                   storage::WorkerRole role) {
  storage::WorkerRegistration reg;
  reg.name = name;
  reg.queue = queue;
  reg.role = role;
  return reg;
}

TEST_CASE("retention deletes finished runs with their steps, in bounded batches",
          "[conformance][retention]") {
  auto store = NewTestStore();
  storage::WorkflowOptions wf;
  wf.name = "wf";
  Ok(store->CreateWorkflow(wf));
  int64_t done = Ok(store->StartRun({"wf", R"({"n":0})", "k0"})).run.id;
  storage::ClaimResult claim = Ok(store->ClaimRun("wf", {}));
  REQUIRE(claim.run.has_value());
  storage::RunLease lease{done, claim.lease};
  for (const char* step : {"a", "b"}) {
    Ok(store->BeginStep(lease, step));
    Ok(store->CompleteStep(lease, step, "1"));
  }
  Ok(store->CompleteRun(lease, "{}"));
  for (int i = 1; i <= 4; ++i) {
    int64_t id = Ok(store->StartRun({"wf", "{}", "k" + std::to_string(i)})).run.id;
    Ok(store->CancelRun(id));
  }
  int64_t live = Ok(store->StartRun({"wf", "{}", "live"})).run.id;

  CHECK(Ok(store->DeleteOldHistory(Keep(absl::Hours(1), absl::Hours(1)), 2)).runs_deleted == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  int batches = 0;
  RetentionReport total =
      DeleteAllDue(*store, Keep(absl::Milliseconds(10), absl::Hours(1)), 2, &batches);
  CHECK(total.runs_deleted == 5);
  CHECK(batches == 3);
  CHECK(store->GetRun(done).status().code() == absl::StatusCode::kNotFound);
  CHECK(store->ListSteps(StepsOf(done)).status().code() == absl::StatusCode::kNotFound);
  CHECK(Ok(store->GetRun(live)).status == storage::RunStatus::kQueued);
  // The deleted run's idempotency key is free again: another input starts a new run.
  storage::StartRunResult again = Ok(store->StartRun({"wf", R"({"n":1})", "k0"}));
  CHECK(again.created);
  CHECK(again.run.id != done);
  CHECK(Ok(store->Verify()).problems.empty());
}

TEST_CASE("retention deletes stopped workers and clears what refers to them",
          "[conformance][retention]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  storage::WorkflowOptions wf;
  wf.name = "wf";
  Ok(store->CreateWorkflow(wf));
  int64_t producer = Ok(store->RegisterWorker(Worker("p", "q", storage::WorkerRole::kProducer))).id;
  std::vector<storage::NewMessage> batch = {Msg("1"), Msg("2"), Msg("3")};
  std::vector<int64_t> sent = Ok(store->Enqueue("q", batch, producer));
  int64_t claimer = Ok(store->RegisterWorker(Worker("c", "wf", storage::WorkerRole::kConsumer))).id;
  int64_t run = Ok(store->StartRun({"wf", "{}", ""})).run.id;
  storage::ClaimOptions claim;
  claim.worker_id = claimer;
  REQUIRE(Ok(store->ClaimRun("wf", claim)).run.has_value());
  CHECK(Ok(store->GetRun(run)).worker_id == claimer);
  int64_t alive =
      Ok(store->RegisterWorker(Worker("alive", "q", storage::WorkerRole::kConsumer))).id;
  Ok(store->ShutdownWorker(producer, false));
  Ok(store->ShutdownWorker(claimer, true));

  CHECK(Ok(store->DeleteOldHistory(Keep(absl::Hours(1), absl::Hours(1)), 2)).workers_deleted == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  int batches = 0;
  RetentionReport total =
      DeleteAllDue(*store, Keep(absl::Hours(1), absl::Milliseconds(10)), 2, &batches);
  CHECK(total.workers_deleted == 2);
  CHECK(store->GetWorker(producer).status().code() == absl::StatusCode::kNotFound);
  CHECK(store->GetWorker(claimer).status().code() == absl::StatusCode::kNotFound);
  CHECK(Ok(store->GetWorker(alive)).status == storage::WorkerStatus::kReady);
  // The messages and the run carry on without the worker.
  CHECK(Ok(store->GetMessages("q", sent)).size() == 3);
  CHECK(DequeueN(*store, "q", 3).size() == 3);
  CHECK(Ok(store->GetRun(run)).worker_id == 0);
  CHECK(Ok(store->ClaimRun("wf", {})).run.has_value());
  // The name registers again, as a new worker.
  CHECK(Ok(store->RegisterWorker(Worker("p", "q", storage::WorkerRole::kProducer))).id != producer);
  CHECK(Ok(store->Verify()).problems.empty());
}

}  // namespace
}  // namespace pgqrs::testing
