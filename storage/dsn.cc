#include "storage/dsn.h"

#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace pgqrs::storage {
namespace {

constexpr char kRedacted[] = "***";

// Splits "base?a=1&b=2" into base and options. Returns false on a malformed option.
bool SplitOptions(const std::string& text, std::string* base,
                  std::map<std::string, std::string>* options) {
  size_t q = text.find('?');
  *base = text.substr(0, q);
  if (q == std::string::npos) return true;
  for (absl::string_view pair : absl::StrSplit(text.substr(q + 1), '&', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) return false;
    (*options)[kv[0]] = kv[1];
  }
  return true;
}

absl::StatusOr<Dsn> ParseFileDsn(Backend backend, const std::string& rest,
                                 const std::string& text) {
  Dsn dsn;
  dsn.backend = backend;
  std::string base;
  if (!SplitOptions(rest, &base, &dsn.options)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed options in DSN ", text));
  }
  if (base == ":memory:") {
    dsn.in_memory = true;
    return dsn;
  }
  if (!absl::StartsWith(base, "//") || base.size() <= 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DSN ", text, " needs a path (", BackendName(backend), ":///abs/file.db, ",
        BackendName(backend), "://./rel/file.db) or :memory:"));
  }
  dsn.path = base.substr(2);
  return dsn;
}

// Removes the options pgqrs consumes from a postgres URI; libpq gets the rest.
absl::StatusOr<Dsn> ParsePostgresDsn(const std::string& text) {
  Dsn dsn;
  dsn.backend = Backend::kPostgres;
  std::string base;
  std::map<std::string, std::string> all;
  if (!SplitOptions(text, &base, &all)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed options in DSN ", RedactDsn(text)));
  }
  std::vector<std::string> passed;
  for (const auto& [key, value] : all) {
    if (key == "schema") {
      dsn.options[key] = value;
    } else {
      passed.push_back(absl::StrCat(key, "=", value));
    }
  }
  dsn.conninfo = passed.empty() ? base : absl::StrCat(base, "?", absl::StrJoin(passed, "&"));
  return dsn;
}

}  // namespace

const char* BackendName(Backend backend) {
  switch (backend) {
    case Backend::kSqlite:
      return "sqlite";
    case Backend::kEngine:
      return "engine";
    case Backend::kPostgres:
      return "postgres";
  }
  return "unknown";
}

absl::StatusOr<Dsn> ParseDsn(const std::string& text) {
  if (absl::StartsWith(text, "sqlite:")) {
    return ParseFileDsn(Backend::kSqlite, text.substr(7), text);
  }
  if (absl::StartsWith(text, "engine:")) {
    return ParseFileDsn(Backend::kEngine, text.substr(7), text);
  }
  if (absl::StartsWith(text, "postgres://") || absl::StartsWith(text, "postgresql://")) {
    return ParsePostgresDsn(text);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported DSN ", RedactDsn(text),
                   ": expected sqlite:, engine:, postgres:// or postgresql://"));
}

namespace {

bool IsFileDsn(const std::string& text) {
  return absl::StartsWith(text, "sqlite:") || absl::StartsWith(text, "engine:");
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "pass%77ord" -> "password": option keys may be percent-encoded in a URI, and libpq
// decodes them.
std::string PercentDecode(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// URI user-info: scheme://user:password@host. The password may hold unencoded '/' or
// '@', so it runs to the last '@' before the query.
void RedactUserInfo(std::string& out) {
  size_t scheme_end = out.find("://");
  if (scheme_end == std::string::npos) return;
  size_t start = scheme_end + 3;
  size_t query = out.find('?', start);
  size_t at = out.rfind('@', query == std::string::npos ? std::string::npos : query);
  if (at == std::string::npos || at < start) return;
  size_t colon = out.find(':', start);
  if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, kRedacted);
}

// The value of every option whose (decoded) key is "password": URI query options
// (key=value joined by '&') and key/value conninfo (key = value, or key='quoted value').
void RedactPasswordOptions(std::string& out) {
  for (size_t eq = out.find('='); eq != std::string::npos; eq = out.find('=', eq + 1)) {
    size_t key_end = eq;
    while (key_end > 0 && out[key_end - 1] == ' ') --key_end;
    size_t key_start = out.find_last_of("?& ", key_end == 0 ? 0 : key_end - 1);
    key_start = key_start == std::string::npos || key_start >= key_end ? 0 : key_start + 1;
    if (PercentDecode(absl::string_view(out).substr(key_start, key_end - key_start)) !=
        "password") {
      continue;
    }
    size_t value_start = out.find_first_not_of(' ', eq + 1);
    if (value_start == std::string::npos) return;
    size_t value_end;
    if (out[value_start] == '\'') {
      value_end = value_start + 1;
      while (value_end < out.size() && out[value_end] != '\'') {
        value_end += out[value_end] == '\\' ? 2 : 1;
      }
      value_end = std::min(value_end + 1, out.size());
    } else {
      value_end = out.find_first_of("& ", value_start);
      if (value_end == std::string::npos) value_end = out.size();
    }
    out.replace(value_start, value_end - value_start, kRedacted);
    eq = value_start;
  }
}

}  // namespace

std::string RedactDsn(const std::string& text) {
  if (IsFileDsn(text)) return text;  // a path, no credentials
  std::string out = text;
  RedactUserInfo(out);
  RedactPasswordOptions(out);
  return out;
}

}  // namespace pgqrs::storage
