#include "tests/storage/postgres/pg_test_env.h"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "storage/dsn.h"
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {

std::string RequiredEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    FAIL("environment variable " << name
                                 << " is not set: start a cluster with `eval \"$(tools/pg/"
                                    "cluster.sh start DIR)\"` and pass it with --test_env");
  }
  return value;
}

std::string TestDsn() {
  const char* var = std::getenv("PGQRS_TEST_DSN_VAR");
  return RequiredEnv(var != nullptr && *var != '\0' ? var : "PGQRS_TEST_PG_DSN");
}

std::string FreshSchema() {
  static std::atomic<int> counter{0};
  return absl::StrCat("t", getpid(), "_", absl::ToUnixMicros(absl::Now()) % 1000000000, "_",
                      counter++);
}

std::string WithSchema(const std::string& dsn, const std::string& schema) {
  return absl::StrCat(dsn, dsn.find('?') == std::string::npos ? "?" : "&", "schema=", schema);
}

std::unique_ptr<storage::Store> OpenMigrated(const std::string& dsn, const std::string& schema,
                                             const storage::PostgresOptions& options) {
  storage::Dsn parsed = Ok(storage::ParseDsn(WithSchema(dsn, schema)));
  std::unique_ptr<storage::Store> store = Ok(storage::OpenPostgresStore(parsed, options));
  Ok(store->Migrate());
  return store;
}

}  // namespace pgqrs::testing
