// Shared helpers for the engine tests: temp dirs, backend selection (io_uring must work: a
// failing io_uring setup fails the test instead of skipping it), and a libsqlite3 oracle.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/db/database.h"
#include "engine/format/record.h"
#include "engine/io/io_backend.h"

namespace pgqrs::engine::testing {

// A fresh directory under TEST_TMPDIR (or /tmp).
std::string NewTempDir(const std::string& tag);

// "uring" or "posix". For "uring", a setup failure is a test failure (REQUIRE).
std::shared_ptr<IoBackend> MakeBackend(const std::string& name);

// Options using backend `name`.
DatabaseOptions Options(const std::string& name);

// What a simulated backend made by NewWalHookBackend calls on the I/O of `-wal` files, before
// doing it. Either may be empty.
struct WalHooks {
  std::function<void()> on_read;  // each ReadAt
  std::function<void()> on_sync;  // each WriteAndSync and Sync
};
// A SimBackend (seeded with `seed`) whose -wal files call `hooks`: tests count or hold the
// WAL's I/O with it.
std::shared_ptr<IoBackend> NewWalHookBackend(uint64_t seed, WalHooks hooks);

// Runs `sql` through libsqlite3 on `path` (opened read-write; sqlite3 recovers a WAL).
// Returns all rows as Values. REQUIREs success.
std::vector<std::vector<Value>> SqliteQuery(const std::string& path, const std::string& sql);
// Runs statements that return no rows. REQUIREs success.
void SqliteExec(const std::string& path, const std::string& sql);
// Returns the result of PRAGMA integrity_check joined by newlines ("ok" when fine).
std::string SqliteIntegrity(const std::string& path);

// Copies a file byte for byte (missing source => the destination is removed).
void CopyFile(const std::string& from, const std::string& to);
void WriteFile(const std::string& path, const std::string& data);
std::string ReadFile(const std::string& path);

// Reads every row of `table` through the engine, in rowid order.
std::vector<Row> EngineRows(Database* db, const std::string& table);

std::string RowString(const Row& r);

}  // namespace pgqrs::engine::testing
