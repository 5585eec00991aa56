// grpc.health.v1 follows the store: a daemon reaches PostgreSQL through a TCP relay the
// test can cut, so the database becomes unreachable for this daemon alone.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <regex>
#include <thread>

#include "tests/integration/client.h"
#include "tests/integration/proto/health.grpc.pb.h"

namespace pgqrs::testing {
namespace {

using grpc::health::v1::HealthCheckResponse;

// Forwards 127.0.0.1:port() to 127.0.0.1:target. Cut() closes every connection and stops
// accepting; Restore() accepts again.
class Relay {
 public:
  explicit Relay(int target) : target_(target) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr = Loopback(0);
    REQUIRE(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(listener_, 64) == 0);
    socklen_t len = sizeof(addr);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~Relay() {
    stopping_ = true;
    Cut();
    acceptor_.join();
    close(listener_);
    for (auto& t : pipes_) t.join();
  }
  int port() const { return port_; }

  void Cut() {
    up_ = false;
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_) shutdown(fd, SHUT_RDWR);
  }
  void Restore() { up_ = true; }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  void Accept() {
    while (!stopping_) {
      pollfd p{listener_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int client = accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      if (!up_) {  // the database is "down": refuse at once
        close(client);
        continue;
      }
      int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr = Loopback(target_);
      if (connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        close(client);
        close(server);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      open_.push_back(client);
      open_.push_back(server);
      pipes_.emplace_back([client, server] { Pump(client, server); });
    }
  }

  // Copies bytes both ways until either side closes.
  static void Pump(int a, int b) {
    char buf[16384];
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    while (poll(fds, 2, -1) > 0) {
      int from = (fds[0].revents != 0) ? a : b;
      int to = from == a ? b : a;
      ssize_t n = read(from, buf, sizeof(buf));
      if (n <= 0 || write(to, buf, n) != n) break;
    }
    shutdown(a, SHUT_RDWR);
    shutdown(b, SHUT_RDWR);
  }

  int target_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> up_{true};
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<int> open_;
  std::vector<std::thread> pipes_;
  std::thread acceptor_;
};

HealthCheckResponse::ServingStatus Health(const Daemon& daemon) {
  auto stub = grpc::health::v1::Health::NewStub(daemon.Channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckResponse response;
  REQUIRE(stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &response).ok());
  return response.status();
}

bool BecomesWithin(const Daemon& daemon, HealthCheckResponse::ServingStatus want,
                   std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (Health(daemon) != want) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

TEST_CASE("health is NOT_SERVING while PostgreSQL is unreachable", "[integration][postgres]") {
  const char* dsn_env = std::getenv("PGQRS_TEST_PG_DSN");
  INFO("PGQRS_TEST_PG_DSN is not set: run through tools/pg/with_cluster.sh");
  REQUIRE(dsn_env != nullptr);
  std::smatch match;
  std::string dsn = dsn_env;
  REQUIRE(std::regex_search(dsn, match, std::regex("@127\\.0\\.0\\.1:([0-9]+)/")));
  Relay relay(std::stoi(match[1]));
  std::string relayed = std::regex_replace(dsn, std::regex("@127\\.0\\.0\\.1:[0-9]+/"),
                                           "@127.0.0.1:" + std::to_string(relay.port()) + "/");
  std::string schema = "health_" + std::to_string(getpid());
  Daemon daemon({"--dsn=" + relayed + (relayed.find('?') == std::string::npos ? "?" : "&") +
                     "schema=" + schema,
                 "--health_check_interval_ms=100", "--pool_size=2"});
  CHECK(Health(daemon) == HealthCheckResponse::SERVING);

  relay.Cut();
  CHECK(BecomesWithin(daemon, HealthCheckResponse::NOT_SERVING, std::chrono::seconds(10)));
  CHECK(daemon.Log().find("health: NOT_SERVING") != std::string::npos);

  relay.Restore();
  CHECK(BecomesWithin(daemon, HealthCheckResponse::SERVING, std::chrono::seconds(20)));
  // The store errors logged on the way never show the DSN's password.
  std::smatch password;
  REQUIRE(std::regex_search(dsn, password, std::regex("://[^:/]+:([^@]+)@")));
  CHECK(daemon.Log().find(password[1].str()) == std::string::npos);
}

}  // namespace
}  // namespace pgqrs::testing
