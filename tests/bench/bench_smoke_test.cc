// Short runs of pgqrs-bench and store-bench: each must exit 0 and print one
// JSON line whose counts show that messages really flowed.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/support/daemon.h"

namespace pgqrs::testing {
namespace {

constexpr char kShort[] = " --warmup=200ms --duration=1500ms --progress=false";

// Runs a benchmark command and returns its JSON line, parsed.
nlohmann::json RunBench(const std::string &command) {
  std::string err;
  auto [status, out] = RunCommand(command, &err);
  INFO(command << "\nstderr:\n" << err << "\nstdout:\n" << out);
  REQUIRE(status == 0);
  nlohmann::json j = nlohmann::json::parse(out); // exactly one JSON document
  CHECK(j["errors"].empty());
  CHECK(j["throughput"].get<double>() > 0);
  return j;
}

void CheckLatency(const nlohmann::json &j) {
  const nlohmann::json &lat = j["latency_us"];
  CHECK(lat["count"].get<int64_t>() > 0);
  CHECK(lat["p50"].get<double>() > 0);
  CHECK(lat["p50"].get<double>() <= lat["p99"].get<double>());
  CHECK(lat["p99"].get<double>() <= lat["max"].get<double>());
}

// A port nothing listens on now.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST_CASE("pgqrs-bench runs every scenario against a real daemon", "[bench]") {
  Daemon daemon({"--dsn=sqlite://" + TempPath("bench.db")});
  std::string bench = Runfile("tools/bench/pgqrs-bench") +
                      " --server=" + daemon.address() +
                      " --daemon-pid=" + std::to_string(daemon.pid()) + kShort;

  SECTION("lifecycle: every message enqueued, leased and acked") {
    nlohmann::json j =
        RunBench(bench + " --scenario=lifecycle --producers=2 --consumers=2");
    CHECK(j["scenario"] == "lifecycle");
    CHECK(j["target"] == "pgqrs");
    CHECK(j["window"] == 1);  // unary calls: each answered before the next
    CHECK(j["messages"].get<int64_t>() > 0);
    CHECK(j["calls"]["ack"]["count"].get<int64_t>() > 0);
    CHECK(j["daemon"]["threads"].get<int>() > 0);
    CheckLatency(j);
  }
  SECTION("lifecycle over the Publish and Consume streams, requests pipelined") {
    // A window larger than the credits: acks in flight must free credits, not starve.
    nlohmann::json j = RunBench(bench +
                                " --target=pgqrs-stream --credits=8 --window=12"
                                " --scenario=lifecycle --producers=2 --consumers=2");
    CHECK(j["target"] == "pgqrs-stream");
    CHECK(j["window"] == 12);
    CHECK(j["messages"].get<int64_t>() > 0);
    // At batch 1 a message counts exactly when its own ack answered OK.
    CHECK(j["calls"]["ack"]["count"] == j["messages"]);
    CHECK(j["errors"].empty());
    CheckLatency(j);
  }
  SECTION("lifecycle over the streams, each request answered before the next") {
    nlohmann::json j = RunBench(bench +
                                " --target=pgqrs-stream --credits=8 --window=1"
                                " --scenario=lifecycle --producers=2 --consumers=2");
    CHECK(j["window"] == 1);
    CHECK(j["calls"]["ack"]["count"] == j["messages"]);
    CHECK(j["errors"].empty());
  }
  SECTION("enqueue with batches") {
    nlohmann::json j =
        RunBench(bench + " --scenario=enqueue --batch=10 --producers=2");
    CHECK(j["messages"].get<int64_t>() % 10 == 0);
    CheckLatency(j);
  }
  SECTION("drain a preloaded queue") {
    nlohmann::json j =
        RunBench(bench + " --scenario=drain --preload=300 --batch=10");
    CHECK(j["messages"].get<int64_t>() >= 300);
  }
  SECTION("longpoll wakes parked calls and reads the daemon's threads") {
    nlohmann::json j =
        RunBench(bench + " --scenario=longpoll --parked=50 --wakes=5");
    CHECK(j["messages"].get<int64_t>() == 5);
    CHECK(j["daemon_parked"]["threads"].get<int>() > 0);
    CheckLatency(j);
  }
  SECTION("ping: the transport alone") {
    nlohmann::json j = RunBench(bench + " --target=ping --scenario=lifecycle");
    CHECK(j["target"] == "ping");
    CheckLatency(j);
  }
}

TEST_CASE("pgqrs-bench drives beanstalkd", "[bench]") {
  if (access("/usr/bin/beanstalkd", X_OK) != 0) {
    WARN("beanstalkd is not installed; skipped");
    return;
  }
  int port = FreePort();
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execl("/usr/bin/beanstalkd", "beanstalkd", "-l", "127.0.0.1", "-p",
          std::to_string(port).c_str(), static_cast<char *>(nullptr));
    _exit(127);
  }
  std::string bench =
      Runfile("tools/bench/pgqrs-bench") +
      " --target=beanstalk --server=127.0.0.1:" + std::to_string(port) + kShort;
  usleep(300 * 1000); // beanstalkd listens at once; give it a moment to start
  nlohmann::json j = RunBench(bench + " --scenario=lifecycle --batch=5");
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  CHECK(j["target"] == "beanstalk");
  CheckLatency(j);
}

