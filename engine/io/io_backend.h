// I/O backends: one interface for positioned file I/O, with three implementations:
// io_uring (liburing), POSIX pread/pwrite/fdatasync, and a deterministic simulator used by the
// crash tests (engine/io/sim_backend.h).
//
// Thread safety: IoBackend and File methods may be called concurrently from several threads;
// writes issued concurrently must not overlap. Sync() may run concurrently with Write().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgqrs::engine {

// One positioned write. `data` must stay valid until the call that takes it returns.
struct WriteOp {
  uint64_t offset = 0;
  const uint8_t* data = nullptr;
  size_t size = 0;
};

class File {
 public:
  virtual ~File() = default;
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Reads up to `n` bytes at `offset` into `dst`. Returns the bytes read, which is less than
  // `n` only at end of file (the remainder of `dst` is then zero-filled).
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, uint8_t* dst, size_t n) = 0;
  // Writes every op completely (batched where the backend can). The ops must not overlap.
  virtual absl::Status Write(const std::vector<WriteOp>& ops) = 0;
  // Writes every op, then makes them durable (fdatasync). The sync is ordered after all writes.
  virtual absl::Status WriteAndSync(const std::vector<WriteOp>& ops) = 0;
  // fdatasync. An error must be treated as fatal by the caller (the kernel may have dropped
  // dirty pages).
  virtual absl::Status Sync() = 0;
  virtual absl::StatusOr<uint64_t> Size() = 0;
  virtual absl::Status Truncate(uint64_t size) = 0;
  // Takes an OFD byte-range lock (F_OFD_SETLK): exclusive (write) or shared (read).
  // Returns Unavailable("database is locked") if another open file description holds a
  // conflicting lock. The lock is released when the File is destroyed.
  virtual absl::Status Lock(uint64_t start, uint64_t len, bool exclusive) = 0;
};

class IoBackend {
 public:
  virtual ~IoBackend() = default;
  IoBackend() = default;
  IoBackend(const IoBackend&) = delete;
  IoBackend& operator=(const IoBackend&) = delete;

  // "uring", "posix" or "sim".
  virtual const char* name() const = 0;
  // Opens `path`; creates it when `create` is set and it does not exist.
  // NotFound when it does not exist and `create` is false.
  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, bool create,
                                                     bool read_only) = 0;
  // Deletes `path`. OK if it did not exist.
  virtual absl::Status Remove(const std::string& path) = 0;
  // fsyncs directory `dir`, making the entries of files created in it durable (a new file
  // whose directory was not synced may vanish on power loss even if the file was synced).
  virtual absl::Status SyncDirectory(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
};

enum class IoBackendKind {
  kAuto,   // io_uring if it works here, else POSIX; the choice is logged
  kUring,  // io_uring or an error
  kPosix,
};

// Returns the POSIX backend.
std::shared_ptr<IoBackend> NewPosixBackend();

// Returns the io_uring backend after probing that a ring can be created and that READ, WRITE
// and FSYNC are supported. FailedPrecondition (with the errno text) if io_uring is unusable.
absl::StatusOr<std::shared_ptr<IoBackend>> NewUringBackend();

// Creates a backend of `kind`. For kAuto the environment variable PGQRS_ENGINE_IO
// ("uring" or "posix") overrides the probe. Logs the chosen backend with spdlog.
absl::StatusOr<std::shared_ptr<IoBackend>> CreateIoBackend(IoBackendKind kind);

}  // namespace pgqrs::engine
