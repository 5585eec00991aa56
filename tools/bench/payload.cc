#include "tools/bench/payload.h"

#include <time.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pgqrs::bench {

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

PayloadMaker::PayloadMaker(int bytes, uint64_t seed) : bytes_(bytes) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> letter('a', 'z');
  filler_.resize(bytes > 0 ? bytes : 0);
  for (char& c : filler_) c = static_cast<char>(letter(rng));
}

std::string PayloadMaker::Make(int64_t now_nanos) {
  std::string body = absl::StrCat("{\"t\":", now_nanos, ",\"p\":\"");
  // What is left after the closing `"}`.
  int room = bytes_ - static_cast<int>(body.size()) - 2;
  if (room > 0) body.append(filler_, 0, room);
  body.append("\"}");
  return body;
}

std::optional<int64_t> StampOf(std::string_view body) {
  constexpr std::string_view kPrefix = "{\"t\":";
  if (body.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  size_t end = body.find(',', kPrefix.size());
  if (end == std::string_view::npos) return std::nullopt;
  int64_t stamp = 0;
  if (!absl::SimpleAtoi(absl::string_view(body.data() + kPrefix.size(), end - kPrefix.size()),
                        &stamp)) {
    return std::nullopt;
  }
  return stamp;
}

}  // namespace pgqrs::bench
