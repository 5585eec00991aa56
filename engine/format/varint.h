// SQLite varints: 1..9 bytes, big-endian, 7 bits per byte for bytes 1..8, 8 bits in byte 9.
// Thread safety: stateless functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgqrs::engine {

inline constexpr int kMaxVarintLength = 9;

// Returns the number of bytes PutVarint writes for `v` (1..9).
int VarintLength(uint64_t v);

// Writes `v` at `dst`, which must have room for VarintLength(v) bytes. Returns that length.
int PutVarint(uint8_t* dst, uint64_t v);

// Decodes a varint from [p, p+avail). Returns the number of bytes consumed, or 0 if the
// input ends before the varint does (never reads past p+avail).
int GetVarint(const uint8_t* p, size_t avail, uint64_t* out);

// Big-endian fixed-width helpers.
inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace pgqrs::engine
