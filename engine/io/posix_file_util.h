// File-descriptor helpers shared by the POSIX and io_uring backends.
// Thread safety: stateless.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgqrs::engine {

// open(2) with O_CLOEXEC, O_RDWR or O_RDONLY, and O_CREAT when `create`.
absl::StatusOr<int> FdOpen(const std::string& path, bool create, bool read_only);
absl::StatusOr<uint64_t> FdSize(int fd, const std::string& path);
absl::Status FdTruncate(int fd, const std::string& path, uint64_t size);
// F_OFD_SETLK on [start, start+len). Unavailable("database is locked") on conflict.
absl::Status FdOfdLock(int fd, const std::string& path, uint64_t start, uint64_t len,
                       bool exclusive);
absl::Status PathRemove(const std::string& path);
// open(dir, O_DIRECTORY) + fsync + close.
absl::Status DirSync(const std::string& dir);
bool PathExists(const std::string& path);

}  // namespace pgqrs::engine
