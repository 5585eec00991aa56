// The faults faultcheck injects on the server side, one at a time, each recorded in the
// history as a "fault" event spanning the outage:
//   kill        SIGKILL a daemon, then restart it on the same data and port;
//   pause       SIGSTOP a daemon for longer than a lease, then SIGCONT it;
//   pg_restart  restart PostgreSQL (tools/pg/cluster.sh restart-pg: immediate shutdown).
// Client-side cancellation is the Caller's (caller.h).
#pragma once

#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/faultcheck/daemons.h"
#include "tools/faultcheck/history.h"

namespace pgqrs::faultcheck {

struct FaultOptions {
  std::vector<std::string> kinds;  // of kill, pause, pg_restart
  std::string pg_cluster_script;   // for pg_restart
  std::string pg_dir;              // for pg_restart
  absl::Duration pause = absl::Seconds(2);
  absl::Duration min_gap = absl::Seconds(1);
  absl::Duration max_gap = absl::Seconds(3);
  uint64_t seed = 1;
};

class FaultInjector {
 public:
  FaultInjector(std::vector<DaemonProcess*> daemons, HistoryWriter* history, FaultOptions options);

  // Injects faults, taking the kinds in turn, until `until`. On return every daemon runs.
  // An error when a daemon or PostgreSQL could not be brought back.
  absl::Status Run(absl::Time until);

 private:
  absl::Status Inject(const std::string& kind);
  absl::Status KillAndRestart(size_t daemon);
  void PauseAndResume(size_t daemon);
  absl::Status RestartPostgres();

  std::vector<DaemonProcess*> daemons_;
  HistoryWriter* history_;
  FaultOptions options_;
  std::mt19937_64 rng_;
};

}  // namespace pgqrs::faultcheck
