// The background reapers (API.md "Reapers"), on one thread:
//   - heartbeat reaper: stops workers silent for longer than worker_timeout and releases
//     their leases at once;
//   - visibility reaper: ends expired leases (dead-lettering at max_read_count), deletes
//     archived messages past retention, and wakes long-polls on queues whose delayed or
//     expired messages became visible. It works in store transactions of at most
//     kReapBatch rows of each kind, batch after batch until none remain or the pass has
//     used one visibility interval; the next pass carries on;
//   - retention, at the heartbeat reaper's cadence: deletes finished runs (with their
//     steps) and stopped workers older than config.retention, in the same bounded batches.
// A failed pass is logged and retried at the next interval.
//
// Thread safety: construct and destroy from one thread; the work runs on its own thread.
#pragma once

#include <thread>

#include "absl/synchronization/mutex.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/waiters.h"
#include "storage/store.h"

namespace pgqrs::server {

// Rows of each kind one reaper transaction touches at most.
inline constexpr int32_t kReapBatch = 1000;

class Reapers {
 public:
  // Starts the reaper thread.
  Reapers(storage::Store& store, WaiterRegistry& waiters, const Config& config, Metrics& metrics);
  Reapers(const Reapers&) = delete;
  Reapers& operator=(const Reapers&) = delete;
  // Stops the thread; a pass in progress finishes first.
  ~Reapers();

 private:
  void Loop();
  void ReapHeartbeats();
  void DeleteOldHistory();
  void ReapVisibility();
  // Reaps batch after batch from `start` on; the sums of the batches.
  absl::StatusOr<storage::ReapReport> ReapInBatches(absl::Time start);

  storage::Store& store_;
  WaiterRegistry& waiters_;
  const Config& config_;
  Metrics& metrics_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Wakes parked consumers on every queue that a reclaim released messages into.
void WakeReleased(WaiterRegistry& waiters, const storage::ReclaimReport& report);

}  // namespace pgqrs::server
