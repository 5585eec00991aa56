// RunResult is what one benchmark run measured, and the two ways it is printed: one JSON
// line for scripts (compare.sh) and a short table for people.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/bench/histogram.h"
#include "tools/bench/options.h"

namespace pgqrs::bench {

struct RunResult {
  std::string tool;    // "pgqrs-bench" or "store-bench"
  std::string target;  // Target::name()
  std::string server;  // address, or DSN with any password redacted
  WorkloadOptions options;
  absl::Duration elapsed;  // length of the measured phase
  int64_t messages = 0;    // messages completed in the measured phase
  // What `latency` measures, e.g. "enqueue_to_ack" or "enqueue_call".
  std::string latency_name;
  Histogram latency;
  std::map<std::string, Histogram> calls;           // per call kind ("enqueue", "dequeue", "ack")
  std::map<std::string, int64_t> errors;            // per canonical status code name
  double client_cpu_seconds = 0;                    // user + system CPU of this process
  nlohmann::json extra = nlohmann::json::object();  // figures only some runs have

  double throughput() const;
  // Counts `status` under its code name (e.g. "UNAVAILABLE"). REQUIRES: !status.ok().
  void CountError(const absl::Status& status);
};

// The run as one line of JSON (no newline). Latencies are in microseconds.
std::string ToJsonLine(const RunResult& result);
// The run as a few lines of aligned text.
std::string ToTable(const RunResult& result);

// How the bench tools end: prints the run (the table on stderr, the JSON line on stdout,
// with `tool` and `server` filled in) and returns 0, or prints the error and returns 1.
int ReportRun(absl::StatusOr<RunResult> result, const std::string& tool, const std::string& server);

// This process's user + system CPU seconds so far.
double ProcessCpuSeconds();

}  // namespace pgqrs::bench
