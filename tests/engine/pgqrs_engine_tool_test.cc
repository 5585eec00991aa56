// tools/pgqrs-engine end to end: info, checkpoint, verify, decrypt (sqlite3 checks the
// result), encrypt, rekey, a tampered page, and the key in no output.
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine::testing {
namespace {

constexpr char kKeyHex[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
constexpr char kNewKeyHex[] = "0f0e0d0c0b0a09080706050403020100ffeeddccbbaa99887766554433221100";

struct Result {
  int exit_code;
  std::string output;  // stdout and stderr
};

Result Tool(const std::string& args) {
  const std::string cmd = "tools/pgqrs-engine/pgqrs-engine " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  Result r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  INFO(cmd << "\n" << r.output);
  REQUIRE(!absl::StrContains(r.output, kKeyHex));
  REQUIRE(!absl::StrContains(r.output, kNewKeyHex));
  return r;
}

TEST_CASE("pgqrs-engine encrypts, decrypts, rekeys and verifies", "[engine][crypto][tool]") {
  const std::string dir = NewTempDir("tool");
  const std::string key_file = dir + "/engine.key", db = dir + "/q.db";
  WriteFile(key_file, std::string(kKeyHex) + "\n");
  chmod(key_file.c_str(), 0600);
  setenv("PGQRS_TOOL_TEST_NEW_KEY", kNewKeyHex, 1);
  const std::string key = " --key-file=" + key_file + " --key-id=5";
  {
    DatabaseOptions o = Options("posix");
    o.key = *EncryptionKey::FromFile(key_file);
    o.key_id = 5;
    o.checkpoint_on_close = false;  // leave a WAL for `checkpoint`
    auto d = Database::Open(db, o);
    REQUIRE(d.ok());
    auto txn = (*d)->Begin();
    REQUIRE((*txn)
                ->CreateTable({"t", {{"id", ColumnType::kInteger}, {"v", ColumnType::kText}}, 0})
                .ok());
    for (int i = 1; i <= 500; ++i) {
      REQUIRE(
          (*txn)->Insert("t", {Value::Integer(i), Value::Text("row" + std::to_string(i))}).ok());
    }
    REQUIRE((*txn)->Commit().ok());
    REQUIRE((*d)->Close().ok());
  }
  REQUIRE(std::filesystem::file_size(db + "-wal") > 0);

  Result info = Tool("info " + db);
  REQUIRE(info.exit_code == 0);
  REQUIRE(absl::StrContains(info.output, "encrypted yes"));
  REQUIRE(absl::StrContains(info.output, "key_id 5"));
  REQUIRE(Tool("checkpoint " + db + " --key-file=" + key_file + " --key-id=6").exit_code == 1);
  REQUIRE(Tool("checkpoint " + db + key).exit_code == 0);
  REQUIRE(!std::filesystem::exists(db + "-wal"));
  Result verify = Tool("verify " + db + key);
  REQUIRE(verify.exit_code == 0);
  REQUIRE(absl::StrContains(verify.output, "500 rows"));

  const std::string plain = dir + "/plain.db";
  REQUIRE(Tool("decrypt " + db + " " + plain + key).exit_code == 0);
  REQUIRE(SqliteIntegrity(plain) == "ok");
  auto rows = SqliteQuery(plain, "SELECT count(*), max(v) FROM t");
  REQUIRE(rows[0][0].integer() == 500);
  REQUIRE(rows[0][1].bytes() == "row99");

  const std::string rekeyed = dir + "/rekeyed.db";
  REQUIRE(Tool("rekey " + db + " " + rekeyed + key +
               " --new-key-env=PGQRS_TOOL_TEST_NEW_KEY --new-key-id=6")
              .exit_code == 0);
  REQUIRE(Tool("verify " + rekeyed + " --key-env=PGQRS_TOOL_TEST_NEW_KEY --key-id=6").exit_code ==
          0);
  Result old_key = Tool("verify " + rekeyed + key);
  REQUIRE(old_key.exit_code == 1);
  REQUIRE(absl::StrContains(old_key.output, "key id 6, not key id 5"));

  const std::string again = dir + "/again.db";
  REQUIRE(Tool("encrypt " + plain + " " + again + key).exit_code == 0);
  REQUIRE(absl::StrContains(Tool("verify " + again + key).output, "500 rows"));
  Result no_key = Tool("verify " + again);
  REQUIRE(no_key.exit_code == 1);
  REQUIRE(absl::StrContains(no_key.output, "no encryption key"));

  std::string bytes = ReadFile(again);
  bytes[3 * 4096 + 1000] ^= 0x04;  // page 4
  WriteFile(again, bytes);
  Result tampered = Tool("verify " + again + key);
  REQUIRE(tampered.exit_code == 1);
  REQUIRE(absl::StrContains(tampered.output, "page 4 fails authentication"));

  REQUIRE(Tool("").exit_code == 2);
  REQUIRE(Tool("decrypt " + db + " " + dir + "/x.db --key=" + kKeyHex).exit_code == 1);
}

}  // namespace
}  // namespace pgqrs::engine::testing
