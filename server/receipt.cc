#include "server/receipt.h"

#include <charconv>

#include "absl/strings/str_cat.h"

namespace pgqrs::server {
namespace {

bool ParseHex(const char* begin, const char* end, int64_t* out) {
  if (begin == end || end - begin > 16) return false;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(begin, end, value, 16);
  if (ec != std::errc() || ptr != end || value == 0 || value > INT64_MAX) return false;
  *out = static_cast<int64_t>(value);
  return true;
}

}  // namespace

std::string EncodeReceipt(const storage::Lease& lease) {
  return absl::StrCat(absl::Hex(lease.message_id), "-", absl::Hex(lease.token));
}

absl::StatusOr<storage::Lease> DecodeReceipt(const std::string& field,
                                             const std::string& receipt) {
  size_t dash = receipt.find('-');
  storage::Lease lease;
  const char* data = receipt.data();
  if (dash == std::string::npos ||
      !ParseHex(data, data + dash, &lease.message_id) ||
      !ParseHex(data + dash + 1, data + receipt.size(), &lease.token)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": malformed receipt"));
  }
  return lease;
}

}  // namespace pgqrs::server
