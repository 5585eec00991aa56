// Runs the conformance suite on the SQLite adapter. With PGQRS_TEST_SQLITE_FILE=1 each
// case gets a fresh WAL-mode file database (writer plus reader pool) under TEST_TMPDIR;
// otherwise a fresh in-memory database.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <string>

#include "storage/open_store.h"
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {

std::unique_ptr<storage::Store> NewTestStore() {
  std::string dsn = "sqlite::memory:";
  const char* file_mode = std::getenv("PGQRS_TEST_SQLITE_FILE");
  if (file_mode != nullptr && std::string(file_mode) == "1") {
    static std::atomic<int> counter{0};
    const char* tmp = std::getenv("TEST_TMPDIR");
    REQUIRE(tmp != nullptr);
    dsn = "sqlite://" + std::string(tmp) + "/case" + std::to_string(counter++) + ".db";
  }
  auto store = Ok(storage::OpenStore(dsn, {}));
  Ok(store->Migrate());
  return store;
}

}  // namespace pgqrs::testing
