// The file stores' clock: a step of the wall clock while the daemon runs neither expires
// nor extends a lease. A control clock that reads the wall clock directly (what the file
// stores did before DaemonClock) shows the same scenario does catch a stepped deadline.
#include "storage/clock.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>
#include <string>

#include "storage/open_store.h"
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {
namespace {

using storage::Clock;
using storage::DaemonClock;

// A wall clock the test steps: the real one plus an offset.
class SteppedWall {
 public:
  absl::Time Now() const { return absl::Now() + absl::Microseconds(offset_us_.load()); }
  void Step(absl::Duration by) { offset_us_ += absl::ToInt64Microseconds(by); }

 private:
  std::atomic<int64_t> offset_us_{0};
};

// Reads the wall clock on every call, as the file stores used to.
class WallReadingClock final : public Clock {
 public:
  explicit WallReadingClock(const SteppedWall& wall) : wall_(wall) {}
  absl::Time Now() const override { return wall_.Now(); }

 private:
  const SteppedWall& wall_;
};

std::shared_ptr<const Clock> DaemonClockOn(const SteppedWall& wall) {
  return std::make_shared<DaemonClock>(
      [&wall] { return wall.Now(); },
      [] { return absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch()); });
}

std::unique_ptr<storage::Store> OpenWithClock(const std::string& scheme,
                                              std::shared_ptr<const Clock> clock) {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  REQUIRE(tmp != nullptr);
  storage::StoreOptions options;
  options.clock = std::move(clock);
  std::string dsn = scheme + "://" + tmp + "/clock" + std::to_string(counter++) + ".db";
  auto store = Ok(storage::OpenStore(dsn, options));
  Ok(store->Migrate());
  return store;
}

TEST_CASE("DaemonClock reads the wall clock once and then counts monotonic time", "[clock]") {
  absl::Time wall = absl::FromUnixSeconds(1700000000);
  absl::Duration monotonic = absl::Seconds(42);
  DaemonClock clock([&] { return wall; }, [&] { return monotonic; });
  CHECK(clock.Now() == absl::FromUnixSeconds(1700000000));
  monotonic += absl::Seconds(5);
  CHECK(clock.Now() == absl::FromUnixSeconds(1700000005));
  wall += absl::Hours(1);  // a step forward
  CHECK(clock.Now() == absl::FromUnixSeconds(1700000005));
  wall -= absl::Hours(2);  // and backward
  monotonic += absl::Seconds(1);
  CHECK(clock.Now() == absl::FromUnixSeconds(1700000006));
}

TEST_CASE("a wall clock step moves no lease deadline of a file store", "[clock]") {
  for (const std::string scheme : {"sqlite", "engine"}) {
    DYNAMIC_SECTION(scheme) {
      SteppedWall wall;
      auto store = OpenWithClock(scheme, DaemonClockOn(wall));
      MakeQueue(*store, "q");
      EnqueueOne(*store, "q", "1");
      std::vector<storage::Message> leased = DequeueN(*store, "q", 1, absl::Seconds(30));
      REQUIRE(leased.size() == 1);

      // A step forward does not expire the lease: the receipt still acks.
      wall.Step(absl::Hours(1));
      CHECK(Ok(store->ReapMessages(absl::Hours(24), 100)).leases_expired == 0);
      CHECK(Ok(store->GetQueueCounts("q")).in_flight == 1);
      CHECK(AckOne(*store, "q", *leased[0].lease) == storage::LeaseOutcome::kOk);

      // A step backward does not extend one: it ends after its real 300 ms.
      EnqueueOne(*store, "q", "2");
      REQUIRE(DequeueN(*store, "q", 1, absl::Milliseconds(300)).size() == 1);
      wall.Step(absl::Hours(-2));
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      CHECK(Ok(store->ReapMessages(absl::Hours(24), 100)).leases_expired == 1);
      CHECK(DequeueN(*store, "q", 1).size() == 1);
    }
  }
}

TEST_CASE("the control: a clock that reads the wall clock lets a step expire a lease", "[clock]") {
  SteppedWall wall;
  auto store = OpenWithClock("sqlite", std::make_shared<WallReadingClock>(wall));
  MakeQueue(*store, "q");
  EnqueueOne(*store, "q", "1");
  std::vector<storage::Message> leased = DequeueN(*store, "q", 1, absl::Seconds(30));
  REQUIRE(leased.size() == 1);
  wall.Step(absl::Hours(1));
  CHECK(Ok(store->ReapMessages(absl::Hours(24), 100)).leases_expired == 1);
  CHECK(AckOne(*store, "q", *leased[0].lease) == storage::LeaseOutcome::kLeaseLost);
}

}  // namespace
}  // namespace pgqrs::testing
