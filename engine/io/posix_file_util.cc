#include "engine/io/posix_file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/base/errno_status.h"

namespace pgqrs::engine {

absl::StatusOr<int> FdOpen(const std::string& path, bool create, bool read_only) {
  int flags = O_CLOEXEC | (read_only ? O_RDONLY : O_RDWR);
  if (create && !read_only) flags |= O_CREAT;
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return ErrnoToStatus(path + ": open", errno);
  return fd;
}

absl::StatusOr<size_t> FdReadFull(int fd, const std::string& path, uint64_t offset, uint8_t* dst,
                                  size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, dst + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return ErrnoToStatus(path + ": pread", errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  if (done < n) std::memset(dst + done, 0, n - done);
  return done;
}

absl::Status FdWriteFull(int fd, const std::string& path, uint64_t offset, const uint8_t* data,
                         size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pwrite(fd, data + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return ErrnoToStatus(path + ": pwrite", errno);
    }
    if (r == 0) return absl::InternalError(path + ": pwrite wrote 0 bytes");
    done += static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

absl::Status FdDataSync(int fd, const std::string& path) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) return ErrnoToStatus(path + ": fdatasync", errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FdSize(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoToStatus(path + ": fstat", errno);
  return static_cast<uint64_t>(st.st_size);
}

absl::Status FdTruncate(int fd, const std::string& path, uint64_t size) {
  while (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) return ErrnoToStatus(path + ": ftruncate", errno);
  }
  return absl::OkStatus();
}

absl::Status FdOfdLock(int fd, const std::string& path, uint64_t start, uint64_t len,
                       bool exclusive) {
  struct flock fl = {};
  fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(start);
  fl.l_len = static_cast<off_t>(len);
  fl.l_pid = 0;
  if (::fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    if (errno == EAGAIN || errno == EACCES) {
      return absl::UnavailableError(path + ": database is locked");
    }
    return ErrnoToStatus(path + ": fcntl(F_OFD_SETLK)", errno);
  }
  return absl::OkStatus();
}

absl::Status PathRemove(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoToStatus(path + ": unlink", errno);
  }
  return absl::OkStatus();
}

absl::Status DirSync(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(dir + ": open directory", errno);
  int r;
  while ((r = ::fsync(fd)) != 0 && errno == EINTR) {
  }
  int err = errno;
  ::close(fd);
  if (r != 0) return ErrnoToStatus(dir + ": fsync directory", err);
  return absl::OkStatus();
}

bool PathExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace pgqrs::engine
