// QueueService.Publish on the real daemon with real gRPC streams: pipelined requests are
// confirmed in order with their ids, a bad request fails alone, and a confirmed message
// survives kill -9.
#include <signal.h>

#include <set>

#include "tests/integration/stream_clients.h"

namespace pgqrs::testing {
namespace {

TEST_CASE("pipelined publishes are confirmed in order, each with its own ids",
          "[integration][stream]") {
  constexpr int kRequests = 300;
  Daemon daemon({DsnFlag("publish-order.db")});
  Client client(daemon);
  client.CreateQueue("q");
  PublishClient stream(client);
  // All requests go out before the first answer is read: the server has many in flight.
  for (int i = 0; i < kRequests; ++i) {
    std::vector<std::string> payloads;
    for (int m = 0; m <= i % 3; ++m) payloads.push_back(std::to_string(i * 10 + m));
    if (i == 17) payloads = {"not json"};
    stream.Publish(1000 + i, "q", payloads);
  }
  std::vector<int64_t> ids;
  std::map<int64_t, std::string> expected;
  for (int i = 0; i < kRequests; ++i) {
    std::optional<v1::PublishResponse> response = stream.Next();
    REQUIRE(response.has_value());
    INFO(i);
    REQUIRE(response->sequence() == 1000 + i);
    if (i == 17) {
      CHECK(response->error_code() == static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      CHECK(response->error_message().find("messages[0].payload_json") != std::string::npos);
      CHECK(response->message_ids_size() == 0);
      continue;
    }
    CHECK(response->error_code() == 0);
    REQUIRE(response->message_ids_size() == i % 3 + 1);
    for (int m = 0; m <= i % 3; ++m) {
      ids.push_back(response->message_ids(m));
      expected[response->message_ids(m)] = std::to_string(i * 10 + m);
    }
  }
  CHECK(stream.Close().ok());
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::set<int64_t>(ids.begin(), ids.end()).size() == ids.size());
  std::vector<v1::Message> stored = GetMessages(client, "q", ids);
  REQUIRE(stored.size() == ids.size());
  for (const v1::Message& m : stored) CHECK(m.payload_json() == expected[m.id()]);
}

TEST_CASE("a publish to a missing queue fails alone", "[integration][stream]") {
  Daemon daemon({DsnFlag("publish-missing.db")});
  Client client(daemon);
  client.CreateQueue("q");
  PublishClient stream(client);
  stream.Publish(1, "q", {"1"});
  stream.Publish(2, "nope", {"2"});
  stream.Publish(3, "q", {"3"});
  std::vector<v1::PublishResponse> responses;
  for (int i = 0; i < 3; ++i) responses.push_back(stream.Next().value());
  CHECK(stream.Close().ok());
  CHECK(responses[0].error_code() == 0);
  CHECK(responses[1].error_code() == static_cast<int>(grpc::StatusCode::NOT_FOUND));
  CHECK(responses[2].error_code() == 0);
  CHECK(client.Stats("q").pending() == 2);
}

TEST_CASE("a publish request over --max_request_bytes ends the stream", "[integration][stream]") {
  Daemon daemon({DsnFlag("publish-cap.db"), "--max_request_bytes=65536"});
  Client client(daemon);
  client.CreateQueue("q");
  PublishClient stream(client);
  stream.Publish(1, "q", {"1"});
  REQUIRE(stream.Next().value().error_code() == 0);
  stream.TrySend([] {
    v1::PublishRequest big;
    big.set_sequence(2);
    big.set_queue("q");
    big.add_messages()->set_payload_json("\"" + std::string(100000, 'x') + "\"");
    return big;
  }());
  CHECK_FALSE(stream.Next().has_value());
  CHECK(stream.Finish().error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(client.Stats("q").pending() == 1);
}

TEST_CASE("a confirmed publish survives kill -9", "[integration][stream][durability]") {
  std::string dsn = "--dsn=" + TestDsn("publish-durable.db");
  std::vector<int64_t> confirmed;
  {
    Daemon daemon({dsn});
    Client client(daemon);
    client.CreateQueue("q");
    PublishClient stream(client);
    for (int i = 0; i < 200; ++i) stream.Publish(i, "q", {std::to_string(i)});
    for (int i = 0; i < 200; ++i) {
      std::optional<v1::PublishResponse> response = stream.Next();
      REQUIRE(response.has_value());
      REQUIRE(response->error_code() == 0);
      confirmed.push_back(response->message_ids(0));
    }
    // Killed right after the last confirmation, with the stream still open.
    REQUIRE(daemon.Stop(SIGKILL) == 128 + SIGKILL);
    stream.Cancel();
  }
  Daemon restarted({dsn});
  Client client(restarted);
  std::vector<v1::Message> stored = GetMessages(client, "q", confirmed);
  CHECK(stored.size() == confirmed.size());
  CHECK(client.Stats("q").pending() == 200);
}

}  // namespace
}  // namespace pgqrs::testing
