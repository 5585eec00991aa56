// The 100-byte SQLite database header (fileformat.html section 1.3).
// Thread safety: plain value type.
#pragma once

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"

namespace pgqrs::engine {

inline constexpr int kDbHeaderSize = 100;
inline constexpr uint64_t kPendingByte = 0x40000000;  // start of SQLite's lock-byte range
inline constexpr uint32_t kDefaultPageSize = 4096;
inline constexpr uint32_t kSqliteVersionNumber = 3040001;
inline constexpr size_t kDatabaseIdBytes = 12;

struct DbHeader {
  uint32_t page_size = kDefaultPageSize;
  uint8_t write_version = 2;
  uint8_t read_version = 2;
  uint8_t reserved = 0;
  uint32_t change_counter = 0;
  uint32_t page_count = 0;
  uint32_t freelist_trunk = 0;
  uint32_t freelist_count = 0;
  uint32_t schema_cookie = 0;
  uint32_t schema_format = 4;
  uint32_t default_cache_size = 0;
  uint32_t user_version = 0;
  uint32_t application_id = 0;
  uint32_t version_valid_for = 0;
  uint32_t sqlite_version = kSqliteVersionNumber;
  // Encryption at rest (engine/FORMAT.md section 5), in SQLite's "reserved for expansion"
  // bytes 72..91: a random database id (all zero: the file is not encrypted), the key id and
  // a key check value.
  std::array<uint8_t, kDatabaseIdBytes> database_id{};
  uint32_t key_id = 0;
  uint32_t key_check = 0;

  bool encrypted() const {
    for (uint8_t b : database_id) {
      if (b != 0) return true;
    }
    return false;
  }

  uint32_t usable_size() const { return page_size - reserved; }
  // The page holding the lock-byte range (never used for data).
  uint32_t lock_byte_page() const { return static_cast<uint32_t>(kPendingByte / page_size) + 1; }
  // True when the in-header page count may be trusted (section 1.3.7).
  bool page_count_valid() const { return page_count != 0 && change_counter == version_valid_for; }
};

// Parses and validates the header in `p` (at least 100 bytes). Returns InvalidArgument when
// the bytes are not a SQLite database, Unimplemented for valid files this engine cannot handle
// (UTF-16, auto-vacuum, newer format versions).
absl::StatusOr<DbHeader> ParseDbHeader(const uint8_t* p);

// Writes `h` into the first 100 bytes of `p`.
void SerializeDbHeader(const DbHeader& h, uint8_t* p);

}  // namespace pgqrs::engine
