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

std::string RedactDsn(const std::string& text) {
  std::string out = text;
  // URI user-info: scheme://user:password@host
  size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    size_t start = scheme_end + 3;
    size_t at = out.find('@', start);
    size_t slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, kRedacted);
      }
    }
  }
  // password=... in options or in a key/value conninfo.
  for (size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    size_t value_start = pos + 9;
    size_t value_end = out.find_first_of("& ", value_start);
    if (value_end == std::string::npos) value_end = out.size();
    out.replace(value_start, value_end - value_start, kRedacted);
  }
  return out;
}

}  // namespace pgqrs::storage
