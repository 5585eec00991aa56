#include "storage/migrate.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace pgqrs::storage {
namespace {

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  PGQRS_CHECK(EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr) == 1);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace

std::vector<Migration> LoadMigrations(std::span<const migrations::EmbeddedMigration> set) {
  std::vector<Migration> result;
  for (const migrations::EmbeddedMigration& m : set) {
    PGQRS_CHECK(result.empty() || result.back().version < m.version);
    result.push_back({m.version, m.name, m.sql, Sha256Hex(m.sql)});
  }
  return result;
}

SchemaState CompareSchema(std::span<const AppliedMigration> applied,
                          std::span<const Migration> migrations) {
  std::map<int32_t, const Migration*> known;
  for (const Migration& m : migrations) known[m.version] = &m;
  SchemaState state;
  for (const AppliedMigration& a : applied) {
    state.version = std::max(state.version, a.version);
    auto it = known.find(a.version);
    if (it == known.end()) {
      state.conflicts.push_back(absl::StrCat(
          "schema version ", a.version, " is newer than this binary (newest known: ",
          migrations.empty() ? 0 : migrations.back().version, ")"));
    } else if (it->second->checksum != a.checksum) {
      state.conflicts.push_back(absl::StrCat(
          "migration ", it->second->name, " was applied from a different script"));
    }
  }
  for (const Migration& m : migrations) {
    bool found = std::any_of(applied.begin(), applied.end(),
                             [&](const AppliedMigration& a) { return a.version == m.version; });
    if (!found) state.missing.push_back(m.name);
  }
  return state;
}

std::vector<std::string> SchemaProblems(const SchemaState& state) {
  std::vector<std::string> problems = state.conflicts;
  for (const std::string& name : state.missing) {
    problems.push_back(absl::StrCat("migration ", name, " is not applied"));
  }
  return problems;
}

absl::StatusOr<MigrationReport> RunMigrations(MigrationTarget& target,
                                              std::span<const Migration> migrations) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<AppliedMigration> applied, target.ReadApplied());
  SchemaState state = CompareSchema(applied, migrations);
  if (!state.conflicts.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot migrate: ", state.conflicts[0]));
  }
  MigrationReport report;
  report.schema_version = state.version;
  for (const Migration& m : migrations) {
    if (m.version <= state.version) continue;
    PGQRS_RETURN_IF_ERROR(target.Apply(m));
    report.applied.push_back(m.version);
    report.schema_version = m.version;
  }
  return report;
}

}  // namespace pgqrs::storage
