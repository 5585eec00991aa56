// POSIX backend: pread/pwrite/fdatasync, completing inline.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/base/errno_status.h"
#include "engine/io/io_backend.h"
#include "engine/io/posix_file_util.h"

namespace pgqrs::engine {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, uint8_t* dst, size_t n) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return ErrnoToStatus(path_ + ": pread", errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    if (done < n) std::memset(dst + done, 0, n - done);
    return done;
  }

  absl::Status Write(const std::vector<WriteOp>& ops) override {
    for (const WriteOp& op : ops) {
      size_t done = 0;
      while (done < op.size) {
        ssize_t r =
            ::pwrite(fd_, op.data + done, op.size - done, static_cast<off_t>(op.offset + done));
        if (r < 0) {
          if (errno == EINTR || errno == EAGAIN) continue;
          return ErrnoToStatus(path_ + ": pwrite", errno);
        }
        if (r == 0) return absl::InternalError(path_ + ": pwrite wrote 0 bytes");
        done += static_cast<size_t>(r);
      }
    }
    return absl::OkStatus();
  }

  absl::Status WriteAndSync(const std::vector<WriteOp>& ops) override {
    absl::Status s = Write(ops);
    if (!s.ok()) return s;
    return Sync();
  }

  absl::Status Sync() override {
    while (::fdatasync(fd_) != 0) {
      if (errno != EINTR) return ErrnoToStatus(path_ + ": fdatasync", errno);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() override { return FdSize(fd_, path_); }
  absl::Status Truncate(uint64_t size) override { return FdTruncate(fd_, path_, size); }
  absl::Status Lock(uint64_t start, uint64_t len, bool exclusive) override {
    return FdOfdLock(fd_, path_, start, len, exclusive);
  }

 private:
  int fd_;
  std::string path_;
};

class PosixBackend final : public IoBackend {
 public:
  const char* name() const override { return "posix"; }
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, bool create,
                                             bool read_only) override {
    absl::StatusOr<int> fd = FdOpen(path, create, read_only);
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<File>(new PosixFile(*fd, path));
  }
  absl::Status Remove(const std::string& path) override { return PathRemove(path); }
  absl::Status SyncDirectory(const std::string& dir) override { return DirSync(dir); }
  bool Exists(const std::string& path) override { return PathExists(path); }
};

}  // namespace

std::shared_ptr<IoBackend> NewPosixBackend() { return std::make_shared<PosixBackend>(); }

}  // namespace pgqrs::engine
