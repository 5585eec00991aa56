// A daemon stopping while other daemons' NOTIFYs keep arriving: the listener thread may
// deliver a wake-up until the store is closed, so the waiter registry must outlive it.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "server/server.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/postgres/pg_test_env.h"

namespace pgqrs::testing {
namespace {

TEST_CASE("a server shuts down cleanly while notifications keep arriving", "[postgres][shutdown]") {
  std::string schema = FreshSchema();
  std::string dsn = WithSchema(TestDsn(), schema);
  std::unique_ptr<storage::Store> producer = OpenMigrated(TestDsn(), schema);
  MakeQueue(*producer, "q");
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread flood([&] {
    std::vector<storage::NewMessage> batch = {Msg("1")};
    while (!stop) {
      if (producer->Enqueue("q", batch, 0).ok()) ++sent;
    }
  });
  for (int round = 0; round < 5; ++round) {
    server::Config config;
    config.listen = "127.0.0.1:0";
    config.dsn = dsn;
    config.pool_size = 2;
    config.executor_threads = 2;
    absl::StatusOr<std::unique_ptr<server::Server>> started = server::Server::Start(config);
    INFO(started.status().ToString());
    REQUIRE(started.ok());
    int before = sent;
    REQUIRE(WaitUntil([&] { return sent > before + 20; }));
    started->reset();  // shutdown and teardown while NOTIFYs arrive
  }
  stop = true;
  flood.join();
  CHECK(sent > 100);
}

}  // namespace
}  // namespace pgqrs::testing
