#include "tests/engine/test_util.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "engine/io/sim_backend.h"

namespace pgqrs::engine::testing {

std::string NewTempDir(const std::string& tag) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/" + tag + "_" +
                    std::to_string(::getpid()) + "_" + std::to_string(counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::shared_ptr<IoBackend> MakeBackend(const std::string& name) {
  if (name == "posix") return NewPosixBackend();
  absl::StatusOr<std::shared_ptr<IoBackend>> be = NewUringBackend();
  INFO("io_uring setup: " << be.status().ToString());
  REQUIRE(be.ok());
  return *be;
}

DatabaseOptions Options(const std::string& name) {
  DatabaseOptions o;
  o.backend = MakeBackend(name);
  o.seed = 42;
  return o;
}

namespace {

Value ColumnValue(sqlite3_stmt* st, int i) {
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
      return Value::Integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
      return Value::Real(sqlite3_column_double(st, i));
    case SQLITE_TEXT:
      return Value::Text(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
                                     sqlite3_column_bytes(st, i)));
    case SQLITE_BLOB: {
      const char* p = static_cast<const char*>(sqlite3_column_blob(st, i));
      return Value::Blob(std::string(p ? p : "", sqlite3_column_bytes(st, i)));
    }
    default:
      return Value::Null();
  }
}

}  // namespace

std::vector<std::vector<Value>> SqliteQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  INFO("sqlite3_open " << path << ": " << (db ? sqlite3_errmsg(db) : "?"));
  REQUIRE(rc == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  INFO("prepare " << sql << ": " << sqlite3_errmsg(db));
  REQUIRE(rc == SQLITE_OK);
  std::vector<std::vector<Value>> out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<Value> row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) row.push_back(ColumnValue(st, i));
    out.push_back(std::move(row));
  }
  INFO("step " << sql << ": " << sqlite3_errmsg(db));
  REQUIRE(rc == SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

void SqliteExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) ==
          SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO("exec " << sql.substr(0, 200) << ": " << (err ? err : ""));
  sqlite3_free(err);
  REQUIRE(rc == SQLITE_OK);
  sqlite3_close(db);
}

std::string SqliteIntegrity(const std::string& path) {
  std::string out;
  for (const auto& row : SqliteQuery(path, "PRAGMA integrity_check")) {
    if (!out.empty()) out += "\n";
    out += row.empty() || row[0].is_null() ? "NULL" : row[0].bytes();
  }
  return out;
}

void CopyFile(const std::string& from, const std::string& to) {
  std::filesystem::remove(to);
  if (std::filesystem::exists(from)) std::filesystem::copy_file(from, to);
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  REQUIRE(f.good());
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<Row> EngineRows(Database* db, const std::string& table) {
  auto txn = db->Begin();
  REQUIRE(txn.ok());
  auto it = (*txn)->ScanTable(table);
  INFO(it.status().ToString());
  REQUIRE(it.ok());
  std::vector<Row> rows;
  while ((*it)->Valid()) {
    auto row = (*it)->row();
    if (!row.ok()) FAIL(row.status().ToString());
    rows.push_back(*row);
    auto s = (*it)->Next();
    if (!s.ok()) FAIL(s.ToString());
  }
  (*txn)->Rollback();
  return rows;
}

std::string RowString(const Row& r) {
  std::string s = "(";
  for (size_t i = 0; i < r.size(); ++i) {
    if (i) s += ", ";
    s += r[i].DebugString();
  }
  return s + ")";
}

namespace {

class WalHookFile : public File {
 public:
  WalHookFile(std::unique_ptr<File> inner, const WalHooks& hooks)
      : inner_(std::move(inner)), hooks_(hooks) {}
  absl::StatusOr<size_t> ReadAt(uint64_t offset, uint8_t* dst, size_t n) override {
    if (hooks_.on_read) hooks_.on_read();
    return inner_->ReadAt(offset, dst, n);
  }
  absl::Status Write(const std::vector<WriteOp>& ops) override { return inner_->Write(ops); }
  absl::Status WriteAndSync(const std::vector<WriteOp>& ops) override {
    if (hooks_.on_sync) hooks_.on_sync();
    return inner_->WriteAndSync(ops);
  }
  absl::Status Sync() override {
    if (hooks_.on_sync) hooks_.on_sync();
    return inner_->Sync();
  }
  absl::StatusOr<uint64_t> Size() override { return inner_->Size(); }
  absl::Status Truncate(uint64_t size) override { return inner_->Truncate(size); }
  absl::Status Lock(uint64_t start, uint64_t len, bool exclusive) override {
    return inner_->Lock(start, len, exclusive);
  }

 private:
  std::unique_ptr<File> inner_;
  const WalHooks& hooks_;  // the backend's, which outlives its files
};

class WalHookBackend : public IoBackend {
 public:
  WalHookBackend(uint64_t seed, WalHooks hooks)
      : sim_(std::make_shared<SimBackend>(seed)), hooks_(std::move(hooks)) {}
  const char* name() const override { return "wal-hooks"; }
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, bool create,
                                             bool read_only) override {
    absl::StatusOr<std::unique_ptr<File>> f = sim_->Open(path, create, read_only);
    if (!f.ok() || !absl::EndsWith(path, "-wal")) return f;
    return std::unique_ptr<File>(new WalHookFile(std::move(*f), hooks_));
  }
  absl::Status Remove(const std::string& path) override { return sim_->Remove(path); }
  absl::Status SyncDirectory(const std::string& dir) override { return sim_->SyncDirectory(dir); }
  bool Exists(const std::string& path) override { return sim_->Exists(path); }

 private:
  std::shared_ptr<SimBackend> sim_;  // SimBackend hands out weak references to itself
  const WalHooks hooks_;
};

}  // namespace

std::shared_ptr<IoBackend> NewWalHookBackend(uint64_t seed, WalHooks hooks) {
  return std::make_shared<WalHookBackend>(seed, std::move(hooks));
}

}  // namespace pgqrs::engine::testing
