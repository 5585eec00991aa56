// Test helpers for the Postgres adapter: DSNs from the environment (set by
// tools/pg/cluster.sh) and fresh, uniquely named schemas.
#pragma once

#include <memory>
#include <string>

#include "storage/postgres/postgres_store.h"
#include "storage/store.h"

namespace pgqrs::testing {

// The value of environment variable `name`. A missing or empty variable fails the test
// with a message saying how to start the throwaway cluster; it never skips.
std::string RequiredEnv(const std::string& name);

// The DSN this test binary targets: the variable named by PGQRS_TEST_DSN_VAR (default
// PGQRS_TEST_PG_DSN).
std::string TestDsn();

// A schema name no other store of this run uses.
std::string FreshSchema();

// `dsn` with ?schema=<schema> (or &schema=) appended.
std::string WithSchema(const std::string& dsn, const std::string& schema);

// Opens (and migrates) a store on `dsn` in `schema`. REQUIREs success.
std::unique_ptr<storage::Store> OpenMigrated(const std::string& dsn, const std::string& schema,
                                             const storage::PostgresOptions& options = {});

}  // namespace pgqrs::testing
