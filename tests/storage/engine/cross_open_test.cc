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

// The schema as sqlite3 describes it: every table's columns (name, type, NOT NULL, primary key),
// foreign keys and indexes (columns, order, uniqueness, partial), and the version rows.
std::vector<std::string> DescribeSchema(const std::string& path) {
  std::vector<std::string> out;
  for (const std::string& table :
       SqliteRows(path, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")) {
    out.push_back("table " + table);
    for (const char* pragma : {"table_info", "foreign_key_list"}) {
      for (const std::string& row :
           SqliteRows(path, std::string("SELECT * FROM pragma_") + pragma + "('" + table + "')")) {
        out.push_back(std::string("  ") + pragma + " " + row);
      }
    }
    for (const std::string& index : SqliteRows(
             path, "SELECT name || '|' || \"unique\" || '|' || partial FROM pragma_index_list('" +
                       table + "') ORDER BY name")) {
      out.push_back("  index " + index);
      std::string name = index.substr(0, index.find('|'));
      for (const std::string& col :
           SqliteRows(path, "SELECT seqno, name, desc, key FROM pragma_index_xinfo('" + name +
                                "') ORDER BY seqno")) {
        out.push_back("    " + col);
      }
    }
  }
  for (const std::string& row :
       SqliteRows(path,
                  "SELECT sql FROM sqlite_schema WHERE type = 'index' AND sql LIKE '%WHERE%' "
                  "ORDER BY name")) {
    // The engine quotes every identifier it writes; sqlite keeps the script's text.
    std::string where = row.substr(row.find("WHERE"));
    std::erase(where, '"');
    out.push_back("partial " + where);
  }
  for (const std::string& row : SqliteRows(
           path, "SELECT version, name, checksum FROM pgqrs_schema_migrations ORDER BY version")) {
    out.push_back("migration " + row);
  }
  return out;
}

TEST_CASE("both file adapters create the same schema from the same scripts", "[engine][schema]") {
  std::string engine_path = TempPath("schema_engine.db");
  std::string sqlite_path = TempPath("schema_sqlite.db");
  Open("engine", engine_path).reset();
  Open("sqlite", sqlite_path).reset();
  std::vector<std::string> engine_schema = DescribeSchema(engine_path);
  CHECK(engine_schema.size() > 100);
  CHECK(engine_schema == DescribeSchema(sqlite_path));
}

TEST_CASE("message ids stay unique and increasing across restarts and adapters", "[engine][ids]") {
  std::string path = TempPath("ids.db");
  std::vector<int64_t> ids;
  auto enqueue = [&](storage::Store& store, int count) {
    std::vector<storage::NewMessage> batch(count, Msg("1"));
    for (int64_t id : Ok(store.Enqueue("q", batch, 0))) ids.push_back(id);
  };
  {
    auto store = Open("engine", path);
    MakeQueue(*store, "q");
    enqueue(*store, 3);
    enqueue(*store, 2000);  // more than one block of ids
    enqueue(*store, 1);
  }
  enqueue(*Open("engine", path), 2);  // a restart skips the rest of the block
  enqueue(*Open("sqlite", path), 2);  // libsqlite3 continues from the reserved ids
  enqueue(*Open("engine", path), 1);
  REQUIRE(ids.size() == 2009);
  for (size_t i = 1; i < ids.size(); ++i) {
    INFO(i);
    REQUIRE(ids[i] > ids[i - 1]);
  }
  CHECK(ids[2004] > ids[2003] + 1);  // the gap after the restart
  CHECK(SqliteRows(path, "SELECT count(DISTINCT id) FROM pgqrs_messages") ==
        std::vector<std::string>{"2009"});
}

TEST_CASE("the engine adapter refuses bad DSNs with the option named", "[engine][dsn]") {
  std::string path = TempPath("dsn.db");
  for (const auto& [dsn, words] : std::vector<std::pair<std::string, std::string>>{
           {"engine://" + path + "?io=fast", "io=fast"},
           {"engine://" + path + "?cache_pages=0", "cache_pages=0"},
           {"engine://" + path + "?cache_pages=ten", "cache_pages=ten"},
           {"engine://" + path + "?synchronous=normal", "synchronous"},
           {"engine://" + path + "?mvcc=yes", "mvcc=yes: expected on or off"},
           {"engine::memory:", "engine::memory:"}}) {
    INFO(dsn);
    auto store = storage::OpenStore(dsn, {});
    CHECK(absl::IsInvalidArgument(store.status()));
    CHECK(store.status().message().find(words) != std::string::npos);
  }
  auto ok = storage::OpenStore("engine://" + path + "?io=posix&cache_pages=64&mvcc=on", {});
  REQUIRE(ok.ok());
  CHECK((*ok)->backend() == "engine");
}

}  // namespace
}  // namespace pgqrs::testing
