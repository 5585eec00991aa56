// A caller that is gone gets nothing done for it: calls still queued for the executor are
// skipped, and a Dequeue never leaves messages leased to a cancelled call.
#include <sqlite3.h>

#include <thread>

#include "tests/server/in_process.h"

namespace pgqrs::testing {
namespace {

// Time for the server to learn of a client's cancellation over loopback.
constexpr auto kCancelReachesServer = std::chrono::milliseconds(300);

std::string TempDb(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::remove(path.c_str());
  return path;
}

void CreateQueue(storage::Store& store, const std::string& name) {
  storage::QueueOptions options;
  options.name = name;
  REQUIRE(store.CreateQueue(options).ok());
}

int64_t EnqueueOne(storage::Store& store, const std::string& queue) {
  std::vector<storage::NewMessage> batch(1);
  batch[0].payload_json = "1";
  auto ids = store.Enqueue(queue, batch, 0);
  REQUIRE(ids.ok());
  return ids->at(0);
}

storage::Message Get(storage::Store& store, const std::string& queue, int64_t id) {
  std::vector<int64_t> ids = {id};
  auto found = store.GetMessages(queue, ids);
  REQUIRE(found.ok());
  REQUIRE(found->size() == 1);
  return found->at(0);
}

// A Dequeue running on its own thread, cancelled by the test.
struct PendingDequeue {
  PendingDequeue(v1::QueueService::Stub& stub, const std::string& queue, int64_t wait_ms) {
    request.set_queue(queue);
    request.set_wait_ms(wait_ms);
    thread = std::thread([this, &stub] { status = stub.Dequeue(&context, request, &response); });
  }
  // Cancels the call and waits until the client has given up on it.
  void Cancel() {
    context.TryCancel();
    thread.join();
  }
  grpc::ClientContext context;
  v1::DequeueRequest request;
  v1::DequeueResponse response;
  grpc::Status status;
  std::thread thread;
};

TEST_CASE("a call whose deadline passed while it waited for the executor is not run",
          "[server][cancel]") {
  InProcessServer server("sqlite::memory:");
  CreateQueue(server.store(), "q");
  auto release = server.Block();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  v1::EnqueueRequest request;
  request.set_queue("q");
  request.add_messages()->set_payload_json("1");
  v1::EnqueueResponse response;
  grpc::Status status = server.queues->Enqueue(&context, request, &response);
  CHECK(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server's copy of the deadline is a little later (it counts from receipt).
  std::this_thread::sleep_for(kCancelReachesServer);
  release->Notify();
  server.Drain();
  auto counts = server.store().GetQueueCounts("q");
  REQUIRE(counts.ok());
  CHECK(counts->pending == 0);
}

TEST_CASE("a long-poll woken while its call is cancelled leases nothing", "[server][cancel]") {
  InProcessServer server("sqlite::memory:");
  CreateQueue(server.store(), "q");
  PendingDequeue call(*server.queues, "q", /*wait_ms=*/20000);
  REQUIRE(WaitUntil([&] { return server.waiters().parked() == 1; }));
  auto release = server.Block();
  int64_t id = EnqueueOne(server.store(), "q");
  server.waiters().Notify("q", 1);  // the wake-up now waits behind the blocked executor
  call.Cancel();
  std::this_thread::sleep_for(kCancelReachesServer);
  release->Notify();
  server.Drain();
  server.Drain();
  CHECK(call.status.error_code() == grpc::StatusCode::CANCELLED);
  storage::Message m = Get(server.store(), "q", id);
  CHECK(m.state == storage::MessageState::kPending);
  CHECK(m.read_count == 0);
}

TEST_CASE("leases taken for a call cancelled during its Dequeue are returned at once",
          "[server][cancel]") {
  std::string path = TempDb("cancel-during-dequeue.db");
  InProcessServer server("sqlite://" + path);
  CreateQueue(server.store(), "q");
  int64_t id = EnqueueOne(server.store(), "q");
  // Another connection holds the write lock, so the Dequeue waits inside the store.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  PendingDequeue call(*server.queues, "q", /*wait_ms=*/0);
  std::this_thread::sleep_for(kCancelReachesServer);  // the Dequeue is in the store now
  call.Cancel();
  std::this_thread::sleep_for(kCancelReachesServer);
  REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  server.Drain();  // the Dequeue has run
  server.Drain();  // and what it queued
  CHECK(call.status.error_code() == grpc::StatusCode::CANCELLED);
  storage::Message m = Get(server.store(), "q", id);
  CHECK(m.state == storage::MessageState::kPending);
  CHECK(m.read_count == 0);
}

}  // namespace
}  // namespace pgqrs::testing
