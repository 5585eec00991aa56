#include "server/validation.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/checks.h"

namespace pgqrs::server {

absl::Status CheckName(const std::string& field, const std::string& name) {
  bool ok = !name.empty() && name.size() <= 128;
  for (char c : name) {
    ok = ok &&
         (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": \"", absl::CHexEscape(name.substr(0, 140)),
                   "\" is not a valid name ([A-Za-z0-9_.-], 1 to 128 characters)"));
}

absl::Status CheckJson(const std::string& field, const std::string& text, int64_t max_bytes) {
  if (static_cast<int64_t>(text.size()) > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(field, ": ", text.size(), " bytes is over the limit of ", max_bytes));
  }
  return storage::CheckJsonDocument(field, text);
}

absl::Status CheckBatch(const std::string& field, size_t count, int32_t max) {
  if (count == 0) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  if (count > static_cast<size_t>(max)) {
    return absl::ResourceExhaustedError(
        absl::StrCat(field, ": ", count, " items is over the limit of ", max));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> CheckMillis(const std::string& field, int64_t ms,
                                           absl::Duration max) {
  if (ms < 0) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be negative"));
  absl::Duration d = absl::Milliseconds(ms);
  if (d > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", ms, " is over the limit of ", absl::ToInt64Milliseconds(max)));
  }
  return d;
}

absl::StatusOr<int32_t> CheckPageSize(int32_t page_size, int32_t fallback, int32_t max) {
  if (page_size == 0) return std::min(fallback, max);
  if (page_size < 0 || page_size > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", page_size, " is outside 1 to ", max));
  }
  return page_size;
}

std::string EncodePageToken(const std::string& last_key) {
  return absl::WebSafeBase64Escape(last_key);
}

absl::StatusOr<std::string> DecodePageToken(const std::string& token) {
  std::string key;
  if (!absl::WebSafeBase64Unescape(token, &key)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  return key;
}

std::string EncodeIdPageToken(int64_t last_id) { return EncodePageToken(absl::StrCat(last_id)); }

absl::StatusOr<int64_t> DecodeIdPageToken(const std::string& token) {
  if (token.empty()) return 0;
  absl::StatusOr<std::string> key = DecodePageToken(token);
  if (!key.ok()) return key.status();
  int64_t after = 0;
  if (!absl::SimpleAtoi(*key, &after) || after < 0) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  return after;
}

absl::StatusOr<IdPage> CheckIdPage(int32_t page_size, const std::string& page_token, int32_t max) {
  absl::StatusOr<int32_t> size = CheckPageSize(page_size, kDefaultPageSize, max);
  if (!size.ok()) return size.status();
  absl::StatusOr<int64_t> after = DecodeIdPageToken(page_token);
  if (!after.ok()) return after.status();
  return IdPage{*size, *after};
}

}  // namespace pgqrs::server
