// A histogram over fixed bucket bounds that any thread records into without a lock (relaxed
// atomics) and that readers copy out as a snapshot. The engine and the embedded stores keep
// their commit statistics in these; exporters (server/metrics.cc) turn snapshots into their
// own format, so nothing below the server depends on a metrics library.
//
// Thread safety: Record and Snapshot may be called from any thread. A snapshot taken while
// others record may miss their values; it never counts one twice.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace pgqrs::engine {

struct HistogramSnapshot {
  std::vector<double> upper_bounds;  // ascending, inclusive
  // Values per bucket, not cumulative: upper_bounds.size() + 1 entries, the last for
  // values above every bound.
  std::vector<uint64_t> counts;
  double sum = 0;

  uint64_t count() const;
};

class Histogram {
 public:
  // REQUIRES: `upper_bounds` ascending.
  explicit Histogram(std::vector<double> upper_bounds);

  void Record(double value);
  HistogramSnapshot Snapshot() const;

 private:
  const std::vector<double> upper_bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

}  // namespace pgqrs::engine
