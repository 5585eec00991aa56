#include <catch2/catch.hpp>

#include "server/limits.h"

namespace pgqrs::server {
namespace {

TEST_CASE("long-polls are capped per connection and in total", "[server][limits]") {
  LongPollLimiter limiter(/*per_connection=*/2, /*total=*/3);
  int calls[5];
  CHECK(limiter.Admit(&calls[0], "a").ok());
  CHECK(limiter.Admit(&calls[1], "a").ok());
  absl::Status third_a = limiter.Admit(&calls[2], "a");
  CHECK(third_a.code() == absl::StatusCode::kResourceExhausted);
  CHECK(third_a.message().find("--max_long_polls_per_connection=2") != std::string::npos);
  CHECK(limiter.Admit(&calls[3], "b").ok());
  absl::Status over_total = limiter.Admit(&calls[4], "c");
  CHECK(over_total.code() == absl::StatusCode::kResourceExhausted);
  CHECK(over_total.message().find("--max_long_polls=3") != std::string::npos);
  CHECK(limiter.parked() == 3);

  limiter.Release(&calls[0]);
  limiter.Release(&calls[2]);  // never admitted: no effect
  CHECK(limiter.parked() == 2);
  CHECK(limiter.Admit(&calls[2], "a").ok());
}

}  // namespace
}  // namespace pgqrs::server
