// Limits against abuse on the real daemon: request size, parked long-polls per
// connection and in total, and the daemon's memory under many concurrent large requests.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <thread>

#include "tests/integration/client.h"

namespace pgqrs::testing {
namespace {

// An Enqueue of `messages` JSON strings of `payload_bytes` each.
v1::EnqueueRequest BigEnqueue(const std::string& queue, int messages, size_t payload_bytes) {
  v1::EnqueueRequest req;
  req.set_queue(queue);
  std::string payload = "\"" + std::string(payload_bytes - 2, 'x') + "\"";
  for (int i = 0; i < messages; ++i) req.add_messages()->set_payload_json(payload);
  return req;
}

// Peak resident set of a process (VmHWM), in bytes.
int64_t PeakRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

TEST_CASE("a 20 MiB Enqueue is refused by the default request cap, naming its flag",
          "[integration][limits]") {
  Daemon daemon({DsnFlag("big.db")});
  Client client(daemon);
  client.CreateQueue("q");
  v1::EnqueueRequest req = BigEnqueue("q", 80, 256 * 1024);  // 20 MiB
  REQUIRE(req.ByteSizeLong() > 20u << 20);
  v1::EnqueueResponse resp;
  grpc::Status status = client.Call(*client.queues, &v1::QueueService::Stub::Enqueue, req, &resp);
  INFO(status.error_message());
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(status.error_message().find("--max_request_bytes=16777216") != std::string::npos);
  CHECK(client.Stats("q").pending() == 0);
}

TEST_CASE("--max_request_bytes caps one request whatever its batch size", "[integration][limits]") {
  Daemon daemon({DsnFlag("cap.db"), "--max_request_bytes=100000"});
  Client client(daemon);
  client.CreateQueue("q");
  v1::EnqueueResponse resp;
  auto enqueue = [&](const v1::EnqueueRequest& req) {
    return client.Call(*client.queues, &v1::QueueService::Stub::Enqueue, req, &resp);
  };
  // Under the batch and payload limits, just over the byte cap: our message names the flag.
  v1::EnqueueRequest over = BigEnqueue("q", 4, 25000);
  REQUIRE(over.ByteSizeLong() > 100000u);
  REQUIRE(over.ByteSizeLong() < 101000u);
  grpc::Status status = enqueue(over);
  INFO(status.error_message());
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(status.error_message().find("--max_request_bytes=100000") != std::string::npos);
  // Just under twice the cap the request is still parsed and gets the same answer.
  v1::EnqueueRequest near_margin = BigEnqueue("q", 7, 28500);
  REQUIRE(near_margin.ByteSizeLong() < 200000u);
  status = enqueue(near_margin);
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(status.error_message().find("--max_request_bytes=100000") != std::string::npos);
  // Beyond twice the cap gRPC refuses it unread, in its own words (README, Limits).
  v1::EnqueueRequest far_over = BigEnqueue("q", 8, 30000);
  REQUIRE(far_over.ByteSizeLong() > 200000u);
  status = enqueue(far_over);
  INFO(status.error_message());
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(status.error_message().find("200000") != std::string::npos);
  CHECK(client.Stats("q").pending() == 0);
  // At the cap exactly it is accepted.
  v1::EnqueueRequest at_cap = BigEnqueue("q", 4, 24000);
  std::string padding(100000 - at_cap.ByteSizeLong(), 'x');
  at_cap.mutable_messages(0)->set_payload_json("\"" + std::string(23998 + padding.size(), 'x') +
                                               "\"");
  REQUIRE(at_cap.ByteSizeLong() == 100000u);
  CHECK(enqueue(at_cap).ok());
  CHECK(client.Stats("q").pending() == 4);
}

// Starts a Dequeue long-poll of `wait_ms` on `stub`; `done` is set when it finishes.
struct PendingPoll {
  grpc::ClientContext context;
  v1::DequeueRequest request;
  v1::DequeueResponse response;
  grpc::Status status;
  std::atomic<bool> done{false};
};

void StartPoll(v1::QueueService::Stub& stub, PendingPoll& poll, int64_t wait_ms) {
  poll.request.set_queue("q");
  poll.request.set_wait_ms(wait_ms);
  poll.context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  stub.async()->Dequeue(&poll.context, &poll.request, &poll.response, [&poll](grpc::Status s) {
    poll.status = std::move(s);
    poll.done = true;
  });
}

void WaitAll(std::vector<std::unique_ptr<PendingPoll>>& polls) {
  for (auto& p : polls) {
    while (!p->done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

grpc::Status PollNow(v1::QueueService::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::DequeueRequest req;
  req.set_queue("q");
  req.set_wait_ms(200);
  v1::DequeueResponse resp;
  return stub.Dequeue(&context, req, &resp);
}

TEST_CASE("long-polls beyond the per-connection cap are refused", "[integration][limits]") {
  Daemon daemon({DsnFlag("polls.db"), "--max_long_polls_per_connection=3", "--max_long_polls=5"});
  Client setup(daemon);
  setup.CreateQueue("q");
  auto channel_a = daemon.Channel();
  auto stub_a = v1::QueueService::NewStub(channel_a);
  std::vector<std::unique_ptr<PendingPoll>> polls;
  for (int i = 0; i < 3; ++i) {
    polls.push_back(std::make_unique<PendingPoll>());
    StartPoll(*stub_a, *polls.back(), 3000);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // all three parked

  grpc::Status fourth = PollNow(*stub_a);
  INFO(fourth.error_message());
  CHECK(fourth.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(fourth.error_message().find("--max_long_polls_per_connection=3") != std::string::npos);

  // Another connection has its own allowance, until the total cap of 5.
  grpc::ChannelArguments separate;
  separate.SetInt("pgqrs.test.connection", 2);  // a distinct channel, so a distinct connection
  auto channel_b =
      grpc::CreateCustomChannel(daemon.address(), grpc::InsecureChannelCredentials(), separate);
  auto stub_b = v1::QueueService::NewStub(channel_b);
  for (int i = 0; i < 2; ++i) {
    polls.push_back(std::make_unique<PendingPoll>());
    StartPoll(*stub_b, *polls.back(), 3000);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  grpc::Status over_total = PollNow(*stub_b);
  CHECK(over_total.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(over_total.error_message().find("--max_long_polls=5") != std::string::npos);

  WaitAll(polls);
  for (auto& p : polls) CHECK(p->status.ok());
  // Slots are freed when the calls end.
  CHECK(PollNow(*stub_a).ok());
}

TEST_CASE("many concurrent large requests keep the daemon's memory bounded",
          "[integration][limits]") {
  // 32 clients on their own connections send 8 MiB requests for 4 s: 256 MiB in flight
  // if nothing held them back (peak RSS was 371 MiB with the budget lifted). The in-flight
  // budget is 64 MiB; the bound leaves room for the process itself.
  Daemon daemon(
      {DsnFlag("rss.db"), "--max_request_bytes=8388608", "--max_inflight_bytes=67108864"});
  Client client(daemon);
  client.CreateQueue("q");
  // A bad queue name: each request is received and parsed in full, then refused cheaply.
  v1::EnqueueRequest req = BigEnqueue("no such/queue", 31, 256 * 1024);
  REQUIRE(req.ByteSizeLong() < 8u << 20);
  // Requests over the budget are shed by gRPC (stream reset: UNAVAILABLE or
  // RESOURCE_EXHAUSTED); the rest reach validation and are refused there.
  std::atomic<int> refused{0}, shed{0}, unexpected{0};
  auto stop_at = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  std::vector<std::thread> senders;
  for (int t = 0; t < 32; ++t) {
    senders.emplace_back([&, t] {
      grpc::ChannelArguments args;
      args.SetInt("pgqrs.test.connection", t);
      auto stub = v1::QueueService::NewStub(
          grpc::CreateCustomChannel(daemon.address(), grpc::InsecureChannelCredentials(), args));
      while (std::chrono::steady_clock::now() < stop_at) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
        v1::EnqueueResponse resp;
        grpc::Status s = stub->Enqueue(&context, req, &resp);
        switch (s.error_code()) {
          case grpc::StatusCode::INVALID_ARGUMENT:
            ++refused;
            break;
          case grpc::StatusCode::UNAVAILABLE:
          case grpc::StatusCode::RESOURCE_EXHAUSTED:
            ++shed;
            break;
          default:
            ++unexpected;
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  int64_t peak = PeakRss(daemon.pid());
  WARN("refused by validation: " << refused << ", shed: " << shed
                                 << ", daemon peak RSS MiB: " << (peak >> 20));
  CHECK(refused > 32);
  CHECK(unexpected == 0);
  CHECK(peak < 200ll << 20);
  CHECK(client.Stats("q").pending() == 0);
}

}  // namespace
}  // namespace pgqrs::testing
