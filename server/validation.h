// Request validation shared by the services. Each check returns INVALID_ARGUMENT (or
// RESOURCE_EXHAUSTED for over-limit sizes) with a one-line message that names the
// offending field, and index where there is one: "messages[2].payload_json: not valid
// JSON". Services validate a whole request before storing any of it.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/config.h"

namespace pgqrs::server {

// Queue and worker names: [A-Za-z0-9_.-]{1,128}.
absl::Status CheckName(const std::string& field, const std::string& name);

// A JSON document every store keeps as it is (storage::CheckJsonDocument) of at most
// `max_bytes` (RESOURCE_EXHAUSTED beyond it).
absl::Status CheckJson(const std::string& field, const std::string& text, int64_t max_bytes);

// A count of items in [1, max] (INVALID_ARGUMENT when empty, RESOURCE_EXHAUSTED beyond).
absl::Status CheckBatch(const std::string& field, size_t count, int32_t max);

// A duration in milliseconds within [0, max].
absl::StatusOr<absl::Duration> CheckMillis(const std::string& field, int64_t ms,
                                           absl::Duration max);

// The page size of list calls that ask for none.
inline constexpr int32_t kDefaultPageSize = 100;

// A page size: 0 means `fallback` (at most `max`); otherwise within [1, max].
absl::StatusOr<int32_t> CheckPageSize(int32_t page_size, int32_t fallback, int32_t max);

// Page tokens: opaque to clients, base64 of the last key returned.
std::string EncodePageToken(const std::string& last_key);
absl::StatusOr<std::string> DecodePageToken(const std::string& token);
// The page token of an id-ordered list: the last id returned; an empty token is 0.
std::string EncodeIdPageToken(int64_t last_id);
absl::StatusOr<int64_t> DecodeIdPageToken(const std::string& token);

// The page an id-ordered list call asks for: its size (CheckPageSize with kDefaultPageSize
// and `max`) and the id it starts after (DecodeIdPageToken). A bad size is reported first.
struct IdPage {
  int32_t size = 0;
  int64_t after_id = 0;
};
absl::StatusOr<IdPage> CheckIdPage(int32_t page_size, const std::string& page_token, int32_t max);

}  // namespace pgqrs::server
