#include "server/tokens.h"

#include <fnmatch.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/random.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pgqrs::server {
namespace {

constexpr Role kAllRoles[] = {Role::kAdmin, Role::kProducer, Role::kConsumer, Role::kWorker,
                              Role::kReader};

constexpr char kTokenPrefix[] = "pgqrs_";

absl::Status LineError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tokens file line ", line, ": ", what));
}

absl::StatusOr<TokenHash> ParseHash(absl::string_view hex) {
  if (hex.size() != 64) return absl::InvalidArgumentError("hash is not 64 hex digits");
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("hash is not 64 hex digits");
    }
  }
  std::string bytes = absl::HexStringToBytes(hex);
  TokenHash hash;
  std::copy(bytes.begin(), bytes.end(), hash.begin());
  return hash;
}

absl::StatusOr<TokenEntry> ParseLine(absl::string_view line, int number) {
  std::vector<absl::string_view> fields =
      absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (fields.size() < 4 || fields.size() > 6) {
    return LineError(number, "expected: NAME SHA256 ROLES NAME_GLOBS [rate=R] [burst=N]");
  }
  TokenEntry entry;
  entry.name = std::string(fields[0]);
  absl::StatusOr<TokenHash> hash = ParseHash(fields[1]);
  if (!hash.ok()) return LineError(number, hash.status().message());
  entry.hash = *hash;
  absl::StatusOr<RoleSet> roles = ParseRoles(fields[2]);
  if (!roles.ok()) return LineError(number, roles.status().message());
  entry.roles = *roles;
  entry.name_patterns = absl::StrSplit(fields[3], ',', absl::SkipEmpty());
  if (entry.name_patterns.empty()) return LineError(number, "no name globs");
  absl::StatusOr<std::optional<RateLimit>> limit =
      ParseRateLimit(std::vector<absl::string_view>(fields.begin() + 4, fields.end()));
  if (!limit.ok()) return LineError(number, limit.status().message());
  entry.rate_limit = *limit;
  return entry;
}

}  // namespace

absl::StatusOr<std::optional<RateLimit>> ParseRateLimit(
    const std::vector<absl::string_view>& fields) {
  std::optional<double> rate;
  std::optional<int64_t> burst;
  for (absl::string_view field : fields) {
    if (absl::ConsumePrefix(&field, "rate=")) {
      double value = 0;
      if (!absl::SimpleAtod(field, &value) || !(value >= 0.001) || value > 1e9) {
        return absl::InvalidArgumentError("rate= must be 0.001 to 1e9 calls per second");
      }
      rate = value;
    } else if (absl::ConsumePrefix(&field, "burst=")) {
      int64_t value = 0;
      if (!absl::SimpleAtoi(field, &value) || value < 1 || value > 1000000) {
        return absl::InvalidArgumentError("burst= must be 1 to 1000000 calls");
      }
      burst = value;
    } else {
      return absl::InvalidArgumentError("expected rate=R or burst=N after the name globs");
    }
  }
  if (!rate) {
    if (burst) return absl::InvalidArgumentError("burst= needs rate=");
    return std::nullopt;
  }
  return RateLimit{*rate, burst ? *burst : static_cast<int64_t>(std::ceil(*rate))};
}

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kProducer:
      return "producer";
    case Role::kConsumer:
      return "consumer";
    case Role::kWorker:
      return "worker";
    case Role::kReader:
      return "reader";
  }
  return "?";
}

std::string RoleNames(RoleSet roles) {
  std::vector<absl::string_view> names;
  for (Role role : kAllRoles) {
    if (roles & RoleBit(role)) names.push_back(RoleName(role));
  }
  return absl::StrJoin(names, ",");
}

absl::StatusOr<RoleSet> ParseRoles(absl::string_view list) {
  RoleSet roles = 0;
  for (absl::string_view name : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    bool known = false;
    for (Role role : kAllRoles) {
      if (name == RoleName(role)) {
        roles |= RoleBit(role);
        known = true;
      }
    }
    if (!known) return absl::InvalidArgumentError(absl::StrCat("unknown role \"", name, "\""));
  }
  if (roles == 0) return absl::InvalidArgumentError("no roles");
  return roles;
}

bool TokenEntry::AllowsName(absl::string_view target) const {
  std::string subject(target);
  for (const std::string& pattern : name_patterns) {
    if (fnmatch(pattern.c_str(), subject.c_str(), 0) == 0) return true;
  }
  return false;
}

bool TokenEntry::AllowsEveryName() const {
  return std::find(name_patterns.begin(), name_patterns.end(), "*") != name_patterns.end();
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text) {
  TokenTable table;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    absl::StatusOr<TokenEntry> entry = ParseLine(line, number);
    if (!entry.ok()) return entry.status();
    table.entries_.push_back(*std::move(entry));
  }
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read tokens file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

const TokenEntry* TokenTable::Find(absl::string_view token) const {
  TokenHash presented = HashToken(token);
  const TokenEntry* found = nullptr;
  for (const TokenEntry& entry : entries_) {
    bool equal = CRYPTO_memcmp(entry.hash.data(), presented.data(), presented.size()) == 0;
    if (equal && found == nullptr) found = &entry;
  }
  return found;
}

TokenHash HashToken(absl::string_view token) {
  TokenHash hash;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), hash.data());
  return hash;
}

std::string HexOf(const TokenHash& hash) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

absl::StatusOr<std::string> NewToken() {
  std::array<uint8_t, 32> secret;
  if (getrandom(secret.data(), secret.size(), 0) != static_cast<ssize_t>(secret.size())) {
    return absl::InternalError("getrandom failed");
  }
  return absl::StrCat(kTokenPrefix, HexOf(secret));
}

std::string TokenFileLine(absl::string_view name, const TokenHash& hash, RoleSet roles,
                          const std::vector<std::string>& name_patterns,
                          std::optional<RateLimit> rate_limit) {
  std::string line = absl::StrCat(name, " ", HexOf(hash), " ", RoleNames(roles), " ",
                                  absl::StrJoin(name_patterns, ","));
  if (rate_limit) {
    absl::StrAppend(&line, " rate=", rate_limit->per_second, " burst=", rate_limit->burst);
  }
  return line;
}

}  // namespace pgqrs::server
