#include "storage/lease_token.h"

#include <openssl/rand.h>

#include <limits>

#include "absl/status/status.h"

namespace pgqrs::storage {

absl::StatusOr<std::vector<int64_t>> NewLeaseTokens(size_t count) {
  std::vector<uint64_t> raw(count);
  while (true) {
    if (count > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()),
                                static_cast<int>(count * sizeof(uint64_t))) != 1) {
      return absl::UnavailableError("no secure randomness for lease tokens");
    }
    std::vector<int64_t> tokens;
    tokens.reserve(count);
    for (uint64_t r : raw) {
      int64_t token = static_cast<int64_t>(r & std::numeric_limits<int64_t>::max());
      if (token == 0) break;  // 0 means "no lease": draw again (p = 2^-63)
      tokens.push_back(token);
    }
    if (tokens.size() == count) return tokens;
  }
}

}  // namespace pgqrs::storage
