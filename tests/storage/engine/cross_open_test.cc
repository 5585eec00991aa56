// One file, two adapters: a workload on engine:// continues on sqlite:// (and the reverse)
// with every row as the first adapter left it, and libsqlite3 finds the file sound.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "storage/open_store.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/engine/workload.h"

namespace pgqrs::testing {
namespace {

std::string TempPath(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  REQUIRE(tmp != nullptr);
  std::string path = std::string(tmp) + "/" + name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  return path;
}

std::unique_ptr<storage::Store> Open(const std::string& scheme, const std::string& path) {
  auto store = Ok(storage::OpenStore(scheme + "://" + path, {}));
  Ok(store->Migrate());
  return store;
}

void RequireSoundFile(const std::string& path) {
  CHECK(SqliteIntegrityCheck(path) == std::vector<std::string>{"ok"});
  CHECK(SqliteForeignKeyCheck(path).empty());
}

TEST_CASE("a file moves between engine:// and sqlite:// with every row intact", "[engine][cross]") {
  auto [first, second] =
      GENERATE(std::make_pair("engine", "sqlite"), std::make_pair("sqlite", "engine"));
  INFO(first << " then " << second);
  std::string path = TempPath(std::string(first) + "_then_" + second + ".db");
  Population population;
  std::string before;
  {
    auto store = Open(first, path);
    population = Populate(*store);
    before = Dump(*store, population);
  }
  RequireSoundFile(path);
  std::string after_continue;
  {
    auto store = Open(second, path);
    CHECK(Dump(*store, population) == before);
    Continue(*store, population);
    after_continue = Dump(*store, population);
  }
  RequireSoundFile(path);
  // And back: the first adapter reads what the second wrote.
  auto store = Open(first, path);
  CHECK(Dump(*store, population) == after_continue);
  storage::VerifyReport report = Ok(store->Verify());
  CHECK(report.problems.empty());
}

TEST_CASE("the engine adapter refuses bad DSNs with the option named", "[engine][dsn]") {
  std::string path = TempPath("dsn.db");
  for (const auto& [dsn, words] : std::vector<std::pair<std::string, std::string>>{
           {"engine://" + path + "?io=fast", "io=fast"},
           {"engine://" + path + "?cache_pages=0", "cache_pages=0"},
           {"engine://" + path + "?cache_pages=ten", "cache_pages=ten"},
           {"engine://" + path + "?synchronous=normal", "synchronous"},
           {"engine::memory:", "engine::memory:"}}) {
    INFO(dsn);
    auto store = storage::OpenStore(dsn, {});
    CHECK(absl::IsInvalidArgument(store.status()));
    CHECK(store.status().message().find(words) != std::string::npos);
  }
  auto ok = storage::OpenStore("engine://" + path + "?io=posix&cache_pages=64", {});
  REQUIRE(ok.ok());
  CHECK((*ok)->backend() == "engine");
}

}  // namespace
}  // namespace pgqrs::testing
