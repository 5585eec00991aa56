// Conformance: queue lifecycle and the schema calls.
#include <atomic>
#include <optional>
#include <thread>

#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {
namespace {

using storage::QueueOptions;

TEST_CASE("migrate is idempotent and verify finds nothing wrong", "[conformance][schema]") {
  auto store = NewTestStore();
  storage::MigrationReport again = Ok(store->Migrate());
  CHECK(again.applied.empty());
  CHECK(again.schema_version >= 1);
  storage::VerifyReport report = Ok(store->Verify());
  CHECK(report.problems.empty());
  CHECK(report.schema_version == again.schema_version);
}

TEST_CASE("queues are created once, listed in name order and paged", "[conformance][queue]") {
  auto store = NewTestStore();
  for (const char* name : {"charlie", "alpha", "bravo"}) MakeQueue(*store, name);

  QueueOptions dup;
  dup.name = "alpha";
  CHECK(store->CreateQueue(dup).status().code() == absl::StatusCode::kAlreadyExists);
  dup.if_not_exists = true;
  CHECK(Ok(store->CreateQueue(dup)).name == "alpha");

  auto first = Ok(store->ListQueues("", 2));
  REQUIRE(first.size() == 2);
  CHECK(first[0].name == "alpha");
  CHECK(first[1].name == "bravo");
  auto rest = Ok(store->ListQueues(first.back().name, 2));
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].name == "charlie");

  storage::QueueInfo got = Ok(store->GetQueue("bravo"));
  CHECK(got.max_read_count == 5);
  CHECK(got.visibility_timeout == absl::Seconds(30));
  CHECK(store->GetQueue("nope").status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("delete refuses a queue with messages unless forced", "[conformance][queue]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  EnqueueOne(*store, "q", R"({"n":1})");
  auto refused = store->DeleteQueue("q", false);
  CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Ok(store->GetQueue("q")).name == "q");

  RequireOk(store->DeleteQueue("q", true));
  CHECK(store->GetQueue("q").status().code() == absl::StatusCode::kNotFound);
  CHECK(store->DeleteQueue("q", true).code() == absl::StatusCode::kNotFound);
}

TEST_CASE("a deleted queue's name is free for a new queue with its own settings",
          "[conformance][queue]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q", /*max_read_count=*/5);
  EnqueueOne(*store, "q", R"({"n":1})");
  std::vector<storage::Message> got = DequeueN(*store, "q", 1);
  REQUIRE(got.size() == 1);
  CHECK(AckOne(*store, "q", *got[0].lease) == storage::LeaseOutcome::kOk);
  RequireOk(store->DeleteQueue("q", true));

  std::vector<storage::NewMessage> batch = {Msg("{}")};
  CHECK(store->Enqueue("q", batch, 0).status().code() == absl::StatusCode::kNotFound);
  storage::DequeueOptions options;
  CHECK(store->Dequeue("q", options).status().code() == absl::StatusCode::kNotFound);

  // The new queue lets a message be read once: its second expiry dead-letters it.
  MakeQueue(*store, "q", /*max_read_count=*/1);
  int64_t id = EnqueueOne(*store, "q", R"({"n":2})");
  got = DequeueN(*store, "q", 1, /*vt=*/absl::Milliseconds(1));
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == id);
  absl::SleepFor(absl::Milliseconds(20));
  CHECK(DequeueN(*store, "q", 1).empty());
  storage::QueueCounts counts = Ok(store->GetQueueCounts("q"));
  CHECK(counts.dead == 1);
}

TEST_CASE("delete refuses a queue with live workers unless forced", "[conformance][queue]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  storage::WorkerRegistration reg;
  reg.name = "w";
  reg.queue = "q";
  Ok(store->RegisterWorker(reg));
  CHECK(store->DeleteQueue("q", false).code() == absl::StatusCode::kFailedPrecondition);
  RequireOk(store->DeleteQueue("q", true));
  CHECK(Ok(store->ListWorkers({})).empty());
}

TEST_CASE("purge removes every message and keeps the queue", "[conformance][queue]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  for (int i = 0; i < 3; ++i) EnqueueOne(*store, "q", "{}");
  DequeueN(*store, "q", 1);
  CHECK(Ok(store->PurgeQueue("q")) == 3);
  storage::QueueCounts counts = Ok(store->GetQueueCounts("q"));
  CHECK(counts.pending + counts.in_flight + counts.delayed == 0);
  RequireOk(store->DeleteQueue("q", false));
}

TEST_CASE("an embedded store counts its writes in its group-commit statistics",
          "[conformance][queue]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  std::optional<storage::CommitStats> before = store->GetCommitStats();
  if (!before) {
    WARN("this store commits elsewhere (PostgreSQL) and reports no commit statistics");
    CHECK_FALSE(store->GetCommitStats().has_value());
    return;
  }
  // Concurrent writers, so commits can be shared; assertions stay on this thread.
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      std::vector<storage::NewMessage> one = {Msg("{}")};
      for (int i = 0; i < 5; ++i) {
        if (!store->Enqueue("q", one, 0).ok()) ++failed;
      }
    });
  }
  for (std::thread& w : writers) w.join();
  REQUIRE(failed == 0);
  storage::CommitStats after = *store->GetCommitStats();
  // Every enqueue is in some durable commit; a commit holds at least one.
  CHECK(after.batch_sizes.sum - before->batch_sizes.sum >= 20);
  uint64_t commits = after.batch_sizes.count() - before->batch_sizes.count();
  CHECK(commits >= 1);
  CHECK(commits <= 20 + 20);  // at most one extra write per call (e.g. a sequence)
  CHECK(after.sync_seconds.count() - before->sync_seconds.count() == commits);
}

TEST_CASE("system counts add up queues, workers and messages", "[conformance][queue]") {
  auto store = NewTestStore();
  MakeQueue(*store, "a");
  MakeQueue(*store, "b");
  EnqueueOne(*store, "a", "1");
  EnqueueOne(*store, "b", "2");
  DequeueN(*store, "b", 1);
  storage::SystemCounts counts = Ok(store->GetSystemCounts());
  CHECK(counts.queues == 2);
  CHECK(counts.messages.pending == 1);
  CHECK(counts.messages.in_flight == 1);
}

}  // namespace
}  // namespace pgqrs::testing
