// The longpoll scenario: N Dequeue calls with wait_ms parked on one pgqrs queue at once
// (gRPC callback API, no client thread per call), then single-message enqueues, one at
// a time, each of which should wake exactly one parked call. Measures the wake latency
// (Enqueue sent -> the woken Dequeue's reply) and, given the daemon's pid, its threads
// and resident memory idle and with N calls parked, against the targets of
// DESIGN.md: 10,000 parked calls in at most 64 threads and 300 MiB.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "tools/bench/options.h"
#include "tools/bench/report.h"
#include "tools/client/channel.h"

namespace pgqrs::bench {

struct LongPollOptions {
  std::string server;                       // pgqrsd's HOST:PORT
  client::ClientIdentity identity;          // TLS and token
  int parked = 10000;                       // N: calls kept parked
  int wakes = 200;                          // enqueue-and-wake rounds measured
  int channels = 8;                         // TCP connections the parked calls spread over
  absl::Duration wait = absl::Seconds(60);  // each parked call's wait_ms
  pid_t daemon_pid = 0;                     // 0: no /proc figures
};

// Runs the scenario; the result's messages are the wakes seen, its latency the wake
// latency. Fails when the queue cannot be created.
absl::StatusOr<RunResult> RunLongPoll(const LongPollOptions& options,
                                      const WorkloadOptions& workload);

}  // namespace pgqrs::bench
