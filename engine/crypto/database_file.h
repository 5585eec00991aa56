// Offline whole-file operations on a checkpointed database (no WAL frames): encrypt a plain
// file, decrypt an encrypted one to a plain file that sqlite3 opens, re-encrypt under a new
// key, and authenticate every page. Used by tools/pgqrs-engine and the tests.
//
// Free-list leaf pages hold no data and may never have been written (zero-filled when the file
// grew): they are not authenticated, and rewriting turns them into zero pages (decrypt) or
// seals them (encrypt). The lock-byte page is skipped likewise.
//
// Thread safety: functions are independent; the files must not be open elsewhere.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/crypto/key.h"
#include "engine/format/db_header.h"

namespace pgqrs::engine {

struct KeyRef {
  std::shared_ptr<const EncryptionKey> key;
  uint32_t key_id = 0;
};

// Writes `dst` (which must not exist) with the pages of `src`. `from` opens an encrypted
// source (nullptr: `src` is plain); `to` seals the output (nullptr: write a plain file). An
// encrypted output keeps the source's database id, or gets a fresh one from a plain source,
// which needs exactly 28 reserved bytes per page. FailedPrecondition if `src` has a non-empty
// `-wal` (checkpoint it first).
absl::Status RewriteDatabaseFile(const std::string& src, const std::string& dst, const KeyRef* from,
                                 const KeyRef* to);

struct VerifyReport {
  DbHeader header;
  uint32_t pages_authenticated = 0;
  uint32_t free_leaf_pages = 0;
};

// Authenticates every page of encrypted `path` with `key` (every page must decode for a plain
// file opened with nullptr). DataLoss naming the first page that fails.
absl::StatusOr<VerifyReport> VerifyDatabaseFile(const std::string& path, const KeyRef* key);

// Reads the header of `path` (no key needed: the header is stored in clear).
absl::StatusOr<DbHeader> ReadDatabaseHeader(const std::string& path);

}  // namespace pgqrs::engine
