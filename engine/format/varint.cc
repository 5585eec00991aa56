#include "engine/format/varint.h"

namespace pgqrs::engine {

int VarintLength(uint64_t v) {
  if (v > (uint64_t{1} << 56) - 1) return 9;
  int n = 1;
  while (v > 0x7f) {
    v >>= 7;
    ++n;
  }
  return n;
}

int PutVarint(uint8_t* dst, uint64_t v) {
  if (v > (uint64_t{1} << 56) - 1) {
    dst[8] = static_cast<uint8_t>(v);
    v >>= 8;
    for (int i = 7; i >= 0; --i) {
      dst[i] = static_cast<uint8_t>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    return 9;
  }
  uint8_t tmp[9];
  int n = 0;
  do {
    tmp[n++] = static_cast<uint8_t>((v & 0x7f) | 0x80);
    v >>= 7;
  } while (v != 0);
  tmp[0] &= 0x7f;
  for (int i = 0; i < n; ++i) dst[i] = tmp[n - 1 - i];
  return n;
}

int GetVarint(const uint8_t* p, size_t avail, uint64_t* out) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    if (static_cast<size_t>(i) >= avail) return 0;
    v = (v << 7) | (p[i] & 0x7f);
    if ((p[i] & 0x80) == 0) {
      *out = v;
      return i + 1;
    }
  }
  if (avail < 9) return 0;
  *out = (v << 8) | p[8];
  return 9;
}

}  // namespace pgqrs::engine
