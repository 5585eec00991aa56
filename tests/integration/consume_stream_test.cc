// QueueService.Consume on the real daemon with real gRPC streams: pushes within credits,
// in order, without polling; per-receipt results; leases released when the stream ends;
// a gone stream never holds a lease; streams count against the parked-call limits.
#include <signal.h>

#include <random>

#include "tests/integration/stream_clients.h"

namespace pgqrs::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> Payloads(int n) {
  std::vector<std::string> payloads;
  for (int i = 0; i < n; ++i) payloads.push_back(std::to_string(i));
  return payloads;
}

TEST_CASE("a consume stream pushes in order and never holds more than its credits",
          "[integration][stream]") {
  Daemon daemon({DsnFlag("consume-credits.db")});
  Client client(daemon);
  client.CreateQueue("q");
  std::vector<int64_t> ids = client.Enqueue("q", Payloads(10));

  ConsumeClient stream(client, "q", /*credits=*/3);
  std::vector<v1::Message> got = stream.Messages(3);
  // All credits are held: nothing more comes until one is settled or credits are added.
  CHECK_FALSE(stream.Next(std::chrono::milliseconds(500)).has_value());

  stream.Ack(1, {got[0].receipt()});
  v1::ConsumeResponse result = stream.Next().value();
  CHECK(result.messages_size() == 0);  // the result comes before the push it makes room for
  CHECK(result.request_id() == 1);
  REQUIRE(result.ack_results_size() == 1);
  CHECK(result.ack_results(0) == v1::RECEIPT_RESULT_OK);
  std::vector<v1::Message> fourth = stream.Messages(1);
  got.push_back(fourth[0]);
  CHECK_FALSE(stream.Next(std::chrono::milliseconds(300)).has_value());

  stream.AddCredits(10);
  std::vector<v1::Message> rest = stream.Messages(6);
  got.insert(got.end(), rest.begin(), rest.end());
  for (size_t i = 0; i < ids.size(); ++i) {
    INFO(i);
    CHECK(got[i].id() == ids[i]);
    CHECK(got[i].read_count() == 1);
  }
  CHECK(stream.Close().ok());
}

TEST_CASE("a parked consume stream gets a new message pushed, without polling",
          "[integration][stream]") {
  // The visibility reaper would wake parked waiters once a minute only: a quick delivery
  // comes from the enqueue's own wake-up.
  Daemon daemon({DsnFlag("consume-push.db"), "--visibility_reaper_interval_ms=60000"});
  Client client(daemon);
  client.CreateQueue("q");
  ConsumeClient stream(client, "q", /*credits=*/5);
  CHECK_FALSE(stream.Next(std::chrono::milliseconds(300)).has_value());  // parked

  for (int round = 0; round < 5; ++round) {
    auto start = Clock::now();
    int64_t id = client.Enqueue("q", {R"({"push":true})"})[0];
    std::vector<v1::Message> got = stream.Messages(1);
    auto latency = Clock::now() - start;
    CHECK(got[0].id() == id);
    WARN("push latency: " << std::chrono::duration_cast<std::chrono::microseconds>(latency).count()
                          << " us");
    CHECK(latency < std::chrono::seconds(2));
  }
  CHECK(stream.Close().ok());
}

TEST_CASE("acks on a stream get one result per receipt; a stale receipt fails alone",
          "[integration][stream]") {
  Daemon daemon({DsnFlag("consume-receipts.db")});
  Client client(daemon);
  client.CreateQueue("q");
  client.Enqueue("q", Payloads(2));
  ConsumeClient stream(client, "q", /*credits=*/2);
  std::vector<v1::Message> first = stream.Messages(2);

  // Nack the first: the stream gets it again under a new lease; its old receipt is stale.
  stream.Nack(1, {first[0].receipt()});
  v1::ConsumeResponse nacked = stream.Result(1);
  REQUIRE(nacked.nack_results_size() == 1);
  CHECK(nacked.nack_results(0) == v1::RECEIPT_RESULT_OK);
  v1::Message again = stream.Messages(1)[0];
  CHECK(again.id() == first[0].id());
  CHECK(again.receipt() != first[0].receipt());

  stream.Ack(2, {first[0].receipt(), again.receipt(), "not-a-receipt", first[1].receipt()});
  v1::ConsumeResponse acked = stream.Result(2);
  REQUIRE(acked.ack_results_size() == 4);
  CHECK(acked.ack_results(0) == v1::RECEIPT_RESULT_LEASE_LOST);
  CHECK(acked.ack_results(1) == v1::RECEIPT_RESULT_OK);
  CHECK(acked.ack_results(2) == v1::RECEIPT_RESULT_INVALID);
  CHECK(acked.ack_results(3) == v1::RECEIPT_RESULT_OK);
  CHECK(stream.Close().ok());
  CHECK(client.Stats("q").archived() == 2);
  CHECK(client.Stats("q").pending() == 0);
}

