// Per-token rate limits (a token's `rate=` and `burst=` in the tokens file, tokens.h).
//
// Each limited token has a token bucket. The bucket is kept as one atomic (the time its
// next call conforms, the generic cell rate algorithm), so concurrent calls of one token
// never take a lock.
//
// Thread safety: TokenBucket and RateLimits may be used from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "server/tokens.h"

namespace pgqrs::server {

class TokenBucket {
 public:
  explicit TokenBucket(const RateLimit& limit);

  // Spends one call at `now_ns` (a monotonic clock); false, spending nothing, when the
  // bucket is empty. A new bucket is full.
  bool TryTake(int64_t now_ns);

 private:
  const int64_t interval_ns_;   // one call's refill time
  const int64_t tolerance_ns_;  // how far ahead of now the next call may conform
  std::atomic<int64_t> next_conforming_ns_{INT64_MIN};
};

// The buckets of one token table's limited tokens.
class RateLimits {
 public:
  // Buckets for `table`. A token with the same hash and limit in `previous` (the table in
  // force before a reload) keeps its bucket, so reloading refills nobody.
  static std::shared_ptr<const RateLimits> For(const TokenTable& table, const RateLimits* previous);

  // OK, or RESOURCE_EXHAUSTED naming the token and its limit when it is over it.
  absl::Status Take(const TokenEntry& entry) const;

 private:
  struct Limited {
    RateLimit limit;
    std::shared_ptr<TokenBucket> bucket;
  };
  absl::flat_hash_map<TokenHash, Limited> buckets_;
};

}  // namespace pgqrs::server
