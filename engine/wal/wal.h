// SQLite's write-ahead log (<db>-wal, fileformat.html section 4): recovery at open, commit
// append, group-commit sync, and reset after a checkpoint.
//
// Snapshots: every committed frame of the current generation stays readable until Reset (the
// writer only appends after the last commit). A snapshot is (generation, frame count) as of a
// commit; ReadSnapshotFrame finds a page's newest frame within it. Reset starts a new
// generation, after which older snapshots get nothing from the WAL (MVCC.md section 1).
//
// Thread safety: Append/Reset/Lookup/ReadPage/PagesToBackfill/DiscardUncommitted must be
// serialized by the caller (the pager's writer slot). ReadSnapshotFrame and generation() may be
// called from any thread at any time. SyncTo may be called concurrently with everything else;
// it implements group commit (one fdatasync covers every frame appended before it started).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/base/histogram.h"
#include "engine/crypto/page_cipher.h"
#include "engine/io/io_backend.h"

namespace pgqrs::engine {

inline constexpr uint32_t kWalMagicLe = 0x377f0682;
inline constexpr uint32_t kWalMagicBe = 0x377f0683;
inline constexpr uint32_t kWalVersion = 3007000;
inline constexpr uint32_t kWalHeaderSize = 32;
inline constexpr uint32_t kWalFrameHeaderSize = 24;

// Cumulative WAL checksum over `n` bytes (n % 8 == 0), words read little- or big-endian.
void WalChecksum(bool big_endian, const uint8_t* p, size_t n, uint32_t* s0, uint32_t* s1);

// Group-commit statistics of a WAL. Owned by the database, which lives longer than any
// one Wal object, so readers need no lock.
struct WalStats {
  WalStats();
  Histogram sync_seconds;      // duration of each fdatasync that made commits durable
  Histogram commits_per_sync;  // commits each of those fdatasyncs made durable
};

class Wal {
 public:
  // Opens (and, unless read-only, creates) `path` and recovers the committed frames.
  // A WAL whose header is invalid or whose page size differs is treated as empty. With a
  // `cipher` (owned by the caller, outliving the Wal), Append seals every page image it writes;
  // ReadPage returns the sealed image as stored. With `stats` (owned by the caller, outliving
  // the Wal), SyncTo records every fdatasync there. With `keep_frames` > 0, Append builds its
  // frames in a ring of that many frames (allocated on first use), so the newest frames
  // written stay in memory for KeptPage.
  static absl::StatusOr<std::unique_ptr<Wal>> Open(IoBackend* backend, const std::string& path,
                                                   uint32_t page_size, bool read_only,
                                                   uint64_t seed, PageCipher* cipher = nullptr,
                                                   WalStats* stats = nullptr,
                                                   uint32_t keep_frames = 0);
  ~Wal();

  // Database size in pages recorded by the last valid commit frame, or 0 if none.
  uint32_t db_size() const { return db_size_; }
  // Number of frames up to the last commit.
  uint32_t frame_count() const { return frames_; }
  // Incremented by every Reset. Thread-safe.
  uint64_t generation() const;
  // Reads into `dst` (sealed, as stored) the newest frame of `pgno` among the first
  // `max_frame` frames of generation `generation`. Returns false, reading nothing, when there
  // is none or the WAL has been reset since (the page then comes from the database file).
  // Thread-safe; a Reset waits for reads in progress.
  absl::StatusOr<bool> ReadSnapshotFrame(uint64_t generation, uint32_t max_frame, uint32_t pgno,
                                         uint8_t* dst);
  // True and the file offset of the page data if `pgno` has a frame: the open transaction's
  // newest uncommitted frame if any, else the newest committed one.
  bool Lookup(uint32_t pgno, uint64_t* offset) const;
  // Reads the page image at `offset` (from Lookup).
  absl::Status ReadPage(uint64_t offset, uint8_t* dst);
  // The page image at `offset` (from PagesToBackfill) as written, if it is still in the ring
  // of frames kept in memory, else nullptr. Valid until the next Append. Lets a checkpoint
  // copy frames as stored without reading them back.
  const uint8_t* KeptPage(uint64_t offset) const;

