// Runs the conformance suite on the engine:// adapter: each case gets a fresh database file
// under TEST_TMPDIR, on the I/O backend PGQRS_TEST_ENGINE_IO names (uring or posix).
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "storage/open_store.h"
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {

std::unique_ptr<storage::Store> NewTestStore() {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  const char* io = std::getenv("PGQRS_TEST_ENGINE_IO");
  REQUIRE(tmp != nullptr);
  REQUIRE(io != nullptr);
  std::string dsn =
      "engine://" + std::string(tmp) + "/case" + std::to_string(counter++) + ".db?io=" + io;
  auto store = Ok(storage::OpenStore(dsn, {}));
  Ok(store->Migrate());
  return store;
}

}  // namespace pgqrs::testing
