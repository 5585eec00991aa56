// The pgqrs CLI against the real daemon: the tour from the README, JSON output, and
// non-zero exits with the gRPC status on stderr.
#include <nlohmann/json.hpp>

#include <sstream>
#include <thread>

#include "tests/integration/client.h"

namespace pgqrs::testing {
namespace {

class Cli {
 public:
  explicit Cli(const Daemon& daemon)
      : prefix_(Runfile("tools/pgqrs/pgqrs") + " --server=" + daemon.address() + " ") {}

  // Runs `pgqrs ARGS`; returns {exit status, stdout}; stderr in last_error.
  std::pair<int, std::string> Run(const std::string& args) {
    return RunCommand(prefix_ + args, &last_error);
  }

  // Runs `pgqrs --output=json ARGS` and parses one JSON object per line.
  std::vector<nlohmann::json> Json(const std::string& args) {
    auto [code, out] = Run("--output=json " + args);
    INFO(last_error);
    REQUIRE(code == 0);
    std::vector<nlohmann::json> rows;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
    }
    return rows;
  }

  std::string last_error;

 private:
  std::string prefix_;
};

TEST_CASE("the CLI tour works against the daemon", "[integration][cli]") {
  Daemon daemon({DsnFlag("cli.db")});
  Cli cli(daemon);
  REQUIRE(cli.Run("queue create jobs --max-read-count 3").first == 0);
  auto sent = cli.Json(R"(send jobs '{"n":1}' '{"n":2}' --priority 2)");
  REQUIRE(sent.size() == 1);
  REQUIRE(sent[0]["message_ids"].size() == 2);

  auto received = cli.Json("recv jobs --max 2 --vt-ms 60000");
  REQUIRE(received.size() == 2);
  for (const auto& field : {"id", "payload_json", "receipt", "read_count", "visible_at"}) {
    CHECK(received[0].contains(field));
  }
  CHECK(received[0]["payload_json"] == R"({"n":1})");
  std::string receipt = received[0]["receipt"];

  auto acked = cli.Json("ack jobs " + receipt);
  REQUIRE(acked.size() == 1);
  CHECK(acked[0]["result"].get<std::string>().find("OK") != std::string::npos);
  // The same receipt again is lease_lost: exit 1.
  CHECK(cli.Run("ack jobs " + receipt).first == 1);

  auto stats = cli.Json("queue stats jobs");
  REQUIRE(stats.size() == 1);
  CHECK(stats[0]["archived"] == 1);
  CHECK(stats[0]["in_flight"] == 1);

  auto [code, table] = cli.Run("queue list");
  CHECK(code == 0);
  CHECK(table.find("jobs") != std::string::npos);
  CHECK(cli.Run("admin verify").first == 0);
}

TEST_CASE("the CLI exits non-zero with the gRPC status on stderr", "[integration][cli]") {
  Daemon daemon({DsnFlag("cli-errors.db")});
  Cli cli(daemon);
  CHECK(cli.Run("queue get missing").first == 1);
  CHECK(cli.last_error.find("NOT_FOUND") != std::string::npos);
  REQUIRE(cli.Run("queue create q").first == 0);
  CHECK(cli.Run("queue create q").first == 1);
  CHECK(cli.last_error.find("ALREADY_EXISTS") != std::string::npos);
  CHECK(cli.Run("ack q not-a-receipt").first == 1);
  CHECK(cli.last_error.find("INVALID_ARGUMENT") != std::string::npos);
  CHECK(cli.Run("send q '{oops'").first == 2);
  CHECK(cli.Run("frobnicate").first == 2);
}

TEST_CASE("the CLI drives workers and dead letters", "[integration][cli]") {
  Daemon daemon({DsnFlag("cli-workers.db")});
  Cli cli(daemon);
  REQUIRE(cli.Run("queue create q --max-read-count 1").first == 0);
  auto worker = cli.Json("worker register w1 --queue q --role consumer --label zone=a");
  REQUIRE(worker.size() == 1);
  std::string id = std::to_string(worker[0]["id"].get<int64_t>());
  CHECK(cli.Json("worker suspend " + id)[0]["status"] == "WORKER_STATUS_SUSPENDED");
  CHECK(cli.Run("worker interrupt " + id).first == 1);
  CHECK(cli.last_error.find("FAILED_PRECONDITION") != std::string::npos);
  CHECK(cli.Json("worker resume " + id)[0]["status"] == "WORKER_STATUS_READY");

  cli.Json("send q 1");
  auto got = cli.Json("recv q --worker-id " + id);
  REQUIRE(got.size() == 1);
  cli.Run("nack q " + got[0]["receipt"].get<std::string>());
  auto dead = cli.Json("dlq list q");
  REQUIRE(dead.size() == 1);
  CHECK(cli.Json("dlq redrive q")[0]["redriven_count"] == 1);
  CHECK(cli.Json("recv q").size() == 1);
}

TEST_CASE("the CLI creates workflows and starts, lists, waits for and cancels runs",
          "[integration][cli][workflow]") {
  Daemon daemon({DsnFlag("cli-workflows.db")});
  Cli cli(daemon);
  auto created = cli.Json("workflow create orders --max-attempts 5 --jitter 0.1");
  REQUIRE(created.size() == 1);
  CHECK(created[0]["retry_policy"]["max_attempts"] == 5);
  CHECK(cli.Run("workflow create orders").first == 1);
  CHECK(cli.last_error.find("ALREADY_EXISTS") != std::string::npos);
  REQUIRE(cli.Run("workflow create orders --if-not-exists").first == 0);
  auto listed = cli.Json("workflow list");
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["name"] == "orders");
  auto [code, table] = cli.Run("workflow list");
  CHECK(code == 0);
  CHECK(table.find("MAX_ATTEMPTS") != std::string::npos);

