#include "engine/format/db_header.h"

#include <cstring>

#include "engine/format/varint.h"

namespace pgqrs::engine {
namespace {
constexpr char kMagic[16] = "SQLite format 3";  // 15 chars + NUL
}  // namespace

absl::StatusOr<DbHeader> ParseDbHeader(const uint8_t* p) {
  if (std::memcmp(p, kMagic, 16) != 0) {
    return absl::InvalidArgumentError("file is not a database (bad magic)");
  }
  DbHeader h;
  uint32_t ps = Get16(p + 16);
  if (ps == 1) ps = 65536;
  if (ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0) {
    return absl::DataLossError("header: bad page size");
  }
  h.page_size = ps;
  h.write_version = p[18];
  h.read_version = p[19];
  h.reserved = p[20];
  if (h.read_version > 2 || h.read_version == 0) {
    return absl::UnimplementedError("header: unsupported read version");
  }
  if (ps - h.reserved < 480) return absl::DataLossError("header: usable size below 480");
  if (p[21] != 64 || p[22] != 32 || p[23] != 32) {
    return absl::DataLossError("header: bad payload fractions");
  }
  h.change_counter = Get32(p + 24);
  h.page_count = Get32(p + 28);
  h.freelist_trunk = Get32(p + 32);
  h.freelist_count = Get32(p + 36);
  h.schema_cookie = Get32(p + 40);
  h.schema_format = Get32(p + 44);
  h.default_cache_size = Get32(p + 48);
  if (Get32(p + 52) != 0) return absl::UnimplementedError("header: auto_vacuum not supported");
  uint32_t enc = Get32(p + 56);
  if (enc != 1 && !(enc == 0 && h.page_count <= 1)) {
    return absl::UnimplementedError("header: only UTF-8 databases are supported");
  }
  h.user_version = Get32(p + 60);
  h.application_id = Get32(p + 68);
  std::memcpy(h.database_id.data(), p + 72, kDatabaseIdBytes);
  h.key_id = Get32(p + 84);
  h.key_check = Get32(p + 88);
  h.version_valid_for = Get32(p + 92);
  h.sqlite_version = Get32(p + 96);
  if (h.schema_format > 4) return absl::UnimplementedError("header: unknown schema format");
  return h;
}

void SerializeDbHeader(const DbHeader& h, uint8_t* p) {
  std::memset(p, 0, kDbHeaderSize);
  std::memcpy(p, kMagic, 16);
  Put16(p + 16, h.page_size == 65536 ? 1 : static_cast<uint16_t>(h.page_size));
  p[18] = h.write_version;
  p[19] = h.read_version;
  p[20] = h.reserved;
  p[21] = 64;
  p[22] = 32;
  p[23] = 32;
  Put32(p + 24, h.change_counter);
  Put32(p + 28, h.page_count);
  Put32(p + 32, h.freelist_trunk);
  Put32(p + 36, h.freelist_count);
  Put32(p + 40, h.schema_cookie);
  Put32(p + 44, h.schema_format == 0 ? 4 : h.schema_format);
  Put32(p + 48, h.default_cache_size);
  Put32(p + 56, 1);
  Put32(p + 60, h.user_version);
  Put32(p + 68, h.application_id);
  std::memcpy(p + 72, h.database_id.data(), kDatabaseIdBytes);
  Put32(p + 84, h.key_id);
  Put32(p + 88, h.key_check);
  Put32(p + 92, h.version_valid_for);
  Put32(p + 96, h.sqlite_version);
}

}  // namespace pgqrs::engine
