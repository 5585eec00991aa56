#include "engine/crypto/key.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "openssl/crypto.h"

namespace pgqrs::engine {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Wipes a stack or heap copy of key material.
struct Wiper {
  void* p;
  size_t n;
  ~Wiper() { OPENSSL_cleanse(p, n); }
};

}  // namespace

EncryptionKey::EncryptionKey(uint8_t* region, size_t region_size, bool locked)
    : bytes_(region), region_size_(region_size), locked_(locked) {}

EncryptionKey::~EncryptionKey() {
  OPENSSL_cleanse(bytes_, kKeyBytes);
  if (locked_) munlock(bytes_, region_size_);
  munmap(bytes_, region_size_);
}

absl::StatusOr<std::shared_ptr<const EncryptionKey>> EncryptionKey::FromBytes(
    std::string_view secret) {
  if (secret.size() != kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("an encryption key has ", kKeyBytes, " bytes, got ", secret.size()));
  }
  // A whole private page, so that locking and dump exclusion cover nothing else.
  const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* region = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) return absl::ResourceExhaustedError("cannot map memory for a key");
#ifdef MADV_DONTDUMP
  madvise(region, size, MADV_DONTDUMP);
#endif
  bool locked = mlock(region, size) == 0;
  std::memcpy(region, secret.data(), kKeyBytes);
  return std::shared_ptr<const EncryptionKey>(
      new EncryptionKey(static_cast<uint8_t*>(region), size, locked));
}

absl::StatusOr<std::shared_ptr<const EncryptionKey>> EncryptionKey::Parse(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.size() == kKeyBytes) return FromBytes(text);
  if (text.size() != 2 * kKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("an encryption key is ", kKeyBytes,
                                                   " raw bytes or ", 2 * kKeyBytes,
                                                   " hex digits, got ", text.size(), " bytes"));
  }
  uint8_t raw[kKeyBytes];
  Wiper wipe{raw, sizeof(raw)};
  for (size_t i = 0; i < kKeyBytes; ++i) {
    int hi = HexDigit(text[2 * i]), lo = HexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return absl::InvalidArgumentError("an encryption key has a non-hex digit");
    raw[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return FromBytes(std::string_view(reinterpret_cast<const char*>(raw), kKeyBytes));
}

absl::StatusOr<std::shared_ptr<const EncryptionKey>> EncryptionKey::FromFile(
    const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("key file ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat("key file ", path, ": not a regular file"));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    close(fd);
    return absl::PermissionDeniedError(absl::StrCat(
        "key file ", path, ": readable or writable by group or others (chmod 600 it)"));
  }
  char buf[2 * kKeyBytes + 2];
  Wiper wipe{buf, sizeof(buf)};
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n < 0) return absl::InternalError(absl::StrCat("key file ", path, ": read failed"));
  absl::StatusOr<std::shared_ptr<const EncryptionKey>> key =
      Parse(std::string_view(buf, static_cast<size_t>(n)));
  if (!key.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("key file ", path, ": ", key.status().message()));
  return key;
}

absl::StatusOr<std::shared_ptr<const EncryptionKey>> EncryptionKey::FromEnv(
    const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return absl::NotFoundError(absl::StrCat("key variable ", name, " is not set"));
  }
  absl::StatusOr<std::shared_ptr<const EncryptionKey>> key = Parse(value);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("key variable ", name, ": ", key.status().message()));
  }
  return key;
}

}  // namespace pgqrs::engine