  auto run = cli.Json(R"(run start orders '{"order":1}' --idempotency-key k1)");
  REQUIRE(run.size() == 1);
  CHECK(run[0]["status"] == "RUN_STATUS_QUEUED");
  std::string id = std::to_string(run[0]["id"].get<int64_t>());
  CHECK(cli.Json(R"(run start orders '{"order":1}' --idempotency-key k1)")[0]["id"] ==
        run[0]["id"]);
  CHECK(cli.Run(R"(run start orders '{"order":2}' --idempotency-key k1)").first == 1);
  CHECK(cli.last_error.find("ALREADY_EXISTS") != std::string::npos);
  CHECK(cli.Json("run get " + id)[0]["input_json"] == R"({"order":1})");
  CHECK(cli.Json("run list --workflow orders --status queued").size() == 1);
  CHECK(cli.Json("run list --status running").empty());
  CHECK(cli.Json("run wait " + id + " --timeout-ms 200")[0]["status"] == "RUN_STATUS_QUEUED");
  CHECK(cli.Json("run cancel " + id)[0]["status"] == "RUN_STATUS_CANCELLED");
  CHECK(cli.Json("run wait " + id)[0]["status"] == "RUN_STATUS_CANCELLED");
  CHECK(cli.Json("run steps " + id).empty());
  CHECK(cli.Run("run get 999").first == 1);
  CHECK(cli.last_error.find("NOT_FOUND") != std::string::npos);
  CHECK(cli.Run("run start orders '{bad'").first == 2);
  CHECK(cli.Run("run list --status nope").first == 2);

  // run extend: a worker (here over gRPC) keeps its claimed run during a long step.
  std::string job = std::to_string(cli.Json("run start orders")[0]["id"].get<int64_t>());
  Client client(daemon);
  v1::ClaimRunRequest claim;
  claim.set_workflow("orders");
  claim.set_visibility_timeout_ms(60000);
  v1::ClaimRunResponse claimed;
  REQUIRE(
      client.Call(*client.workflows, &v1::WorkflowService::Stub::ClaimRun, claim, &claimed).ok());
  REQUIRE(std::to_string(claimed.run().id()) == job);
  auto extended = cli.Json("run extend " + job + " " + claimed.receipt() + " --vt-ms 120000");
  REQUIRE(extended.size() == 1);
  CHECK(extended[0]["status"] == "RUN_STATUS_RUNNING");
  CHECK(cli.Run("run extend " + job + " " + claimed.receipt()).first == 2);  // --vt-ms missing
}

TEST_CASE("pgqrs consume prints and acks messages as they arrive", "[integration][cli]") {
  Daemon daemon({DsnFlag("cli-consume.db")});
  Cli cli(daemon);
  Client client(daemon);
  client.CreateQueue("jobs");
  client.Enqueue("jobs", {R"({"n":1})", R"({"n":2})", R"({"n":3})", R"({"n":4})"});

  auto consumed = cli.Json("consume jobs --count 3 --credits 2");
  REQUIRE(consumed.size() == 3);
  CHECK(consumed[0]["payload_json"] == R"({"n":1})");
  CHECK(consumed[2]["payload_json"] == R"({"n":3})");
  v1::QueueStats stats = client.Stats("jobs");
  CHECK(stats.archived() == 3);
  CHECK(stats.pending() == 1);  // held beyond --count, released when the stream ended
  CHECK(stats.in_flight() == 0);

  // A message enqueued while it waits is pushed to it.
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    client.Enqueue("jobs", {R"({"n":5})"});
  });
  auto more = cli.Json("consume jobs --count 2");
  late.join();
  REQUIRE(more.size() == 2);
  CHECK(more[1]["payload_json"] == R"({"n":5})");
  CHECK(client.Stats("jobs").archived() == 5);
  CHECK(cli.Run("consume nope --count 1").first != 0);
  CHECK(cli.last_error.find("NOT_FOUND") != std::string::npos);
}

}  // namespace
}  // namespace pgqrs::testing
