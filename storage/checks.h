// Input checks every Store adapter repeats for the workflow calls, as defence in depth:
// the server validates requests first, with field names and indexes of its own.
// Each returns INVALID_ARGUMENT naming `field`.
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace pgqrs::storage {

inline constexpr size_t kMaxStepNameBytes = 255;
inline constexpr size_t kMaxIdempotencyKeyBytes = 255;

// A step name: 1 to kMaxStepNameBytes bytes.
absl::Status CheckStepName(const std::string& name);

// One well-formed JSON document.
absl::Status CheckJsonDocument(const std::string& field, const std::string& text);

}  // namespace pgqrs::storage
