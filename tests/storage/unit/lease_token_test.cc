#include "storage/lease_token.h"

#include <catch2/catch.hpp>
#include <set>

namespace pgqrs::storage {
namespace {

TEST_CASE("lease tokens are positive, distinct and use all 63 bits", "[storage][lease]") {
  absl::StatusOr<std::vector<int64_t>> tokens = NewLeaseTokens(10000);
  REQUIRE(tokens.ok());
  REQUIRE(tokens->size() == 10000);
  std::set<int64_t> seen(tokens->begin(), tokens->end());
  CHECK(seen.size() == tokens->size());
  CHECK(*seen.begin() > 0);
  // Each of the 63 bits is set in some token and clear in another.
  for (int bit = 0; bit < 63; ++bit) {
    int64_t mask = int64_t{1} << bit;
    size_t set = 0;
    for (int64_t t : *tokens) set += (t & mask) != 0;
    INFO("bit " << bit);
    CHECK(set > 4000);
    CHECK(set < 6000);
  }
  CHECK(NewLeaseTokens(0)->empty());
}

}  // namespace
}  // namespace pgqrs::storage
