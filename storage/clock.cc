#include "storage/clock.h"

#include <chrono>
#include <utility>

#include "absl/time/clock.h"

namespace pgqrs::storage {
namespace {

absl::Duration SteadyNow() {
  return absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

}  // namespace

DaemonClock::DaemonClock() : DaemonClock(absl::Now, SteadyNow) {}

DaemonClock::DaemonClock(const WallSource& wall, MonotonicSource monotonic)
    : monotonic_(std::move(monotonic)), start_(wall()), monotonic_start_(monotonic_()) {}

std::shared_ptr<const Clock> ProcessClock() {
  static const std::shared_ptr<const Clock> clock = std::make_shared<DaemonClock>();
  return clock;
}

}  // namespace pgqrs::storage
