// Two pgqrsd daemons sharing one PostgreSQL database: the scale-out path. Needs the
// throwaway cluster from tools/pg/cluster.sh (PGQRS_TEST_PG_DSN, PGQRS_TEST_PG_DIR).
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/integration/client.h"

namespace pgqrs::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  INFO(name << " is not set: run the tests through tools/dev.sh test (it starts PostgreSQL)");
  REQUIRE(value != nullptr);
  REQUIRE(*value != '\0');
  return value;
}

// The cluster DSN with a schema of its own for this test.
std::string SchemaDsn(const std::string& schema) {
  std::string dsn = Env("PGQRS_TEST_PG_DSN");
  return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "schema=" + schema;
}

std::string UniqueSchema(const std::string& stem) {
  return stem + "_" + std::to_string(getpid()) + "_" +
         std::to_string(Clock::now().time_since_epoch().count() % 1000000);
}

TEST_CASE("8 consumers on two daemons drain 20,000 messages, each leased and acked once",
          "[integration][postgres]") {
  constexpr int kMessages = 20000;
  std::string dsn = SchemaDsn(UniqueSchema("drain"));
  Daemon a({"--dsn=" + dsn});
  Daemon b({"--dsn=" + dsn});
  Client admin(a);
  admin.CreateQueue("work");
  for (int i = 0; i < kMessages; i += 1000) {
    std::vector<std::string> batch;
    for (int j = 0; j < 1000; ++j) batch.push_back(std::to_string(i + j));
    admin.Enqueue("work", batch);
  }

  std::mutex mu;
  std::map<int64_t, int> leases;  // the lease log: how often each message was leased
  std::map<int64_t, int> acks;
  std::atomic<int> errors{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < 8; ++c) {
    consumers.emplace_back([&, c] {
      Client client(c % 2 == 0 ? a : b);
      while (true) {
        v1::DequeueRequest req;
        req.set_queue("work");
        req.set_max_messages(20);
        req.set_visibility_timeout_ms(300000);  // no lease may expire during the run
        v1::DequeueResponse leased;
        grpc::ClientContext ctx;
        if (!client.queues->Dequeue(&ctx, req, &leased).ok()) {
          errors++;
          return;
        }
        if (leased.messages_size() == 0) return;
        v1::AckRequest ack;
        ack.set_queue("work");
        for (const v1::Message& m : leased.messages()) ack.add_receipts(m.receipt());
        v1::ReceiptResponse results;
        grpc::ClientContext actx;
        if (!client.queues->Ack(&actx, ack, &results).ok()) {
          errors++;
          return;
        }
        std::lock_guard<std::mutex> lock(mu);
        for (int i = 0; i < leased.messages_size(); ++i) {
          leases[leased.messages(i).id()]++;
          if (results.results(i) == v1::RECEIPT_RESULT_OK) acks[leased.messages(i).id()]++;
        }
      }
    });
  }
  for (std::thread& t : consumers) t.join();
  CHECK(errors == 0);
  CHECK(leases.size() == kMessages);
  CHECK(acks.size() == kMessages);
  int leased_twice = 0;
  int acked_twice = 0;
  for (const auto& [id, n] : leases) leased_twice += n > 1;
  for (const auto& [id, n] : acks) acked_twice += n > 1;
  CHECK(leased_twice == 0);
  CHECK(acked_twice == 0);
  CHECK(admin.Stats("work").archived() == kMessages);
}

TEST_CASE("a long-poll on daemon B returns shortly after an enqueue on daemon A",
          "[integration][postgres]") {
  std::string dsn = SchemaDsn(UniqueSchema("wake"));
  Daemon a({"--dsn=" + dsn});
  Daemon b({"--dsn=" + dsn, "--visibility_reaper_interval_ms=60000"});
  Client producer(a);
  Client consumer(b);
  producer.CreateQueue("q");
  // Let B's listener connect before the enqueue it must hear about.
  consumer.Dequeue("q", 1, /*wait_ms=*/300);

  auto start = Clock::now();
  std::thread enqueuer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    producer.Enqueue("q", {R"({"from":"a"})"});
  });
  v1::DequeueResponse got = consumer.Dequeue("q", 1, /*wait_ms=*/20000);
  auto waited = Clock::now() - start;
  enqueuer.join();
  REQUIRE(got.messages_size() == 1);
  CHECK(nlohmann::json::parse(got.messages(0).payload_json()) == nlohmann::json{{"from", "a"}});
  // Far sooner than B's own reaper (60 s) could have found it: the NOTIFY woke it.
  CHECK(waited < std::chrono::seconds(5));
}

TEST_CASE("a ClaimRun long-poll on daemon B returns shortly after StartRun on daemon A",
          "[integration][postgres][workflow]") {
  using Stub = v1::WorkflowService::Stub;
  std::string dsn = SchemaDsn(UniqueSchema("wfwake"));
  Daemon a({"--dsn=" + dsn});
  Daemon b({"--dsn=" + dsn, "--visibility_reaper_interval_ms=60000"});
  Client starter(a);
  Client worker(b);
  v1::CreateWorkflowRequest create;
  create.set_name("wf");
  v1::Workflow workflow;
  REQUIRE(starter.Call(*starter.workflows, &Stub::CreateWorkflow, create, &workflow).ok());
  // Let B's listener connect before the start it must hear about.
  v1::ClaimRunRequest claim;
  claim.set_workflow("wf");
  claim.set_wait_ms(300);
  v1::ClaimRunResponse nothing;
  REQUIRE(worker.Call(*worker.workflows, &Stub::ClaimRun, claim, &nothing).ok());
  REQUIRE_FALSE(nothing.has_run());

  auto start = Clock::now();
  std::thread run_starter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    v1::StartRunRequest req;
    req.set_workflow("wf");
    req.set_input_json(R"({"from":"a"})");
    v1::Run run;
    CHECK(starter.Call(*starter.workflows, &Stub::StartRun, req, &run).ok());
  });
  claim.set_wait_ms(20000);
  v1::ClaimRunResponse got;
  grpc::Status status = worker.Call(*worker.workflows, &Stub::ClaimRun, claim, &got);
  auto waited = Clock::now() - start;
  run_starter.join();
  INFO(status.error_message());
  REQUIRE(status.ok());
  REQUIRE(got.has_run());
  CHECK(nlohmann::json::parse(got.run().input_json()) == nlohmann::json{{"from", "a"}});
  // Far sooner than B's own reaper (60 s) could have found it: the NOTIFY woke it.
  CHECK(waited < std::chrono::seconds(5));
}

TEST_CASE("server info never shows the PostgreSQL password", "[integration][postgres]") {
  std::string dsn = SchemaDsn(UniqueSchema("info"));
  Daemon daemon({"--dsn=" + dsn});
  Client client(daemon);
  v1::ServerInfo info;
  REQUIRE(client.Call(*client.admin, &v1::AdminService::Stub::GetServerInfo,
                      v1::GetServerInfoRequest(), &info).ok());
  CHECK(info.backend() == "postgres");
  // The cluster's DSN is postgres://user:PASSWORD@host...; take the password from it.
  size_t colon = dsn.find(':', dsn.find("://") + 3);
  std::string password = dsn.substr(colon + 1, dsn.find('@') - colon - 1);
  REQUIRE(password.size() >= 8);
  CHECK(info.storage_dsn().find(password) == std::string::npos);
  CHECK(daemon.Log().find(password) == std::string::npos);
}

}  // namespace
}  // namespace pgqrs::testing
