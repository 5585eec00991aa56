// What /proc says about a process: threads, memory and CPU time. Linux only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace pgqrs::bench {

struct ProcessStats {
  int threads = 0;
  int64_t rss_bytes = 0;       // VmRSS
  int64_t peak_rss_bytes = 0;  // VmHWM
  double cpu_seconds = 0;      // user + system
  // Voluntary and involuntary context switches of all its threads (live ones only).
  int64_t context_switches = 0;
};

// Reads /proc/PID/status, /proc/PID/stat and /proc/PID/task/*/status. NOT_FOUND when the process is
// gone.
absl::StatusOr<ProcessStats> ReadProcessStats(pid_t pid);

// {"threads": .., "rss_mib": .., "peak_rss_mib": ..}
nlohmann::json ToJson(const ProcessStats& stats);

}  // namespace pgqrs::bench