  // Appends one frame per page in a single batched write, after any uncommitted frames.
  // With `db_size` > 0 the last frame is the commit frame carrying it, committing the
  // uncommitted frames too; with `db_size` == 0 the frames stay uncommitted (pages of the open
  // transaction spilled from the cache). Returns a sequence number to pass to SyncTo. Not
  // durable yet.
  absl::StatusOr<uint64_t> Append(const std::vector<std::pair<uint32_t, const uint8_t*>>& pages,
                                  uint32_t db_size);
  bool has_uncommitted() const { return uncommitted_frames_ > 0; }
  // Forgets the uncommitted frames (rollback) and returns their page numbers. The next Append
  // overwrites them; recovery and sqlite3 ignore frames after the last commit frame.
  std::vector<uint32_t> DiscardUncommitted();
  // Returns once every frame up to `lsn` is on stable storage (group commit). A failed sync
  // poisons the WAL: every later call returns the same error.
  absl::Status SyncTo(uint64_t lsn);
  // The sequence number of everything appended so far (never decreases).
  uint64_t appended_lsn() const { return appended_lsn_.load(); }
  // The sequence number up to which everything is on stable storage. Thread-safe.
  uint64_t synced_lsn();
  // Makes everything appended so far durable.
  absl::Status SyncAll() { return SyncTo(appended_lsn_.load()); }
  // What a checkpoint copies to bring the database file from the state after `from` frames to
  // the state after `to` frames (both commit boundaries): (pgno, data offset) of the newest
  // frame <= `to` of every page whose newest such frame comes after `from`, limited to the
  // database size at `to`, sorted by page number.
  std::vector<std::pair<uint32_t, uint64_t>> PagesToBackfill(uint32_t from, uint32_t to) const;
  // Database size in pages recorded by the commit that ends at frame count `frames`.
  uint32_t DbSizeAt(uint32_t frames) const;
  // Restarts the log after a checkpoint: the next Append writes a new header (checkpoint
  // sequence + 1, salt-1 + 1, new salt-2) at offset 0, and the generation is incremented.
  // REQUIRES: no uncommitted frames, no snapshot of this generation still reading frames.
  void Reset();
  // Number of fdatasync calls issued (for tests of group commit).
  int64_t sync_calls() const { return sync_calls_.load(); }
  File* file() { return file_.get(); }

 private:
  Wal() = default;
  absl::Status Recover();
  void WriteHeader(uint8_t* h);
  // Records one fdatasync of `took` seconds that covered the commits appended up to
  // `commits_appended`.
  void RecordSync(uint64_t commits_appended, double took) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  uint64_t FrameOffset(uint32_t frame) const;
  // Where Append builds frames first_frame..first_frame+n-1: ring slots if the ring holds n
  // frames (the frames they replace stop being kept), else a scratch buffer.
  std::vector<uint8_t*> FrameBuffers(uint32_t first_frame, size_t n);
  // Records a commit ending at frame count `frames`: `newest` maps its pages to their frames.
  void AddCommit(const std::unordered_map<uint32_t, uint32_t>& newest, uint32_t frames,
                 uint32_t db_size);

  std::unique_ptr<File> file_;
  PageCipher* cipher_ = nullptr;
  WalStats* stats_ = nullptr;
  uint32_t page_size_ = 0;
  bool read_only_ = false;
  bool big_endian_ = false;
  bool header_written_ = false;
  uint32_t ckpt_seq_ = 0;
  uint32_t salt1_ = 0, salt2_ = 0;
  uint32_t cksum0_ = 0, cksum1_ = 0;  // running checksum after the last committed frame
  uint32_t tail0_ = 0, tail1_ = 0;    // running checksum after the last appended frame
  uint32_t frames_ = 0;
  uint32_t uncommitted_frames_ = 0;  // appended after frames_ by the open transaction
  uint32_t db_size_ = 0;
  uint64_t rand_state_ = 0;
  std::unordered_map<uint32_t, uint32_t> uncommitted_index_;  // pgno -> frame (0-based)

  // Committed frames of this generation. Written by the writer under an exclusive lock, read
  // by snapshot readers under a shared one (held across their frame read, so that Reset never
  // lets a frame be overwritten under a read).
  mutable absl::Mutex index_mu_;
  uint64_t generation_ ABSL_GUARDED_BY(index_mu_) = 0;
  // pgno -> its committed frames (0-based), ascending.
  std::unordered_map<uint32_t, std::vector<uint32_t>> history_ ABSL_GUARDED_BY(index_mu_);
  // (frame count after the commit, database size) of every commit, ascending.
  std::vector<std::pair<uint32_t, uint32_t>> commits_ ABSL_GUARDED_BY(index_mu_);
  std::vector<uint8_t> buf_;  // scratch frames (see FrameBuffers)
  // Ring of the newest frames written: frame f (0-based in this generation) is in slot
  // f % ring_frames_, and frames kept_begin_..kept_end_-1 are there as written.
  uint32_t ring_frames_ = 0;
  std::unique_ptr<uint8_t[]> ring_;
  uint32_t kept_begin_ = 0;
  uint32_t kept_end_ = 0;

  std::atomic<uint64_t> appended_lsn_{0};
  std::atomic<int64_t> sync_calls_{0};
  std::atomic<uint64_t> commits_appended_{0};
  absl::Mutex sync_mu_;
  absl::CondVar sync_cv_;
  uint64_t synced_lsn_ ABSL_GUARDED_BY(sync_mu_) = 0;
  bool syncing_ ABSL_GUARDED_BY(sync_mu_) = false;
  uint64_t commits_synced_ ABSL_GUARDED_BY(sync_mu_) = 0;
  absl::Status sync_error_ ABSL_GUARDED_BY(sync_mu_);
};

}  // namespace pgqrs::engine
