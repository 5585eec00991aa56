#include "tools/bench/histogram.h"

#include <algorithm>
#include <bit>

namespace pgqrs::bench {
namespace {

// Values below kLinear get a bucket each; above, each power of two is split into
// kSubBuckets buckets by the value's next five bits.
constexpr int kLinear = 64;
constexpr int kSubBuckets = 32;
constexpr int kBuckets = kLinear + (64 - 6) * kSubBuckets;

int BucketOf(uint64_t v) {
  if (v < kLinear) return static_cast<int>(v);
  int msb = 63 - std::countl_zero(v);  // >= 6
  int shift = msb - 5;
  int top = static_cast<int>(v >> shift);  // 32..63
  return kLinear + (msb - 6) * kSubBuckets + (top - kSubBuckets);
}

// The largest value that falls in `bucket`, so percentiles never under-report.
int64_t UpperBound(int bucket) {
  if (bucket < kLinear) return bucket;
  int msb = (bucket - kLinear) / kSubBuckets + 6;
  int top = (bucket - kLinear) % kSubBuckets + kSubBuckets;
  int shift = msb - 5;
  return ((static_cast<int64_t>(top) + 1) << shift) - 1;
}

}  // namespace

Histogram::Histogram() : buckets_(kBuckets, 0) {}

void Histogram::Record(int64_t nanos) {
  uint64_t v = nanos < 0 ? 0 : static_cast<uint64_t>(nanos);
  ++buckets_[BucketOf(v)];
  ++count_;
  max_ = std::max<int64_t>(max_, static_cast<int64_t>(v));
}

void Histogram::Merge(const Histogram& other) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

int64_t Histogram::Percentile(double fraction) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<int64_t>(fraction * static_cast<double>(count_) + 0.999999);
  rank = std::clamp<int64_t>(rank, 1, count_);
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(UpperBound(i), max_);
  }
  return max_;
}

}  // namespace pgqrs::bench
