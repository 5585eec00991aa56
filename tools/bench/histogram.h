// Histogram records latencies in nanoseconds in log-linear buckets (32 per power of two,
// so a reported percentile is within about 3% of the true value) in constant memory.
//
// Thread safety: none. Each worker thread records into its own Histogram; the driver
// merges them when the run is over.
#pragma once

#include <cstdint>
#include <vector>

namespace pgqrs::bench {

class Histogram {
 public:
  Histogram();

  // Adds one sample. Negative values count as 0.
  void Record(int64_t nanos);
  // Adds every sample of `other`.
  void Merge(const Histogram& other);

  int64_t count() const { return count_; }
  int64_t max() const { return max_; }
  // The smallest recorded value v such that at least `fraction` of the samples are <= v
  // (up to bucket precision). 0 when empty. REQUIRES: 0 < fraction <= 1.
  int64_t Percentile(double fraction) const;

 private:
  std::vector<int64_t> buckets_;
  int64_t count_ = 0;
  int64_t max_ = 0;
};

}  // namespace pgqrs::bench
