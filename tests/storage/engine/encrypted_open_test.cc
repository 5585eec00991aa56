// The engine:// key options: key_file (refused unless 0600) and key_env, errors that name the
// file or variable but never the key, and the DSN as the server shows it.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "storage/dsn.h"
#include "storage/open_store.h"
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {
namespace {

constexpr char kKeyHex[] = "5f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

std::string Tmp() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  REQUIRE(tmp != nullptr);
  return tmp;
}

void RequireNoKey(const absl::Status& s) {
  INFO(s.ToString());
  REQUIRE(!absl::StrContains(s.ToString(), kKeyHex));
}

TEST_CASE("engine:// takes its key from a 0600 file or a variable, never shows it",
          "[engine][crypto]") {
  const std::string key_file = Tmp() + "/engine.key";
  std::ofstream(key_file) << kKeyHex << "\n";
  const std::string db = Tmp() + "/enc.db";
  const std::string dsn = "engine://" + db + "?key_file=" + key_file + "&key_id=2";

  chmod(key_file.c_str(), 0640);
  absl::Status refused = storage::OpenStore(dsn, {}).status();
  REQUIRE(absl::IsPermissionDenied(refused));
  REQUIRE(absl::StrContains(refused.message(), key_file));
  RequireNoKey(refused);

  chmod(key_file.c_str(), 0600);
  {
    auto store = Ok(storage::OpenStore(dsn, {}));
    Ok(store->Migrate());
    storage::QueueOptions queue;
    queue.name = "secret_queue_name";
    Ok(store->CreateQueue(queue));
  }
  absl::Status no_key = storage::OpenStore("engine://" + db, {}).status();
  REQUIRE(absl::IsFailedPrecondition(no_key));
  REQUIRE(absl::StrContains(no_key.message(), "encrypted"));

  setenv("PGQRS_TEST_ENGINE_KEY", kKeyHex, 1);
  {
    auto store =
        Ok(storage::OpenStore("engine://" + db + "?key_env=PGQRS_TEST_ENGINE_KEY&key_id=2", {}));
    Ok(store->Migrate());
    auto queues = Ok(store->ListQueues("", 10));
    REQUIRE(queues.size() == 1);
    REQUIRE(queues[0].name == "secret_queue_name");
  }
  setenv("PGQRS_TEST_ENGINE_KEY",
         "0000000000000000000000000000000000000000000000000000000000000000", 1);
  absl::Status wrong =
      storage::OpenStore("engine://" + db + "?key_env=PGQRS_TEST_ENGINE_KEY&key_id=2", {}).status();
  REQUIRE(absl::IsPermissionDenied(wrong));
  RequireNoKey(wrong);

  // The DSN shown by the server names the key file, and holds no key to hide.
  REQUIRE(storage::RedactDsn(dsn) == dsn);
  // Closed stores checkpoint: the file holds every row, and none in clear.
  std::ifstream f(db, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() > 4096);
  REQUIRE(!absl::StrContains(bytes, "secret_queue_name"));
}

}  // namespace
}  // namespace pgqrs::testing
