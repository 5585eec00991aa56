// Runs the conformance suite on the Postgres adapter. Each case gets a fresh schema in
// the database named by $PGQRS_TEST_DSN_VAR (direct, or through PgBouncer).
#include <catch2/catch.hpp>

#include "tests/storage/conformance/helpers.h"
#include "tests/storage/postgres/pg_test_env.h"

namespace pgqrs::testing {

std::unique_ptr<storage::Store> NewTestStore() {
  storage::PostgresOptions options;
  options.pool_size = 4;
  return OpenMigrated(TestDsn(), FreshSchema(), options);
}

}  // namespace pgqrs::testing
