// File-descriptor helpers shared by the POSIX and io_uring backends.
// Thread safety: stateless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgqrs::engine {

// open(2) with O_CLOEXEC, O_RDWR or O_RDONLY, and O_CREAT when `create`.
absl::StatusOr<int> FdOpen(const std::string& path, bool create, bool read_only);
absl::StatusOr<uint64_t> FdSize(int fd, const std::string& path);
absl::Status FdTruncate(int fd, const std::string& path, uint64_t size);
// pread(2) until `n` bytes or end of file; zero-fills the rest of `dst`. Returns bytes read.
absl::StatusOr<size_t> FdReadFull(int fd, const std::string& path, uint64_t offset, uint8_t* dst,
                                  size_t n);
// pwrite(2) until all `n` bytes are written.
absl::Status FdWriteFull(int fd, const std::string& path, uint64_t offset, const uint8_t* data,
                         size_t n);
// fdatasync(2), retried on EINTR.
absl::Status FdDataSync(int fd, const std::string& path);
// F_OFD_SETLK on [start, start+len). Unavailable("database is locked") on conflict.
absl::Status FdOfdLock(int fd, const std::string& path, uint64_t start, uint64_t len,
                       bool exclusive);
absl::Status PathRemove(const std::string& path);
// open(dir, O_DIRECTORY) + fsync + close.
absl::Status DirSync(const std::string& dir);
bool PathExists(const std::string& path);

}  // namespace pgqrs::engine
