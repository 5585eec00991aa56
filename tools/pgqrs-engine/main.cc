// pgqrs-engine: offline tool for engine database files. Keys are read from a file
// (--key-file, mode 0600) or an environment variable (--key-env), never from the command line,
// and are never printed.
//
//   pgqrs-engine info DB
//   pgqrs-engine checkpoint DB [KEY]
//   pgqrs-engine verify DB [KEY]
//   pgqrs-engine encrypt SRC DST KEY
//   pgqrs-engine decrypt SRC DST KEY
//   pgqrs-engine rekey SRC DST KEY NEW_KEY
//
// KEY is --key-file=PATH or --key-env=VAR, plus --key-id=N (default 0); NEW_KEY the same with
// the --new- prefix. Exit status 0 on success, 1 on failure, 2 without arguments (usage).
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/crypto/database_file.h"
#include "engine/crypto/key.h"
#include "engine/db/database.h"

namespace pgqrs::engine {
namespace {

constexpr char kUsage[] =
    "usage: pgqrs-engine COMMAND ARGS\n"
    "  info DB                         show the header (no key needed)\n"
    "  checkpoint DB [KEY]             copy the WAL into the database file\n"
    "  verify DB [KEY]                 checkpoint, authenticate every page, read every row\n"
    "                                  and index entry\n"
    "  encrypt SRC DST KEY             write an encrypted copy of a plain database\n"
    "  decrypt SRC DST KEY             write a plain copy that sqlite3 can open\n"
    "  rekey SRC DST KEY NEW_KEY       write a copy encrypted with another key\n"
    "KEY: --key-file=PATH (mode 0600; 32 raw bytes or 64 hex digits) or --key-env=VAR,\n"
    "     and --key-id=N (default 0). NEW_KEY: the same options with --new-key-...\n"
    "DST must not exist. SRC is checkpointed first.\n";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // "--name" -> value
};

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      args.positional.push_back(a);
      continue;
    }
    size_t eq = a.find('=');
    if (eq == std::string::npos) return absl::InvalidArgumentError("flags take --name=value");
    std::string name = a.substr(0, eq);
    static const char* kKnown[] = {"--key-file",     "--key-env",     "--key-id",
                                   "--new-key-file", "--new-key-env", "--new-key-id"};
    bool known = false;
    for (const char* k : kKnown) known |= name == k;
    if (!known) return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
    args.flags[name] = a.substr(eq + 1);
  }
  return args;
}

// The key named by --PREFIXkey-file / --PREFIXkey-env, or nullopt if neither is given.
absl::StatusOr<std::optional<KeyRef>> KeyFromFlags(const Args& args, const std::string& prefix) {
  auto file = args.flags.find("--" + prefix + "key-file");
  auto env = args.flags.find("--" + prefix + "key-env");
  auto id = args.flags.find("--" + prefix + "key-id");
  if (file != args.flags.end() && env != args.flags.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("give --", prefix, "key-file or --", prefix, "key-env, not both"));
  }
  KeyRef ref;
  if (id != args.flags.end() && !absl::SimpleAtoi(id->second, &ref.key_id)) {
    return absl::InvalidArgumentError(absl::StrCat("--", prefix, "key-id: not a 32-bit number"));
  }
  if (file != args.flags.end()) {
    PGQRS_ASSIGN_OR_RETURN(ref.key, EncryptionKey::FromFile(file->second));
  } else if (env != args.flags.end()) {
    PGQRS_ASSIGN_OR_RETURN(ref.key, EncryptionKey::FromEnv(env->second));
  } else {
    return std::optional<KeyRef>();
  }
  return std::optional<KeyRef>(ref);
}

// Opens `path` with `key` and closes it, which checkpoints the WAL into the file.
absl::Status Checkpoint(const std::string& path, const std::optional<KeyRef>& key) {
  DatabaseOptions options;
  if (key) {
    options.key = key->key;
    options.key_id = key->key_id;
  }
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path, options));
  return db->Close();
}