TEST_CASE("store-bench runs the lifecycle in-process", "[bench]") {
  nlohmann::json j = RunBench(Runfile("tools/bench/store-bench") +
                              " --dsn=sqlite://" + TempPath("store.db") +
                              " --scenario=lifecycle --batch=5" + kShort);
  CHECK(j["target"] == "store:sqlite");
  CHECK(j["calls"]["dequeue"]["count"].get<int64_t>() > 0);
  CheckLatency(j);
}

TEST_CASE("store-bench runs a fixed count on an encrypted engine with concurrent writers",
          "[bench]") {
  // tools/bench/encryption.sh runs exactly this: a fixed message count, key from a file.
  const std::string key = TempPath("bench.key");
  {
    std::ofstream f(key);
    f << std::string(64, 'a');
  }
  REQUIRE(chmod(key.c_str(), 0600) == 0);
  const std::string db = TempPath("encrypted.db");
  nlohmann::json j = RunBench(Runfile("tools/bench/store-bench") + " --dsn='engine://" + db +
                              "?mvcc=on&key_file=" + key +
                              "' --scenario=lifecycle --batch=100 --messages=2000 "
                              "--duration=60s --warmup=0s --progress=false");
  CHECK(j["messages"].get<int64_t>() >= 2000);
  CHECK(j["client_cpu_s"].get<double>() > 0);
  std::ifstream file(db, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() >= 4096);
  CHECK(bytes.find("pgqrs_messages") == std::string::npos);  // the schema is sealed too
}

TEST_CASE("store-mix runs writers and readers on concurrent transactions", "[bench]") {
  const std::string command =
      Runfile("tools/bench/store-mix") + " --dsn='engine://" + TempPath("mix.db") +
      "?mvcc=on' --mix=readers --threads=2 --queues=2 --pending=20 --seconds=1";
  std::string err;
  auto [status, out] = RunCommand(command, &err);
  INFO(command << "\nstderr:\n" << err << "\nstdout:\n" << out);
  REQUIRE(status == 0);
  nlohmann::json j = nlohmann::json::parse(out);
  CHECK(j["mix"] == "readers");
  CHECK(j["errors"] == 0);
  CHECK(j["msgs_per_s"].get<double>() > 0);
  CHECK(j["reads"].get<int64_t>() > 0);
  // Idle reads are measured before and after the writers, and merged.
  CHECK(j["idle_before_p99_ms"].get<double>() > 0);
  CHECK(j["idle_after_p99_ms"].get<double>() > 0);
  CHECK(j["idle_p99_ms"].get<double>() <=
        std::max(j["idle_before_p99_ms"].get<double>(), j["idle_after_p99_ms"].get<double>()));
  CHECK(j["busy_p50_ms"].get<double>() <= j["busy_p99_ms"].get<double>());
}

} // namespace
} // namespace pgqrs::testing
