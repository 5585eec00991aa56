// Input checks every Store adapter repeats, as defence in depth and so that every
// adapter refuses the same input: the server validates requests first, with field names
// and indexes of its own. Each returns INVALID_ARGUMENT naming `field`.
//
// Strings are stored byte-exact or refused: PostgreSQL's text and JSONB cannot hold a
// NUL byte, so no store accepts one (names, keys, labels, JSON), and a JSON document is
// accepted only if every store can keep it.
//
// Thread safety: pure functions.
#pragma once

#include <span>
#include <string>

#include "absl/status/status.h"
#include "storage/types.h"

namespace pgqrs::storage {

inline constexpr size_t kMaxStepNameBytes = 255;
inline constexpr size_t kMaxIdempotencyKeyBytes = 255;
// Deeper documents are refused: PostgreSQL's JSON parser runs out of stack near here.
inline constexpr int kMaxJsonDepth = 512;

// Text without NUL bytes.
absl::Status CheckText(const std::string& field, const std::string& text);

// A step name: 1 to kMaxStepNameBytes bytes of text.
absl::Status CheckStepName(const std::string& name);

// One well-formed JSON document that every store keeps as it is: no "\u0000" escape,
// nested at most kMaxJsonDepth deep. (Lone surrogates and invalid UTF-8 are not JSON.)
absl::Status CheckJsonDocument(const std::string& field, const std::string& text);

// The text fields of a registration (name, queue, hostname, labels).
absl::Status CheckRegistrationText(const WorkerRegistration& reg);

// The dedup keys of an Enqueue batch.
absl::Status CheckDedupKeys(std::span<const NewMessage> messages);

}  // namespace pgqrs::storage