// Reads every row of every table and every entry of every index through the engine.
absl::Status ReadEverything(const std::string& path, const std::optional<KeyRef>& key,
                            int64_t* rows, int64_t* entries) {
  DatabaseOptions options;
  options.read_only = true;
  if (key) {
    options.key = key->key;
    options.key_id = key->key_id;
  }
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path, options));
  std::vector<TableDef> tables = db->Tables();
  std::vector<IndexDef> indexes = db->Indexes();
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, db->Begin());
  for (const TableDef& t : tables) {
    PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Iterator> it, txn->ScanTable(t.name));
    while (it->Valid()) {
      PGQRS_RETURN_IF_ERROR(it->row().status());
      ++*rows;
      PGQRS_RETURN_IF_ERROR(it->Next());
    }
  }
  for (const IndexDef& x : indexes) {
    PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Iterator> it, txn->ScanIndex(x.name, IndexRange{}));
    while (it->Valid()) {
      ++*entries;
      PGQRS_RETURN_IF_ERROR(it->Next());
    }
  }
  PGQRS_RETURN_IF_ERROR(txn->Commit());
  return db->Close();
}

absl::Status Info(const std::string& path) {
  PGQRS_ASSIGN_OR_RETURN(DbHeader h, ReadDatabaseHeader(path));
  std::printf("page_size %u\nreserved_bytes %u\npages %u\nfree_pages %u\nencrypted %s\n",
              h.page_size, h.reserved, h.page_count, h.freelist_count,
              h.encrypted() ? "yes" : "no");
  if (h.encrypted()) {
    std::string id;
    for (uint8_t b : h.database_id) absl::StrAppend(&id, absl::Hex(b, absl::kZeroPad2));
    std::printf("cipher AES-256-GCM\ndatabase_id %s\nkey_id %u\n", id.c_str(), h.key_id);
  }
  return absl::OkStatus();
}

absl::Status Verify(const std::string& path, const std::optional<KeyRef>& key) {
  PGQRS_RETURN_IF_ERROR(Checkpoint(path, key));
  PGQRS_ASSIGN_OR_RETURN(VerifyReport report, VerifyDatabaseFile(path, key ? &*key : nullptr));
  int64_t rows = 0, entries = 0;
  PGQRS_RETURN_IF_ERROR(ReadEverything(path, key, &rows, &entries));
  std::printf("%s: ok (%u pages %s, %u free-list leaves, %lld rows, %lld index entries)\n",
              path.c_str(), report.pages_authenticated,
              report.header.encrypted() ? "authenticated" : "read", report.free_leaf_pages,
              static_cast<long long>(rows), static_cast<long long>(entries));
  return absl::OkStatus();
}

absl::Status Run(const Args& args) {
  const std::vector<std::string>& p = args.positional;
  if (p.empty()) return absl::InvalidArgumentError("missing command");
  const std::string& cmd = p[0];
  PGQRS_ASSIGN_OR_RETURN(std::optional<KeyRef> key, KeyFromFlags(args, ""));
  PGQRS_ASSIGN_OR_RETURN(std::optional<KeyRef> new_key, KeyFromFlags(args, "new-"));
  const size_t want = cmd == "info" || cmd == "checkpoint" || cmd == "verify" ? 2 : 3;
  if (p.size() != want) return absl::InvalidArgumentError(absl::StrCat(cmd, ": wrong arguments"));
  if (cmd == "info") return Info(p[1]);
  if (cmd == "checkpoint") return Checkpoint(p[1], key);
  if (cmd == "verify") return Verify(p[1], key);
  const bool needs_new_key = cmd == "rekey";
  if (cmd != "encrypt" && cmd != "decrypt" && !needs_new_key) {
    return absl::InvalidArgumentError(absl::StrCat("unknown command ", cmd));
  }
  if (!key) return absl::InvalidArgumentError(absl::StrCat(cmd, " needs a key"));
  if (needs_new_key != new_key.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        cmd, needs_new_key ? " needs --new-key-file or --new-key-env" : " takes no new key"));
  }
  if (cmd == "encrypt") {
    PGQRS_RETURN_IF_ERROR(Checkpoint(p[1], std::nullopt));
    return RewriteDatabaseFile(p[1], p[2], nullptr, &*key);
  }
  PGQRS_RETURN_IF_ERROR(Checkpoint(p[1], key));
  if (cmd == "decrypt") return RewriteDatabaseFile(p[1], p[2], &*key, nullptr);
  return RewriteDatabaseFile(p[1], p[2], &*key, &*new_key);
}

}  // namespace
}  // namespace pgqrs::engine

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(pgqrs::engine::kUsage, stderr);
    return 2;
  }
  absl::StatusOr<pgqrs::engine::Args> args = pgqrs::engine::ParseArgs(argc, argv);
  absl::Status status = args.ok() ? pgqrs::engine::Run(*args) : args.status();
  if (status.ok()) return 0;
  std::fprintf(stderr, "pgqrs-engine: %s\n", status.ToString().c_str());
  return 1;
}
