// POSIX backend: pread/pwrite/fdatasync, completing inline.
#include <unistd.h>

#include "engine/io/io_backend.h"
#include "engine/io/posix_file_util.h"

namespace pgqrs::engine {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, uint8_t* dst, size_t n) override {
    return FdReadFull(fd_, path_, offset, dst, n);
  }

  absl::Status Write(const std::vector<WriteOp>& ops) override {
    for (const WriteOp& op : ops) {
      absl::Status s = FdWriteFull(fd_, path_, op.offset, op.data, op.size);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status WriteAndSync(const std::vector<WriteOp>& ops) override {
    absl::Status s = Write(ops);
    if (!s.ok()) return s;
    return Sync();
  }

  absl::Status Sync() override { return FdDataSync(fd_, path_); }

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
