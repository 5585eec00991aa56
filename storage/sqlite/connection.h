// Thin RAII wrappers over a libsqlite3 connection and its prepared statements, and the
// one place SQLite result codes become absl::Status.
//
// Thread safety: a Connection and its Statements belong to one thread at a time; callers
// serialise access (the store hands each connection to one caller at a time).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgqrs::storage::sqlite {

// Maps a SQLite result code: BUSY/LOCKED/IOERR/CANTOPEN -> UNAVAILABLE, UNIQUE ->
// ALREADY_EXISTS, other constraints -> FAILED_PRECONDITION, CORRUPT/NOTADB -> DATA_LOSS,
// FULL -> RESOURCE_EXHAUSTED, anything else -> INTERNAL. `context` says what failed.
absl::Status SqliteStatus(int rc, sqlite3* db, std::string_view context);

// A prepared statement. Bind indexes are 1-based, column indexes 0-based.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  void Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void Bind(int index, const std::string& value) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  void Bind(int index, std::optional<int64_t> value) {
    value ? Bind(index, *value) : BindNull(index);
  }
  void BindNull(int index) { sqlite3_bind_null(stmt_, index); }

  // Binds each argument in order, starting at index 1.
  template <typename... Args>
  void BindAll(const Args&... args) {
    int index = 0;
    (Bind(++index, args), ...);
  }

  // Advances. Returns true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps until done; for statements that return no rows.
  absl::Status Run();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::optional<int64_t> OptionalInt(int column) const {
    return IsNull(column) ? std::nullopt : std::optional<int64_t>(Int(column));
  }
  std::string Text(int column) const;

  // Clears the result and bindings so the statement can be reused.
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens `path` (":memory:" for a private in-memory database) with `flags`
  // (SQLITE_OPEN_*), extended result codes on, and the busy timeout set.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path, int flags,
                                                          int busy_timeout_ms);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs one or more statements that return no rows.
  absl::Status Exec(const std::string& sql);
  // Returns the cached statement for `sql`, reset and with no bindings. The pointer stays
  // valid for the connection's life. REQUIRES: `sql` is a string literal or outlives us.
  absl::StatusOr<Statement*> Prepare(const char* sql);
  // Prepare, then binds `args` in order and runs the statement; for statements that
  // return no rows.
  template <typename... Args>
  absl::Status Run(const char* sql, const Args&... args) {
    absl::StatusOr<Statement*> st = Prepare(sql);
    if (!st.ok()) return st.status();
    (*st)->BindAll(args...);
    return (*st)->Run();
  }
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const { return sqlite3_changes64(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::map<const char*, std::unique_ptr<Statement>> statements_;
};

}  // namespace pgqrs::storage::sqlite
