// Health, drain and reloads on the real daemon: SIGTERM turns grpc.health.v1 to
// NOT_SERVING before the listener closes; SIGHUP re-reads the log level from the flag
// file; administrative calls leave audit lines.
#include <signal.h>

#include <fstream>
#include <thread>

#include "tests/integration/client.h"
#include "tests/integration/proto/health.grpc.pb.h"

namespace pgqrs::testing {
namespace {

using grpc::health::v1::HealthCheckResponse;

TEST_CASE("SIGTERM turns health NOT_SERVING, then the daemon drains and exits",
          "[integration][health]") {
  Daemon daemon({DsnFlag("drain.db"), "--shutdown_grace_ms=2000"});
  auto health = grpc::health::v1::Health::NewStub(daemon.Channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto watch = health->Watch(&context, grpc::health::v1::HealthCheckRequest());
  HealthCheckResponse status;
  REQUIRE(watch->Read(&status));
  CHECK(status.status() == HealthCheckResponse::SERVING);

  kill(daemon.pid(), SIGTERM);
  REQUIRE(watch->Read(&status));
  CHECK(status.status() == HealthCheckResponse::NOT_SERVING);
  auto start = std::chrono::steady_clock::now();
  CHECK(daemon.Stop(SIGTERM) == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("SIGHUP re-reads the log level from the flag file", "[integration][health]") {
  std::string flagfile = TempPath("pgqrsd.flags");
  std::ofstream(flagfile) << "--log_level=info\n";
  Daemon daemon({"--flagfile=" + flagfile, DsnFlag("hup.db")});
  auto count = [&](const std::string& text) {
    std::string log = daemon.Log();
    int n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  };
  auto wait_for = [&](const std::string& text, int n) {
    for (int i = 0; i < 100 && count(text) < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return count(text);
  };

  std::ofstream(flagfile) << "--log_level=error\n";
  kill(daemon.pid(), SIGHUP);
  REQUIRE(wait_for("SIGHUP: log level error", 1) == 1);
  // Info lines are gone now: another SIGHUP logs nothing at info.
  kill(daemon.pid(), SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(count("SIGHUP: reloaded") == 1);

  std::ofstream(flagfile) << "--log_level=loud\n";
  kill(daemon.pid(), SIGHUP);
  CHECK(wait_for("SIGHUP: kept the log level", 1) == 1);
}

TEST_CASE("administrative calls leave audit lines", "[integration][health]") {
  Daemon daemon({DsnFlag("audit.db")});
  Client client(daemon);
  client.CreateQueue("q");
  client.Enqueue("q", {"1"});
  v1::PurgeQueueRequest purge;
  purge.set_name("q");
  v1::PurgeQueueResponse purged;
  REQUIRE(client.Call(*client.queues, &v1::QueueService::Stub::PurgeQueue, purge, &purged).ok());
  v1::ReclaimWorkersRequest reclaim;
  v1::ReclaimWorkersResponse reclaimed;
  REQUIRE(client.Call(*client.admin, &v1::AdminService::Stub::ReclaimWorkers, reclaim, &reclaimed)
              .ok());
  std::string log = daemon.Log();
  CHECK(log.find("audit: /pgqrs.v1.QueueService/CreateQueue on \"q\"") != std::string::npos);
  CHECK(log.find("audit: /pgqrs.v1.QueueService/PurgeQueue on \"q\" by token -") !=
        std::string::npos);
  CHECK(log.find("audit: /pgqrs.v1.AdminService/ReclaimWorkers") != std::string::npos);
  CHECK(log.find("audit: /pgqrs.v1.QueueService/Enqueue") == std::string::npos);
}

}  // namespace
}  // namespace pgqrs::testing
