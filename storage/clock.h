// The clock of the file stores (sqlite://, engine://): where lease deadlines, delays,
// heartbeats and every stored timestamp come from. PostgreSQL does not use it: there the
// database server's now() is the one clock every daemon sharing the database agrees on.
//
// Thread safety: Now() may be called from any thread.
#pragma once

#include <functional>
#include <memory>

#include "absl/time/time.h"

namespace pgqrs::storage {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// Wall-clock time that never jumps while the process runs: the wall clock read once, at
// construction, plus the monotonic time elapsed since. Timestamps stay comparable with the
// wall clock, so a file keeps meaning across restarts, but a step of the wall clock (NTP
// correcting a large offset, `date -s`) moves no deadline until the next restart, which
// reads the wall clock again. CLOCK_MONOTONIC takes NTP's rate corrections as the wall
// clock does, so the two differ only by the steps taken since construction.
class DaemonClock final : public Clock {
 public:
  // The time sources, injectable for tests: `wall` is read once; `monotonic` returns a
  // duration since any fixed origin that only moves forwards.
  using WallSource = std::function<absl::Time()>;
  using MonotonicSource = std::function<absl::Duration()>;

  // absl::Now() and std::chrono::steady_clock.
  DaemonClock();
  DaemonClock(const WallSource& wall, MonotonicSource monotonic);

  absl::Time Now() const override { return start_ + (monotonic_() - monotonic_start_); }

 private:
  MonotonicSource monotonic_;
  absl::Time start_;
  absl::Duration monotonic_start_;
};

// The process's DaemonClock, started at its first use; what the file stores use unless
// StoreOptions names another.
std::shared_ptr<const Clock> ProcessClock();

}  // namespace pgqrs::storage
