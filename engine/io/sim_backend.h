// A deterministic, in-memory IoBackend for crash and fault-injection tests.
//
// Every file keeps two images: what reads see (all writes applied) and what is durable (only
// writes covered by a completed Sync). Crash() resolves each unsynced write according to the
// seeded PRNG -- applied, dropped, or torn at 512-byte sector granularity, in a shuffled order
// -- makes the result the new content of every file, and kills all File handles opened before
// the crash (their calls return Unavailable). Truncate and Remove are durable immediately.
// A file created by Open exists after a crash only if its directory was synced
// (SyncDirectory) after its creation; files set with SetContents always survive.
// Faults: InjectFault(op, n, errno) makes the n-th future op of that kind fail.
//
// Thread safety: all methods are thread-safe (one internal mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/io/io_backend.h"

namespace pgqrs::engine {

class SimBackend final : public IoBackend, public std::enable_shared_from_this<SimBackend> {
 public:
  enum class Op { kWrite, kSync };

  explicit SimBackend(uint64_t seed);

  const char* name() const override { return "sim"; }
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, bool create,
                                             bool read_only) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status SyncDirectory(const std::string& dir) override;
  bool Exists(const std::string& path) override;

  // Simulates power loss: resolves unsynced writes (see above), drops all locks and
  // invalidates open files.
  void Crash();
  // Makes the n-th (1-based, counted from now) future op of kind `op` fail with `err`
  // (e.g. EIO, ENOSPC) without taking effect.
  void InjectFault(Op op, int n, int err);
  // Number of write ops (one per WriteOp), file syncs and directory syncs performed so far.
  int64_t write_count() const;
  int64_t sync_count() const;
  int64_t dir_sync_count() const;
  // Current content of `path` (empty if missing) and a setter, e.g. to export an image to a
  // real file for sqlite3 or to seed a fuzz input.
  std::string Contents(const std::string& path) const;
  void SetContents(const std::string& path, std::string data);

 private:
  friend class SimFile;
  struct PendingWrite {
    uint64_t offset;
    std::string data;
  };
  struct FileState {
    std::string data;     // what reads see
    std::string durable;  // what survives a crash
    std::vector<PendingWrite> pending;
    bool entry_durable = false;  // the directory entry survives a crash
    int lock_owner = 0;          // 0 = unlocked, else the owning handle id
    bool lock_exclusive = false;
    int shared_holders = 0;
  };

  absl::Status CheckFault(Op op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ResolvePending(FileState* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  int next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t writes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dir_syncs_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<Op, std::map<int64_t, int>> faults_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgqrs::engine
