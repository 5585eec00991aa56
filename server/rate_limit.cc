#include "server/rate_limit.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace pgqrs::server {

TokenBucket::TokenBucket(const RateLimit& limit)
    : interval_ns_(std::max<int64_t>(1, std::llround(1e9 / limit.per_second))),
      tolerance_ns_(interval_ns_ * (limit.burst - 1)) {}

bool TokenBucket::TryTake(int64_t now_ns) {
  int64_t next = next_conforming_ns_.load(std::memory_order_relaxed);
  for (;;) {
    int64_t from = std::max(next, now_ns);
    if (from - now_ns > tolerance_ns_) return false;
    if (next_conforming_ns_.compare_exchange_weak(next, from + interval_ns_,
                                                  std::memory_order_relaxed)) {
      return true;
    }
  }
}

std::shared_ptr<const RateLimits> RateLimits::For(const TokenTable& table,
                                                  const RateLimits* previous) {
  auto limits = std::make_shared<RateLimits>();
  for (const TokenEntry& entry : table.entries()) {
    if (!entry.rate_limit) continue;
    Limited limited{*entry.rate_limit, nullptr};
    if (previous != nullptr) {
      auto old = previous->buckets_.find(entry.hash);
      if (old != previous->buckets_.end() && old->second.limit == limited.limit) {
        limited.bucket = old->second.bucket;
      }
    }
    if (!limited.bucket) limited.bucket = std::make_shared<TokenBucket>(limited.limit);
    limits->buckets_.emplace(entry.hash, std::move(limited));
  }
  return limits;
}

namespace {

int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::Status RateLimits::Take(const TokenEntry& entry) const {
  auto it = buckets_.find(entry.hash);
  if (it == buckets_.end()) return absl::OkStatus();
  if (it->second.bucket->TryTake(MonotonicNanos())) return absl::OkStatus();
  const RateLimit& limit = it->second.limit;
  return absl::ResourceExhaustedError(absl::StrCat("token \"", entry.name,
                                                   "\" is over its rate limit (", limit.per_second,
                                                   " calls/s, burst ", limit.burst, ")"));
}

}  // namespace pgqrs::server
