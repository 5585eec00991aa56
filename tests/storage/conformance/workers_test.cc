// Conformance: worker registration, the state machine, shutdown and reclaim.
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {
namespace {

using storage::WorkerInfo;
using storage::WorkerMove;
using storage::WorkerRegistration;
using storage::WorkerRole;
using storage::WorkerStatus;

WorkerRegistration Consumer(const std::string& name, const std::string& queue) {
  WorkerRegistration reg;
  reg.name = name;
  reg.queue = queue;
  reg.role = WorkerRole::kConsumer;
  reg.hostname = "host-1";
  reg.labels = {{"zone", "a"}};
  return reg;
}

TEST_CASE("a worker registers once; a stopped name registers again", "[conformance][worker]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  WorkerInfo w = Ok(store->RegisterWorker(Consumer("w1", "q")));
  CHECK(w.status == WorkerStatus::kReady);
  CHECK(w.queue == "q");
  CHECK(w.labels.at("zone") == "a");
  CHECK(store->RegisterWorker(Consumer("w1", "q")).status().code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(store->RegisterWorker(Consumer("w2", "nope")).status().code() ==
        absl::StatusCode::kNotFound);

  Ok(store->ShutdownWorker(w.id, false));
  WorkerInfo again = Ok(store->RegisterWorker(Consumer("w1", "q")));
  CHECK(again.id == w.id);
  CHECK(again.status == WorkerStatus::kReady);
  CHECK_FALSE(again.shutdown_at.has_value());
}

TEST_CASE("the worker state machine allows its moves and refuses the rest",
          "[conformance][worker]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  int64_t id = Ok(store->RegisterWorker(Consumer("w", "q"))).id;
  auto code = [&](WorkerMove move) { return store->MoveWorker(id, move).status().code(); };

  CHECK(code(WorkerMove::kResume) == absl::StatusCode::kFailedPrecondition);
  CHECK(Ok(store->MoveWorker(id, WorkerMove::kInterrupt)).status == WorkerStatus::kInterrupted);
  CHECK(code(WorkerMove::kInterrupt) == absl::StatusCode::kFailedPrecondition);
  CHECK(Ok(store->MoveWorker(id, WorkerMove::kSuspend)).status == WorkerStatus::kSuspended);
  CHECK(code(WorkerMove::kSuspend) == absl::StatusCode::kFailedPrecondition);
  CHECK(code(WorkerMove::kInterrupt) == absl::StatusCode::kFailedPrecondition);
  CHECK(Ok(store->MoveWorker(id, WorkerMove::kResume)).status == WorkerStatus::kReady);
  CHECK(Ok(store->Heartbeat(id)).status == WorkerStatus::kReady);

  Ok(store->ShutdownWorker(id, false));
  CHECK(code(WorkerMove::kSuspend) == absl::StatusCode::kFailedPrecondition);
  CHECK(code(WorkerMove::kResume) == absl::StatusCode::kFailedPrecondition);
  CHECK(store->ShutdownWorker(id, false).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Ok(store->Heartbeat(id)).status == WorkerStatus::kStopped);
  CHECK(store->MoveWorker(id + 99, WorkerMove::kSuspend).status().code() ==
        absl::StatusCode::kNotFound);
}

TEST_CASE("a consumer polls; a suspended one may not dequeue", "[conformance][worker]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  MakeQueue(*store, "other");
  int64_t id = Ok(store->RegisterWorker(Consumer("w", "q"))).id;
  EnqueueOne(*store, "q", R"("x")");
  CHECK(DequeueN(*store, "q", 1, absl::Seconds(30), id).size() == 1);
  WorkerInfo w = Ok(store->GetWorker(id));
  CHECK(w.status == WorkerStatus::kPolling);
  CHECK(w.leased_messages == 1);

  storage::DequeueOptions options;
  options.consumer_worker_id = id;
  CHECK(store->Dequeue("other", options).status().code() == absl::StatusCode::kInvalidArgument);
  Ok(store->MoveWorker(id, WorkerMove::kSuspend));
  CHECK(store->Dequeue("q", options).status().code() == absl::StatusCode::kFailedPrecondition);
  options.consumer_worker_id = id + 99;
  CHECK(store->Dequeue("q", options).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("shutdown refuses a worker holding leases unless told to release them",
          "[conformance][worker]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  int64_t id = Ok(store->RegisterWorker(Consumer("w", "q"))).id;
  int64_t msg = EnqueueOne(*store, "q", R"("x")");
  auto leased = DequeueN(*store, "q", 1, absl::Seconds(30), id);
  CHECK(store->ShutdownWorker(id, false).status().code() == absl::StatusCode::kFailedPrecondition);
  WorkerInfo stopped = Ok(store->ShutdownWorker(id, true));
  CHECK(stopped.status == WorkerStatus::kStopped);
  CHECK(stopped.leased_messages == 0);
  CHECK(stopped.shutdown_at.has_value());
  storage::Message m = GetOne(*store, "q", msg);
  CHECK(m.state == storage::MessageState::kPending);
  CHECK(m.read_count == 1);
  CHECK(AckOne(*store, "q", *leased[0].lease) == storage::LeaseOutcome::kLeaseLost);
}

TEST_CASE("reclaim stops silent workers and releases their leases", "[conformance][worker]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  int64_t silent = Ok(store->RegisterWorker(Consumer("silent", "q"))).id;
  int64_t msg = EnqueueOne(*store, "q", R"("x")");
  DequeueN(*store, "q", 1, absl::Seconds(30), silent);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int64_t alive = Ok(store->RegisterWorker(Consumer("alive", "q"))).id;

  storage::ReclaimReport report = Ok(store->ReclaimWorkers("", absl::Milliseconds(200)));
  CHECK(report.workers_stopped == 1);
  CHECK(report.messages_released == 1);
  CHECK(report.queues_with_released == std::vector<std::string>{"q"});
  CHECK(Ok(store->GetWorker(silent)).status == WorkerStatus::kStopped);
  CHECK(Ok(store->GetWorker(alive)).status == WorkerStatus::kReady);
  storage::Message m = GetOne(*store, "q", msg);
  CHECK(m.state == storage::MessageState::kPending);
  CHECK(m.read_count == 1);
  CHECK(Ok(store->ReclaimWorkers("", absl::Milliseconds(200))).workers_stopped == 0);
}

TEST_CASE("workers list by queue and status", "[conformance][worker]") {
  auto store = NewTestStore();
  MakeQueue(*store, "a");
  MakeQueue(*store, "b");
  Ok(store->RegisterWorker(Consumer("w1", "a")));
  int64_t w2 = Ok(store->RegisterWorker(Consumer("w2", "b"))).id;
  WorkerRegistration admin;
  admin.name = "ops";
  admin.role = WorkerRole::kAdmin;
  Ok(store->RegisterWorker(admin));
  Ok(store->MoveWorker(w2, WorkerMove::kSuspend));

  CHECK(Ok(store->ListWorkers({})).size() == 3);
  storage::WorkerFilter by_queue;
  by_queue.queue = "b";
  auto in_b = Ok(store->ListWorkers(by_queue));
  REQUIRE(in_b.size() == 1);
  CHECK(in_b[0].name == "w2");
  storage::WorkerFilter suspended;
  suspended.status = WorkerStatus::kSuspended;
  CHECK(Ok(store->ListWorkers(suspended)).size() == 1);
}

TEST_CASE("workers list in id-ordered pages", "[conformance][worker]") {
  auto store = NewTestStore();
  MakeQueue(*store, "a");
  MakeQueue(*store, "b");
  std::vector<int64_t> in_a;
  for (int i = 0; i < 7; ++i) {
    in_a.push_back(Ok(store->RegisterWorker(Consumer("a" + std::to_string(i), "a"))).id);
    Ok(store->RegisterWorker(Consumer("b" + std::to_string(i), "b")));
  }
  storage::WorkerFilter page;
  page.queue = "a";
  page.limit = 3;
  std::vector<int64_t> seen;
  std::vector<size_t> sizes;
  while (true) {
    std::vector<WorkerInfo> got = Ok(store->ListWorkers(page));
    sizes.push_back(got.size());
    for (const WorkerInfo& w : got) {
      CHECK(w.queue == "a");
      seen.push_back(w.id);
    }
    if (got.size() < static_cast<size_t>(page.limit)) break;
    page.after_id = got.back().id;
  }
  CHECK(sizes == std::vector<size_t>{3, 3, 1});
  CHECK(seen == in_a);
  storage::WorkerFilter all;
  all.limit = 5;
  CHECK(Ok(store->ListWorkers(all)).size() == 5);
  all.after_id = in_a.back();
  CHECK(Ok(store->ListWorkers(all)).size() == 1);
}

TEST_CASE("a producer must belong to the queue it sends to", "[conformance][worker]") {
  auto store = NewTestStore();
  MakeQueue(*store, "a");
  MakeQueue(*store, "b");
  WorkerRegistration reg = Consumer("p", "a");
  reg.role = WorkerRole::kProducer;
  int64_t id = Ok(store->RegisterWorker(reg)).id;
  std::vector<storage::NewMessage> batch = {Msg("1")};
  CHECK(Ok(store->Enqueue("a", batch, id)).size() == 1);
  CHECK(store->Enqueue("b", batch, id).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(store->Enqueue("a", batch, id + 99).status().code() == absl::StatusCode::kNotFound);
  CHECK(Ok(store->GetQueueCounts("b")).pending == 0);
}

TEST_CASE("the message reaper dead-letters expired final leases", "[conformance][reaper]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q", 1);
  EnqueueOne(*store, "q", R"("x")");
  EnqueueOne(*store, "q", R"("y")");
  DequeueN(*store, "q", 2, absl::Milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  storage::ReapReport report = Ok(store->ReapMessages(absl::Hours(24), 1000));
  CHECK(report.leases_expired == 2);
  CHECK(report.dead_lettered == 2);
  CHECK(Ok(store->ReapMessages(absl::Hours(24), 1000)).leases_expired == 0);
}

TEST_CASE("the message reaper removes archived messages past retention", "[conformance][reaper]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  EnqueueOne(*store, "q", R"("x")");
  auto leased = DequeueN(*store, "q", 1);
  AckOne(*store, "q", *leased[0].lease);
  CHECK(Ok(store->ReapMessages(absl::Hours(1), 1000)).archived_deleted == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(Ok(store->ReapMessages(absl::Milliseconds(10), 1000)).archived_deleted == 1);
  CHECK(Ok(store->GetQueueCounts("q")).archived == 0);
}

TEST_CASE("visible-message probe names only queues with visible messages",
          "[conformance][reaper]") {
  auto store = NewTestStore();
  MakeQueue(*store, "a");
  MakeQueue(*store, "b");
  EnqueueOne(*store, "a", R"("x")");
  std::vector<storage::NewMessage> later = {Msg(R"("y")", 0, absl::Seconds(60))};
  Ok(store->Enqueue("b", later, 0));
  std::vector<std::string> names = {"a", "b", "missing"};
  CHECK(Ok(store->QueuesWithVisibleMessages(names)) == std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace pgqrs::testing