TEST_CASE("a stream's unacked leases are released when it ends, unless it keeps them",
          "[integration][stream]") {
  Daemon daemon({DsnFlag("consume-release.db")});
  Client client(daemon);
  client.CreateQueue("q");
  client.Enqueue("q", Payloads(3));

  SECTION("half-close releases at once") {
    ConsumeClient stream(client, "q", /*credits=*/3);
    stream.Messages(3);
    CHECK(stream.Close().ok());
    v1::DequeueResponse again = client.Dequeue("q", 10);
    REQUIRE(again.messages_size() == 3);
    // Delivered leases count as reads: a consumer that dies on a message still uses it up.
    for (const v1::Message& m : again.messages()) CHECK(m.read_count() == 2);
  }
  SECTION("cancel releases at once") {
    ConsumeClient stream(client, "q", /*credits=*/3);
    stream.Messages(3);
    stream.Cancel();
    auto deadline = Clock::now() + std::chrono::seconds(5);
    int visible = 0;
    while (visible < 3 && Clock::now() < deadline) {
      visible = static_cast<int>(client.Stats("q").pending());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(visible == 3);  // long before the 30 s visibility timeout
  }
  SECTION("keep_leases_on_close leaves them to expire") {
    ConsumeClient stream(client, "q", /*credits=*/3, /*visibility_timeout_ms=*/60000,
                         /*worker_id=*/0, /*keep=*/true);
    stream.Messages(3);
    CHECK(stream.Close().ok());
    CHECK(client.Dequeue("q", 10).messages_size() == 0);
    CHECK(client.Stats("q").in_flight() == 3);
  }
}

TEST_CASE("a cancelled stream leases to nobody", "[integration][stream]") {
  Daemon daemon({DsnFlag("consume-cancel.db")});
  Client client(daemon);
  client.CreateQueue("q", /*max_read_count=*/1000000);  // releases count as reads
  // Streams are cancelled at random moments while messages arrive; afterwards every message
  // is visible or acked: none stays leased to a stream that has gone.
  std::mt19937 random(7);
  int enqueued = 0;
  int acked = 0;
  auto until = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < until) {
    ConsumeClient stream(client, "q", /*credits=*/4);
    std::thread producer([&] { client.Enqueue("q", Payloads(3)); });
    if (std::optional<v1::ConsumeResponse> r = stream.Next(std::chrono::milliseconds(50));
        r && r->messages_size() > 0 && random() % 2 == 0) {
      stream.Ack(1, {r->messages(0).receipt()});
      v1::ConsumeResponse result = stream.Result(1);
      acked += result.ack_results_size() == 1 && result.ack_results(0) == v1::RECEIPT_RESULT_OK;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 20));
    stream.Cancel();
    producer.join();
    enqueued += 3;
  }
  // PostgreSQL classifies by its transaction time: a release that commits while a stats
  // call runs can show as delayed in that one call. Wait for a settled state.
  auto deadline = Clock::now() + std::chrono::seconds(5);
  v1::QueueStats stats = client.Stats("q");
  while ((stats.in_flight() > 0 || stats.delayed() > 0) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stats = client.Stats("q");
  }
  INFO(enqueued << " enqueued, " << acked << " acked; stats " << stats.ShortDebugString());
  CHECK(stats.in_flight() == 0);
  CHECK(stats.delayed() == 0);
  CHECK(stats.pending() + stats.archived() == enqueued);
  CHECK(stats.archived() == acked);
}

