// Lease tokens: the secret half of a receipt. They come from the operating system's
// CSPRNG (OpenSSL RAND_bytes), so a receipt cannot be guessed from other receipts, and
// are drawn in the daemon for every adapter alike.
//
// Thread safety: may be called from any thread.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace pgqrs::storage {

// `count` tokens, each uniform in [1, 2^63 - 1]. UNAVAILABLE if no secure randomness.
absl::StatusOr<std::vector<int64_t>> NewLeaseTokens(size_t count);

}  // namespace pgqrs::storage
