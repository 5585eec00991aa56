#include "storage/migrate.h"

#include <catch2/catch.hpp>
#include <map>
#include <span>

#include "migrations/embedded.h"

namespace pgqrs::storage {
namespace {

// A database as a map from version to checksum; counts how often Apply ran.
class FakeTarget final : public MigrationTarget {
 public:
  absl::StatusOr<std::vector<AppliedMigration>> ReadApplied() override {
    std::vector<AppliedMigration> out;
    for (const auto& [v, sum] : recorded) out.push_back({v, sum});
    return out;
  }
  absl::Status Apply(const Migration& m) override {
    if (fail_version == m.version) return absl::UnavailableError("disk gone");
    ++applies;
    recorded[m.version] = m.checksum;
    return absl::OkStatus();
  }
  std::map<int32_t, std::string> recorded;
  int applies = 0;
  int32_t fail_version = 0;
};

std::vector<Migration> Set() {
  static const migrations::EmbeddedMigration kSet[] = {{1, "0001_a", "CREATE TABLE a (x);"},
                                                       {2, "0002_b", "CREATE TABLE b (y);"}};
  return LoadMigrations(kSet);
}

// Each shipped set numbers its files 0001, 0002, ... once each: two branches that both
// add "the next" migration must not land as two files of one version.
void CheckVersionsAscend(std::span<const migrations::EmbeddedMigration> set) {
  for (size_t i = 0; i < set.size(); ++i) {
    INFO(set[i].name);
    CHECK(set[i].version == static_cast<int>(i) + 1);
  }
}

TEST_CASE("the shipped migration sets have one file per version, in order", "[storage][migrate]") {
  CheckVersionsAscend(migrations::SqliteMigrations());
  CheckVersionsAscend(migrations::PostgresMigrations());
}

TEST_CASE("migrations apply in order once and re-runs apply nothing", "[storage][migrate]") {
  FakeTarget db;
  MigrationReport first = *RunMigrations(db, Set());
  CHECK(first.applied == std::vector<int32_t>{1, 2});
  CHECK(first.schema_version == 2);
  MigrationReport again = *RunMigrations(db, Set());
  CHECK(again.applied.empty());
  CHECK(again.schema_version == 2);
  CHECK(db.applies == 2);
  CHECK(Set()[0].checksum.size() == 64);
}

TEST_CASE("a newer or altered database is refused", "[storage][migrate]") {
  FakeTarget newer;
  RunMigrations(newer, Set()).IgnoreError();
  newer.recorded[3] = "abc";
  auto refused = RunMigrations(newer, Set());
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(refused.status().message()).find("newer") != std::string::npos);

  FakeTarget altered;
  altered.recorded[1] = "not-the-checksum";
  CHECK(RunMigrations(altered, Set()).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(altered.applies == 0);
  CHECK(SchemaProblems(CompareSchema({}, Set())).size() == 2);
}

TEST_CASE("a failed migration stops the run and is retried next time", "[storage][migrate]") {
  FakeTarget db;
  db.fail_version = 2;
  CHECK(RunMigrations(db, Set()).status().code() == absl::StatusCode::kUnavailable);
  CHECK(db.recorded.size() == 1);
  db.fail_version = 0;
  CHECK(RunMigrations(db, Set())->applied == std::vector<int32_t>{2});
}

}  // namespace
}  // namespace pgqrs::storage
