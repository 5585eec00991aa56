// API tokens: what a tokens file holds and how a presented token is matched against it.
//
// A token is a 256-bit random secret, shown to its owner once. The daemon only ever
// holds its SHA-256, in a tokens file (--auth_tokens_file), one token per line:
//
//   # name        sha256 (64 hex digits)   roles              names (globs)    [limit]
//   orders-api    9f86d081884c7d65...      producer,reader    orders.*,audit   rate=50 burst=100
//
// `name` identifies the token in audit lines and errors (never the secret). `roles` is
// a comma list of admin, producer, consumer, worker, reader. `names` is a comma list of
// shell globs (fnmatch) over the queue and workflow names the token may target; `*`
// allows every name. An optional `rate=R` (calls per second, may be fractional) and
// `burst=N` (calls at once; default R rounded up) limit the token's calls; without them
// the token is not limited. Blank lines and lines starting with '#' are ignored.
//
// Thread safety: TokenTable is an immutable value once built.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pgqrs::server {

enum class Role : uint8_t { kAdmin, kProducer, kConsumer, kWorker, kReader };

// A set of roles as bits (1 << Role).
using RoleSet = uint8_t;
constexpr RoleSet RoleBit(Role role) { return static_cast<RoleSet>(1u << static_cast<int>(role)); }

// "admin", "producer", ...; and the comma list of a set in Role order.
absl::string_view RoleName(Role role);
std::string RoleNames(RoleSet roles);
// Parses a comma list of role names; an unknown name is INVALID_ARGUMENT naming it.
absl::StatusOr<RoleSet> ParseRoles(absl::string_view list);

using TokenHash = std::array<uint8_t, 32>;

// At most `burst` calls at once, refilled at `per_second` calls per second.
struct RateLimit {
  double per_second = 0;
  int64_t burst = 0;
  bool operator==(const RateLimit& other) const {
    return per_second == other.per_second && burst == other.burst;
  }
};

struct TokenEntry {
  std::string name;
  TokenHash hash;
  RoleSet roles = 0;
  std::vector<std::string> name_patterns;
  std::optional<RateLimit> rate_limit;  // unset: not limited

  // True if one of the patterns matches `target` (a queue or workflow name).
  bool AllowsName(absl::string_view target) const;
  // True if a pattern is `*`: only then may the token target every name at once.
  bool AllowsEveryName() const;
};

class TokenTable {
 public:
  // Parses a tokens file's text. Errors name the line number, never echo a hash.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text);
  // Reads and parses the file at `path`.
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // The entry whose hash is SHA-256(token), or nullptr. Compares against every entry in
  // constant time, so timing does not reveal how close a guess came.
  const TokenEntry* Find(absl::string_view token) const;

  size_t size() const { return entries_.size(); }
  const std::vector<TokenEntry>& entries() const { return entries_; }

 private:
  std::vector<TokenEntry> entries_;
};

TokenHash HashToken(absl::string_view token);
std::string HexOf(const TokenHash& hash);

// A new token: "pgqrs_" followed by 64 hex digits of 256 random bits (getrandom(2)).
absl::StatusOr<std::string> NewToken();

// The optional fields after a line's globs, e.g. {"rate=50", "burst=100"}: nullopt without
// `rate=`; INVALID_ARGUMENT naming the bad field.
absl::StatusOr<std::optional<RateLimit>> ParseRateLimit(
    const std::vector<absl::string_view>& fields);

// The tokens-file line for a token with these attributes.
std::string TokenFileLine(absl::string_view name, const TokenHash& hash, RoleSet roles,
                          const std::vector<std::string>& name_patterns,
                          std::optional<RateLimit> rate_limit = std::nullopt);

}  // namespace pgqrs::server