TEST_CASE("shutdown ends consume streams at once and releases their leases",
          "[integration][stream]") {
  std::string dsn = "--dsn=" + TestDsn("consume-shutdown.db");
  {
    // Streams that waited out the grace would end after a minute; the bound below leaves
    // room for a stalled test machine (fsync, CPU) and still tells the two apart.
    Daemon daemon({dsn, "--shutdown_grace_ms=60000"});
    Client client(daemon);
    client.CreateQueue("q");
    client.Enqueue("q", Payloads(2));
    ConsumeClient holding(client, "q", /*credits=*/2);
    holding.Messages(2);
    ConsumeClient parked(client, "q", /*credits=*/2);
    CHECK_FALSE(parked.Next(std::chrono::milliseconds(200)).has_value());
    auto start = Clock::now();
    REQUIRE(kill(daemon.pid(), SIGTERM) == 0);
    CHECK(parked.Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(holding.Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
    auto ended = Clock::now() - start;
    CHECK(daemon.Stop(SIGTERM) == 0);
    if (ended > std::chrono::seconds(2)) {
      WARN("the streams ended "
           << std::chrono::duration_cast<std::chrono::milliseconds>(ended).count()
           << " ms after SIGTERM; daemon log:\n"
           << daemon.Log());
    }
    CHECK(ended < std::chrono::seconds(20));
  }
  Daemon restarted({dsn});
  Client client(restarted);
  v1::QueueStats stats = client.Stats("q");
  CHECK(stats.in_flight() == 0);
  CHECK(stats.pending() == 2);
}

TEST_CASE("a stream heartbeats its worker", "[integration][stream]") {
  Daemon daemon({DsnFlag("consume-heartbeat.db")});
  Client client(daemon);
  client.CreateQueue("q");
  v1::RegisterWorkerRequest reg;
  reg.set_name("w1");
  reg.set_queue("q");
  reg.set_role(v1::WORKER_ROLE_CONSUMER);
  v1::Worker worker;
  REQUIRE(
      client.Call(*client.workers, &v1::WorkerService::Stub::RegisterWorker, reg, &worker).ok());
  ConsumeClient stream(client, "q", /*credits=*/1, 0, worker.id());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  v1::ConsumeRequest beat;
  beat.set_request_id(9);
  beat.set_heartbeat(true);
  stream.Send(beat);
  v1::ConsumeResponse response = stream.Result(9);
  CHECK(response.worker().id() == worker.id());
  auto nanos = [](const google::protobuf::Timestamp& t) {
    return t.seconds() * 1000000000 + t.nanos();
  };
  CHECK(nanos(response.worker().heartbeat_at()) > nanos(worker.heartbeat_at()));
  CHECK(stream.Close().ok());
}

TEST_CASE("consume streams beyond the parked-call cap are refused", "[integration][stream]") {
  Daemon daemon({DsnFlag("consume-cap.db"), "--max_long_polls=2"});
  Client client(daemon);
  client.CreateQueue("q");
  ConsumeClient a(client, "q", 1);
  ConsumeClient b(client, "q", 1);
  CHECK_FALSE(a.Next(std::chrono::milliseconds(200)).has_value());
  CHECK_FALSE(b.Next(std::chrono::milliseconds(200)).has_value());
  ConsumeClient refused(client, "q", 1);
  grpc::Status status = refused.Finish();
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(status.error_message().find("--max_long_polls=2") != std::string::npos);
  CHECK(a.Close().ok());
  // The slot is free again once the ended stream's call is done on the server, which is
  // just after its client saw the end: a stream opened at once may still be refused.
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    ConsumeClient c(client, "q", 1);
    CHECK_FALSE(c.Next(std::chrono::milliseconds(100)).has_value());
    grpc::Status closed = c.Close();
    admitted = closed.ok();
    if (!admitted) {
      CHECK(closed.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  CHECK(admitted);
  CHECK(b.Close().ok());
}

TEST_CASE("a consume stream refuses bad requests with INVALID_ARGUMENT", "[integration][stream]") {
  Daemon daemon({DsnFlag("consume-bad.db")});
  Client client(daemon);
  client.CreateQueue("q");
  ConsumeClient stream(client, "q", 1);
  v1::ConsumeRequest other;
  other.set_queue("other");
  stream.Send(other);
  grpc::Status status = stream.Finish();
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message().find("queue") != std::string::npos);
}

}  // namespace
}  // namespace pgqrs::testing
