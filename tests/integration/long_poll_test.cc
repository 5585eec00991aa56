// Long-polling Dequeue: parked calls wake on enqueue, time out empty, and cost no thread
// each.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <thread>

#include "tests/integration/client.h"

namespace pgqrs::testing {
namespace {

using Clock = std::chrono::steady_clock;

TEST_CASE("a long-poll returns shortly after another client enqueues", "[integration][poll]") {
  Daemon daemon({DsnFlag("poll.db")});
  Client consumer(daemon);
  Client producer(daemon);
  consumer.CreateQueue("q");

  auto start = Clock::now();
  std::thread enqueuer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    producer.Enqueue("q", {R"({"wake":true})"});
  });
  v1::DequeueResponse resp = consumer.Dequeue("q", 1, /*wait_ms=*/10000);
  auto waited = Clock::now() - start;
  enqueuer.join();
  REQUIRE(resp.messages_size() == 1);
  CHECK(resp.messages(0).payload_json() == R"({"wake":true})");
  CHECK(waited >= std::chrono::milliseconds(250));
  CHECK(waited < std::chrono::seconds(3));
}

TEST_CASE("a long-poll with nothing to take returns empty at its deadline",
          "[integration][poll]") {
  Daemon daemon({DsnFlag("poll-empty.db")});
  Client client(daemon);
  client.CreateQueue("q");
  auto start = Clock::now();
  CHECK(client.Dequeue("q", 1, /*wait_ms=*/500).messages_size() == 0);
  auto waited = Clock::now() - start;
  CHECK(waited >= std::chrono::milliseconds(450));
  CHECK(waited < std::chrono::seconds(5));
}

TEST_CASE("a long-poll wakes when a delayed message becomes visible", "[integration][poll]") {
  Daemon daemon({DsnFlag("poll-delay.db"),
                 "--visibility_reaper_interval_ms=100"});
  Client client(daemon);
  client.CreateQueue("q");
  v1::EnqueueRequest req;
  req.set_queue("q");
  auto* m = req.add_messages();
  m->set_payload_json("1");
  m->set_delay_ms(500);
  v1::EnqueueResponse resp;
  REQUIRE(client.Call(*client.queues, &v1::QueueService::Stub::Enqueue, req, &resp).ok());
  auto start = Clock::now();
  CHECK(client.Dequeue("q", 1, /*wait_ms=*/10000).messages_size() == 1);
  CHECK(Clock::now() - start < std::chrono::seconds(3));
}

TEST_CASE("1,000 parked long-polls do not add 1,000 threads, and all get a message",
          "[integration][poll]") {
  constexpr int kCalls = 1000;
  Daemon daemon({DsnFlag("poll-many.db")});
  Client client(daemon);
  client.CreateQueue("q");
  client.Enqueue("q", {"0"});
  client.Dequeue("q", 1);  // warm the daemon's thread pools before counting
  int threads_before = daemon.ThreadCount();

  grpc::CompletionQueue cq;
  struct Call {
    grpc::ClientContext context;
    v1::DequeueResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::DequeueResponse>> reader;
  };
  std::vector<std::unique_ptr<Call>> calls;
  v1::DequeueRequest req;
  req.set_queue("q");
  req.set_wait_ms(30000);
  for (int i = 0; i < kCalls; ++i) {
    auto call = std::make_unique<Call>();
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    call->reader = client.queues->AsyncDequeue(&call->context, req, &cq);
    call->reader->Finish(&call->response, &call->status, call.get());
    calls.push_back(std::move(call));
  }
  // Let them all arrive and park.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  int threads_parked = daemon.ThreadCount();
  WARN("daemon threads before: " << threads_before << ", with 1000 parked: " << threads_parked);
  CHECK(threads_parked - threads_before < 32);

  for (int i = 0; i < kCalls; i += 100) {
    std::vector<std::string> batch(100, R"({"n":1})");
    client.Enqueue("q", batch);
  }
  int delivered = 0;
  for (int i = 0; i < kCalls; ++i) {
    void* tag;
    bool ok;
    REQUIRE(cq.Next(&tag, &ok));
    Call* call = static_cast<Call*>(tag);
    REQUIRE(call->status.ok());
    delivered += call->response.messages_size();
  }
  CHECK(delivered == kCalls);
  cq.Shutdown();
}

TEST_CASE("shutdown answers parked long-polls at once", "[integration][poll]") {
  Daemon daemon({DsnFlag("poll-shutdown.db")});
  Client client(daemon);
  client.CreateQueue("q");
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    kill(daemon.pid(), SIGTERM);
  });
  auto start = Clock::now();
  v1::DequeueRequest req;
  req.set_queue("q");
  req.set_wait_ms(30000);
  v1::DequeueResponse resp;
  grpc::Status status = client.Call(*client.queues, &v1::QueueService::Stub::Dequeue, req, &resp);
  stopper.join();
  CHECK(status.ok());
  CHECK(resp.messages_size() == 0);
  CHECK(Clock::now() - start < std::chrono::seconds(5));
  CHECK(daemon.Stop(SIGTERM) == 0);
}

}  // namespace
}  // namespace pgqrs::testing
