// EncryptionKey: a 256-bit secret for page encryption, held in memory that is locked
// (mlock, kept out of swap) and excluded from core dumps (madvise MADV_DONTDUMP) where the
// kernel allows it, and wiped when the key is destroyed.
//
// Keys come from a key file or an environment variable, never from a command line. Errors
// name the file or variable, never the key bytes.
//
// Thread safety: immutable after construction; share it with std::shared_ptr<const ...>.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pgqrs::engine {

inline constexpr size_t kKeyBytes = 32;

class EncryptionKey {
 public:
  // `secret` must be exactly 32 raw bytes (InvalidArgument otherwise).
  static absl::StatusOr<std::shared_ptr<const EncryptionKey>> FromBytes(std::string_view secret);
  // Parses 32 raw bytes or 64 hex digits, ignoring one trailing newline.
  static absl::StatusOr<std::shared_ptr<const EncryptionKey>> Parse(std::string_view text);
  // Reads a key file. Refuses files that the group or others may read (PermissionDenied).
  static absl::StatusOr<std::shared_ptr<const EncryptionKey>> FromFile(const std::string& path);
  // Reads the key from environment variable `name` (hex or raw, see Parse).
  static absl::StatusOr<std::shared_ptr<const EncryptionKey>> FromEnv(const std::string& name);

  ~EncryptionKey();
  EncryptionKey(const EncryptionKey&) = delete;
  EncryptionKey& operator=(const EncryptionKey&) = delete;

  const uint8_t* bytes() const { return bytes_; }
  // True when mlock succeeded (it can fail under a low RLIMIT_MEMLOCK).
  bool locked() const { return locked_; }

 private:
  EncryptionKey(uint8_t* region, size_t region_size, bool locked);

  uint8_t* bytes_;  // kKeyBytes at the start of a private mapping
  size_t region_size_;
  bool locked_;
};

}  // namespace pgqrs::engine
