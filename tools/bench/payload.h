// Message bodies for the benchmarks: a JSON object that carries the moment it was made,
// padded to the requested size, so a consumer can measure enqueue-to-ack latency from
// the body alone, whatever the target.
//
//   {"t":123456789012,"p":"qwhzk..."}
//
// "t" is MonotonicNanos() when the producer built the message. Every process on one
// machine shares that clock, but the benchmarks only compare values from one process.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace pgqrs::bench {

// CLOCK_MONOTONIC in nanoseconds.
int64_t MonotonicNanos();

// Builds bodies of one size with filler drawn from a seeded generator.
//
// Thread safety: none; each worker has its own.
class PayloadMaker {
 public:
  // Bodies are `bytes` long, or the shortest valid body when that is larger (about 30).
  PayloadMaker(int bytes, uint64_t seed);

  // A body stamped with `now_nanos`.
  std::string Make(int64_t now_nanos);

 private:
  std::string filler_;
  int bytes_;
};

// The "t" stamp of a body made by PayloadMaker; nullopt for anything else.
std::optional<int64_t> StampOf(std::string_view body);

}  // namespace pgqrs::bench
