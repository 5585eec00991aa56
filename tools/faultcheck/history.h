// The history faultcheck records: one JSON object per line, one line per call made (and
// per fault injected, side effect performed and final state read after the drain).
//
// Every event has "op", "start" and "end" (wall-clock microseconds since the Unix epoch, the
// clock the daemons stamp visible_at with) and, for calls, "status" ("OK" or the gRPC code
// name), "proc" (the client thread) and "daemon" (its index). The per-op fields are listed
// in README.md ("Fault checking").
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pgqrs::faultcheck {

using Event = nlohmann::json;
using History = std::vector<Event>;

// Wall-clock microseconds since the Unix epoch.
int64_t NowMicros();

// Appends events to a JSON-lines file (when a path is given) and keeps them in memory for
// the checker. Thread-safe.
class HistoryWriter {
 public:
  // An empty path keeps the history in memory only.
  static absl::StatusOr<std::unique_ptr<HistoryWriter>> Open(const std::string& path);

  void Append(Event event);
  // The events appended so far, in append order.
  History Snapshot() const;

 private:
  mutable std::mutex mu_;
  std::ofstream out_;
  History events_;
};

// Reads a history file written by HistoryWriter.
absl::StatusOr<History> ReadHistory(const std::string& path);

}  // namespace pgqrs::faultcheck
