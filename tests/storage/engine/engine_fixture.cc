// Runs the conformance suite on the engine:// adapter: each case gets a fresh database file
// under TEST_TMPDIR, on the I/O backend PGQRS_TEST_ENGINE_IO names (uring or posix). With
// PGQRS_TEST_ENGINE_ENCRYPT=1 the databases are encrypted with a key file (key_file=...) and
// each case checks that its file really is. With PGQRS_TEST_ENGINE_MVCC=1 the databases run
// concurrent writers (mvcc=on).
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>

#include "storage/open_store.h"
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {

namespace {

// DSN options for an encrypted database: a 0600 key file under `tmp`, made once.
std::string EncryptionOptions(const std::string& tmp) {
  const std::string path = tmp + "/engine.key";
  static const bool written = [&] {
    std::ofstream(path) << "8d4b0f6e2a1c3e5f7a9b0c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f4051\n";
    return chmod(path.c_str(), 0600) == 0;
  }();
  REQUIRE(written);
  return "&key_file=" + path + "&key_id=7";
}

// True if `path` has an encrypted engine header with key id 7 (FORMAT.md section 5).
bool EncryptedWithKeyId7(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char h[100] = {};
  f.read(h, sizeof(h));
  return f.good() && h[20] == 28 && h[84] == 0 && h[85] == 0 && h[86] == 0 && h[87] == 7;
}

}  // namespace

std::unique_ptr<storage::Store> NewTestStore() {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  const char* io = std::getenv("PGQRS_TEST_ENGINE_IO");
  REQUIRE(tmp != nullptr);
  REQUIRE(io != nullptr);
  const char* encrypt = std::getenv("PGQRS_TEST_ENGINE_ENCRYPT");
  const std::string path = std::string(tmp) + "/case" + std::to_string(counter++) + ".db";
  std::string dsn = "engine://" + path + "?io=" + io;
  if (encrypt != nullptr) dsn += EncryptionOptions(tmp);
  if (std::getenv("PGQRS_TEST_ENGINE_MVCC") != nullptr) dsn += "&mvcc=on";
  auto store = Ok(storage::OpenStore(dsn, {}));
  Ok(store->Migrate());
  if (encrypt != nullptr) REQUIRE(EncryptedWithKeyId7(path));
  return store;
}

}  // namespace pgqrs::testing
