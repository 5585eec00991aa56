#include "server/health.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

namespace pgqrs::server {
namespace {

// Records what the monitor publishes.
class FakeHealth : public grpc::HealthCheckServiceInterface {
 public:
  void SetServingStatus(const std::string&, bool serving) override { SetServingStatus(serving); }
  void SetServingStatus(bool serving) override {
    serving_ = serving;
    ++updates_;
  }
  bool serving() const { return serving_; }
  int updates() const { return updates_; }

 private:
  std::atomic<bool> serving_{true};
  std::atomic<int> updates_{0};
};

template <typename Predicate>
bool Eventually(Predicate done) {
  for (int i = 0; i < 200 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST_CASE("health follows the store and stays down once draining", "[server][health]") {
  FakeHealth health;
  std::atomic<bool> store_up{false};
  auto probe = [&] {
    return store_up ? absl::OkStatus() : absl::UnavailableError("connection refused");
  };
  HealthMonitor monitor(health, probe, absl::Milliseconds(10));
  CHECK_FALSE(health.serving());  // the store was down from the start

  store_up = true;
  CHECK(Eventually([&] { return health.serving(); }));
  store_up = false;
  CHECK(Eventually([&] { return !health.serving(); }));
  store_up = true;
  CHECK(Eventually([&] { return health.serving(); }));

  monitor.Drain();
  CHECK_FALSE(health.serving());
  int updates = health.updates();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(health.serving());  // the store still answers, but the daemon is draining
  CHECK(health.updates() == updates);
}

}  // namespace
}  // namespace pgqrs::server
