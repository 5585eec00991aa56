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
  // Stores may hand the body back re-serialised (PostgreSQL's JSONB reorders keys and
  // adds spaces), so look for the "t" member rather than a fixed prefix.
  size_t key = body.find("\"t\"");
  if (key == std::string_view::npos) return std::nullopt;
  size_t pos = key + 3;
  while (pos < body.size() && (body[pos] == ' ' || body[pos] == ':')) ++pos;
  size_t end = pos;
  while (end < body.size() && body[end] >= '0' && body[end] <= '9') ++end;
  int64_t stamp = 0;
  if (end == pos || !absl::SimpleAtoi(absl::string_view(body.data() + pos, end - pos), &stamp)) {
    return std::nullopt;
  }
  return stamp;
}

}  // namespace pgqrs::bench
