// Unary Enqueue and Ack calls, and the first tries of Dequeues, that wait together share one
// store call (server/call_groups.h): one durable commit for the whole group, and each call
// still gets exactly its own answer.
#include <array>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/server/in_process.h"

namespace pgqrs::testing {
namespace {

constexpr int kCalls = 5;

std::string TempDb(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::remove(path.c_str());
  std::remove((path + "-wal").c_str());
  return path;
}

// Commits the engine has made durable so far.
uint64_t DurableCommits(storage::Store& store) {
  std::optional<storage::CommitStats> stats = store.GetCommitStats();
  REQUIRE(stats.has_value());
  return static_cast<uint64_t>(stats->batch_sizes.sum);
}

// Runs `call(i)` for i in [0, kCalls) on threads while the server's only executor thread is
// held, so every call waits in its group for the executor, then lets them all run.
void CallTogether(InProcessServer& server, const std::function<void(int)>& call) {
  auto release = server.Block();
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) threads.emplace_back([&call, i] { call(i); });
  bool all_waiting =
      WaitUntil([&server] { return server.queue_service().grouped_calls_waiting() == kCalls; });
  release->Notify();
  for (std::thread& t : threads) t.join();
  REQUIRE(all_waiting);
}

TEST_CASE("enqueues that wait together are stored in one commit, each answered with its ids",
          "[server][groups]") {
  InProcessServer server("engine://" + TempDb("enqueue-groups.db"));
  storage::QueueOptions queue;
  queue.name = "q";
  REQUIRE(server.store().CreateQueue(queue).ok());
  // The first enqueue also reserves a block of message ids in a commit of its own.
  std::vector<storage::NewMessage> first(1);
  first[0].payload_json = "0";
  REQUIRE(server.store().Enqueue("q", first, 0).ok());
  const uint64_t commits_before = DurableCommits(server.store());

  std::array<grpc::Status, kCalls> statuses;
  std::array<v1::EnqueueResponse, kCalls> responses;
  CallTogether(server, [&](int i) {
    grpc::ClientContext context;
    v1::EnqueueRequest request;
    request.set_queue("q");
    for (int j = 0; j < 2; ++j) {
      request.add_messages()->set_payload_json(absl::StrCat("{\"call\":", i, ",\"n\":", j, "}"));
    }
    statuses[i] = server.queues->Enqueue(&context, request, &responses[i]);
  });

  CHECK(DurableCommits(server.store()) - commits_before == 1);
  for (int i = 0; i < kCalls; ++i) {
    REQUIRE(statuses[i].ok());
    REQUIRE(responses[i].message_ids_size() == 2);
    for (int j = 0; j < 2; ++j) {
      std::vector<int64_t> ids = {responses[i].message_ids(j)};
      auto found = server.store().GetMessages("q", ids);
      REQUIRE(found.ok());
      REQUIRE(found->size() == 1);
      CHECK(found->at(0).payload_json == absl::StrCat("{\"call\":", i, ",\"n\":", j, "}"));
    }
  }
}

TEST_CASE("acks that wait together are settled in one commit, each answered for its receipts",
          "[server][groups]") {
  InProcessServer server("engine://" + TempDb("ack-groups.db"));
  storage::QueueOptions queue;
  queue.name = "q";
  REQUIRE(server.store().CreateQueue(queue).ok());
  std::vector<storage::NewMessage> messages(kCalls);
  for (storage::NewMessage& m : messages) m.payload_json = "1";
  REQUIRE(server.store().Enqueue("q", messages, 0).ok());
  grpc::ClientContext dequeue_context;
  v1::DequeueRequest dequeue;
  dequeue.set_queue("q");
  dequeue.set_max_messages(kCalls);
  v1::DequeueResponse leased;
  REQUIRE(server.queues->Dequeue(&dequeue_context, dequeue, &leased).ok());
  REQUIRE(leased.messages_size() == kCalls);
  const uint64_t commits_before = DurableCommits(server.store());

  // The last call also sends a receipt the first call acks: one of the two acks finds it
  // settled already, and only that call's second result says so.
  std::array<grpc::Status, kCalls> statuses;
  std::array<v1::ReceiptResponse, kCalls> responses;
  CallTogether(server, [&](int i) {
    grpc::ClientContext context;
    v1::AckRequest request;
    request.set_queue("q");
    request.add_receipts(leased.messages(i).receipt());
    if (i == kCalls - 1) request.add_receipts(leased.messages(0).receipt());
    statuses[i] = server.queues->Ack(&context, request, &responses[i]);
  });

  CHECK(DurableCommits(server.store()) - commits_before == 1);
  int settled_twice = 0;
  for (int i = 0; i < kCalls; ++i) {
    REQUIRE(statuses[i].ok());
    REQUIRE(responses[i].results_size() == (i == kCalls - 1 ? 2 : 1));
    for (int r = 0; r < responses[i].results_size(); ++r) {
      settled_twice += responses[i].results(r) != v1::RECEIPT_RESULT_OK;
    }
  }
  CHECK(settled_twice == 1);
  auto counts = server.store().GetQueueCounts("q");
  REQUIRE(counts.ok());
  CHECK(counts->archived == kCalls);
  CHECK(counts->in_flight == 0);
}

TEST_CASE("dequeues that wait together lease in one commit; a call left empty parks and wakes",
          "[server][groups]") {
  InProcessServer server("engine://" + TempDb("dequeue-groups.db"));
  storage::QueueOptions queue;
  queue.name = "q";
  REQUIRE(server.store().CreateQueue(queue).ok());
  // Two messages fewer than the calls ask for: one call's first try leases nothing.
  std::vector<storage::NewMessage> messages(2 * (kCalls - 1));
  for (size_t i = 0; i < messages.size(); ++i) messages[i].payload_json = absl::StrCat(i);
  REQUIRE(server.store().Enqueue("q", messages, 0).ok());
  const uint64_t commits_before = DurableCommits(server.store());

  // Once the empty-handed call is parked, the message enqueued now wakes it, long before its
  // wait_ms.
  bool late_enqueued = false;
  bool parked = false;
  std::thread late([&server, &late_enqueued, &parked] {
    parked = WaitUntil([&server] { return server.waiters().parked() == 1; });
    std::vector<storage::NewMessage> late_message(1);
    late_message[0].payload_json = "\"late\"";
    late_enqueued = server.store().Enqueue("q", late_message, 0).ok();
    server.waiters().Notify("q", 1);
  });
  std::array<grpc::Status, kCalls> statuses;
  std::array<v1::DequeueResponse, kCalls> responses;
  CallTogether(server, [&](int i) {
    grpc::ClientContext context;
    v1::DequeueRequest request;
    request.set_queue("q");
    request.set_max_messages(2);
    request.set_wait_ms(30000);
    statuses[i] = server.queues->Dequeue(&context, request, &responses[i]);
  });
  late.join();

  REQUIRE(parked);
  REQUIRE(late_enqueued);
  // The first tries: one commit; the late message and the parked call's lease: two more.
  CHECK(DurableCommits(server.store()) - commits_before == 3);
  std::set<std::string> payloads;
  int woken = 0;
  for (int i = 0; i < kCalls; ++i) {
    REQUIRE(statuses[i].ok());
    for (const v1::Message& m : responses[i].messages()) payloads.insert(m.payload_json());
    if (responses[i].messages_size() == 1) {
      ++woken;
      CHECK(responses[i].messages(0).payload_json() == "\"late\"");
    } else {
      CHECK(responses[i].messages_size() == 2);
    }
  }
  CHECK(woken == 1);
  CHECK(payloads.size() == messages.size() + 1);
}

}  // namespace
}  // namespace pgqrs::testing
