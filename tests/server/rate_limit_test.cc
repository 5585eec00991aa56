#include "server/rate_limit.h"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

namespace pgqrs::server {
namespace {

constexpr int64_t kSecond = 1000000000;

TEST_CASE("a token bucket allows its burst, then its rate", "[server][limits]") {
  TokenBucket bucket(RateLimit{10, 3});  // one call per 100 ms, three at once
  int64_t t = 5 * kSecond;
  CHECK(bucket.TryTake(t));
  CHECK(bucket.TryTake(t));
  CHECK(bucket.TryTake(t));
  CHECK_FALSE(bucket.TryTake(t));
  CHECK_FALSE(bucket.TryTake(t + kSecond / 20));  // half a refill
  CHECK(bucket.TryTake(t + kSecond / 10));        // one refill: one call
  CHECK_FALSE(bucket.TryTake(t + kSecond / 10));
  // Idle time refills up to the burst, never beyond.
  t += 10 * kSecond;
  for (int i = 0; i < 3; ++i) CHECK(bucket.TryTake(t));
  CHECK_FALSE(bucket.TryTake(t));
}

TEST_CASE("concurrent callers never spend more than the bucket holds", "[server][limits]") {
  TokenBucket bucket(RateLimit{0.001, 1000});  // no refill during the test
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 1000; ++j) {
        if (bucket.TryTake(kSecond)) ++taken;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(taken == 1000);
}

TEST_CASE("rate limits name the token and survive a reload of an unchanged limit",
          "[server][limits]") {
  std::string a = std::string(64, 'a'), b = std::string(64, 'b');
  absl::StatusOr<TokenTable> first =
      TokenTable::Parse("slow " + a + " reader * rate=0.001 burst=1\nfree " + b + " reader *");
  REQUIRE(first.ok());
  std::shared_ptr<const RateLimits> limits = RateLimits::For(*first, nullptr);
  const TokenEntry& slow = first->entries()[0];
  const TokenEntry& free = first->entries()[1];
  CHECK(limits->Take(slow).ok());
  absl::Status over = limits->Take(slow);
  CHECK(absl::IsResourceExhausted(over));
  CHECK(over.message().find("\"slow\"") != std::string::npos);
  CHECK(over.message().find("0.001 calls/s, burst 1") != std::string::npos);
  for (int i = 0; i < 100; ++i) CHECK(limits->Take(free).ok());

  // The same limit keeps the spent bucket; a changed one starts full.
  std::shared_ptr<const RateLimits> same = RateLimits::For(*first, limits.get());
  CHECK(absl::IsResourceExhausted(same->Take(slow)));
  absl::StatusOr<TokenTable> raised =
      TokenTable::Parse("slow " + a + " reader * rate=0.001 burst=2");
  REQUIRE(raised.ok());
  std::shared_ptr<const RateLimits> changed = RateLimits::For(*raised, same.get());
  CHECK(changed->Take(raised->entries()[0]).ok());
}

}  // namespace
}  // namespace pgqrs::server
