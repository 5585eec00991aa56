// The clients faultcheck runs against the daemons while faults are injected: producers,
// consumers, a run starter and workflow workers, each a thread that records every call it
// makes in the history.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "tools/faultcheck/history.h"

namespace pgqrs::faultcheck {

class Caller;

inline constexpr char kQueue[] = "faultcheck";
inline constexpr char kWorkflow[] = "faultcheck_flow";
inline constexpr int kMaxReadCount = 5;
// Producers and the starter wait while more messages (runs) than this are unsettled.
inline constexpr int64_t kMaxMessageBacklog = 300;
inline constexpr int64_t kMaxRunBacklog = 30;

// kFaults: the full workload while faults are injected. kDrain: no new work, and no
// cancelling, nacking or stalling, so everything left is delivered. kStop: threads return.
enum class Phase { kFaults, kDrain, kStop };

struct WorkloadOptions {
  int producers = 2;
  int consumers = 3;
  int workflow_workers = 2;
  // Lease length of Dequeue and ClaimRun. Clients sometimes stall past it on purpose.
  int64_t visibility_timeout_ms = 1500;
  // Share of calls cut short by a 1-20 ms deadline while faults run (0 turns it off).
  int cancel_percent = 10;
  uint64_t seed = 1;
};

class Workload {
 public:
  Workload(std::vector<std::shared_ptr<grpc::Channel>> channels, HistoryWriter* history,
           WorkloadOptions options);
  ~Workload();  // Stop()s

  // Creates the queue and the workflow, retrying while the daemons start.
  absl::Status Setup();
  void Start();
  void BeginDrain();  // enters Phase::kDrain
  void Stop();

 private:
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  HistoryWriter* history_;
  WorkloadOptions options_;
  std::atomic<Phase> phase_{Phase::kFaults};
  std::vector<std::shared_ptr<Caller>> callers_;
  std::vector<std::thread> threads_;
};

}  // namespace pgqrs::faultcheck
