// One faultcheck run: start the daemons, run the workload while injecting faults, drain,
// read back the final states, check the history and print the report.
#pragma once

#include <set>
#include <string>

#include "absl/time/time.h"
#include "tools/faultcheck/checker.h"
#include "tools/faultcheck/faults.h"
#include "tools/faultcheck/workload.h"

namespace pgqrs::faultcheck {

struct RunOptions {
  std::string store;  // sqlite, engine or postgres
  std::string dsn;    // never printed: it may hold a password
  std::string pgqrsd;
  std::string workdir;
  std::string history_path;
  int daemons = 1;
  absl::Duration duration = absl::Seconds(30);
  absl::Duration drain_timeout = absl::Seconds(90);  // without progress
  uint64_t seed = 1;
  int64_t clock_margin_us = 10'000;
  std::set<std::string> required_faults;  // every enabled kind, "cancel" included
  WorkloadOptions workload;
  FaultOptions faults;
};

// Prints progress on stderr and the report on stdout. Returns the exit status: 0 PASS,
// 1 FAIL, 2 when the daemons could not be set up.
int RunFaultcheck(const RunOptions& options);

}  // namespace pgqrs::faultcheck
