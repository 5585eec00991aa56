#include "server/waiters.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

namespace pgqrs::server {
namespace {

using Reasons = std::vector<WakeReason>;

struct Recorder {
  absl::Mutex mu;
  Reasons reasons;
  WaiterRegistry::Wake Callback() {
    return [this](WakeReason r) {
      absl::MutexLock lock(&mu);
      reasons.push_back(r);
    };
  }
  size_t size() {
    absl::MutexLock lock(&mu);
    return reasons.size();
  }
};

TEST_CASE("notify wakes up to N waiters oldest first", "[server][waiters]") {
  WaiterRegistry registry;
  Recorder a, b, c;
  absl::Time far = absl::Now() + absl::Hours(1);
  registry.Park("q", registry.Version("q"), far, a.Callback());
  registry.Park("q", registry.Version("q"), far, b.Callback());
  registry.Park("other", registry.Version("other"), far, c.Callback());
  CHECK(registry.parked() == 3);
  registry.Notify("q", 1);
  CHECK(a.size() == 1);
  CHECK(b.size() == 0);
  registry.NotifyAll("q");
  CHECK(b.size() == 1);
  CHECK(c.size() == 0);
  CHECK(registry.KeysWithWaiters() == std::vector<std::string>{"other"});
}

TEST_CASE("a notify between reading the version and parking is not lost", "[server][waiters]") {
  WaiterRegistry registry;
  Recorder r;
  uint64_t seen = registry.Version("q");
  registry.Notify("q", 1);  // nobody parked yet
  registry.Park("q", seen, absl::Now() + absl::Hours(1), r.Callback());
  REQUIRE(r.size() == 1);
  CHECK(r.reasons[0] == WakeReason::kNotified);
  CHECK(registry.parked() == 0);
}

TEST_CASE("deadlines, cancel and shutdown each wake exactly once", "[server][waiters]") {
  WaiterRegistry registry;
  Recorder timed, cancelled, stopped;
  registry.Park("q", 0, absl::Now() + absl::Milliseconds(50), timed.Callback());
  auto ticket = registry.Park("q", 0, absl::Now() + absl::Hours(1), cancelled.Callback());
  registry.Park("q", 0, absl::Now() + absl::Hours(1), stopped.Callback());
  registry.Cancel(ticket);
  registry.Cancel(ticket);
  for (int i = 0; i < 200 && timed.size() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  registry.Shutdown();
  CHECK(timed.reasons == Reasons{WakeReason::kDeadline});
  CHECK(cancelled.reasons == Reasons{WakeReason::kCancelled});
  CHECK(stopped.reasons == Reasons{WakeReason::kShutdown});
  Recorder late;
  registry.Park("q", 0, absl::Now() + absl::Hours(1), late.Callback());
  CHECK(late.reasons == Reasons{WakeReason::kShutdown});
}

TEST_CASE("many threads parking and notifying wake every waiter once", "[server][waiters]") {
  WaiterRegistry registry;
  std::atomic<int> woken{0};
  constexpr int kWaiters = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kWaiters / 4; ++i) {
        registry.Park("q", registry.Version("q"), absl::Now() + absl::Seconds(30),
                      [&](WakeReason) { woken++; });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  registry.NotifyAll("q");
  CHECK(woken == kWaiters);
  CHECK(registry.parked() == 0);
}

TEST_CASE("keys are freed: notifying made-up keys does not grow the registry",
          "[server][waiters]") {
  WaiterRegistry registry;
  for (int i = 0; i < 60000; ++i) registry.Notify("run:" + std::to_string(i), 1);
  CHECK(registry.key_count() == 0);
  Recorder parked;
  absl::Time far = absl::Now() + absl::Hours(1);
  auto ticket = registry.Park("run:1", registry.Version("run:1"), far, parked.Callback());
  registry.Park("run:2", registry.Version("run:2"), far, parked.Callback());
  CHECK(registry.key_count() == 2);
  registry.Cancel(ticket);
  registry.NotifyAll("run:2");
  CHECK(parked.size() == 2);
  CHECK(registry.key_count() == 0);
}

TEST_CASE("a notify between reading the version and parking is not lost for any key",
          "[server][waiters]") {
  WaiterRegistry registry;
  for (int i = 0; i < 10000; ++i) {
    std::string key = "run:" + std::to_string(i);
    Recorder r;
    uint64_t seen = registry.Version(key);
    registry.Notify(key, 1);
    registry.Park(key, seen, absl::Now() + absl::Hours(1), r.Callback());
    REQUIRE(r.size() == 1);
  }
  CHECK(registry.parked() == 0);
}

}  // namespace
}  // namespace pgqrs::server
