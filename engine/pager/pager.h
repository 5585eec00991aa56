// The pager: page cache, dirty tracking, page allocation (freelist), transactions, and the
// WAL (commit, recovery, checkpoint) for one SQLite-format database file.
//
// Pages are read from the open transaction's newest spilled WAL frame, else the newest
// committed WAL frame, else the database file. The cache is bounded by `cache_pages`: clean
// pages are evicted in LRU order; when dirty pages of the open transaction alone exceed the
// bound, the oldest ones are spilled to the WAL as uncommitted frames (as SQLite does in WAL
// mode) and read back from there when needed. Commit appends the remaining dirty pages and
// the commit frame after them; rollback forgets the spilled frames (recovery and sqlite3
// ignore frames after the last commit frame, and the next transaction overwrites them).
//
// Snapshots (MVCC.md section 1): every commit publishes its state (WAL generation, frame
// count, header). A read transaction pins the newest published state whose WAL fsync has
// completed (AcquireSnapshot), so it never shows a commit a crash could undo and never waits
// for an fsync; it reads its pages with ReadSnapshotPage, never through the writer's cache.
// Checkpoints copy frames into the database file only up to the oldest pinned snapshot and restart
// the WAL only when no pinned snapshot reads from it.
//
// Thread safety: not thread-safe, except SyncTo (group commit), committed_lsn and the snapshot
// calls (AcquireSnapshot, ReleaseSnapshot, ReadSnapshotPage), which may be called from any
// thread while another thread uses the pager. The Database serializes all other calls.
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/crypto/key.h"
#include "engine/crypto/page_cipher.h"
#include "engine/format/db_header.h"
#include "engine/io/io_backend.h"
#include "engine/pager/page_source.h"
#include "engine/wal/wal.h"

namespace pgqrs::engine {

struct PagerOptions {
  // Pages kept in memory (see above). Default 2000 pages (8 MiB at 4 KiB pages).
  size_t cache_pages = 2000;
  // MaybeCheckpoint checkpoints when the WAL holds at least this many frames.
  uint32_t wal_checkpoint_pages = 1000;
  bool read_only = false;
  // Checkpoint and delete the WAL in Close(). Tests turn this off to leave a WAL behind as
  // a crashed process would.
  bool checkpoint_on_close = true;
  // Seed for WAL salts; 0 picks a random seed.
  uint64_t seed = 0;
  // Encryption at rest (FORMAT.md section 5): a database created with a key is encrypted; an
  // encrypted one needs the same key and key id to open.
  std::shared_ptr<const EncryptionKey> key;
  uint32_t key_id = 0;
  // Where the WAL records its group-commit statistics; null: nowhere. Must outlive the pager.
  WalStats* wal_stats = nullptr;
};

// A committed state of the database, as pinned by a read transaction.
struct Snapshot {
  uint64_t generation = 0;  // WAL generation (Wal::generation)
  uint32_t max_frame = 0;   // frames of that generation the state includes
  DbHeader header;          // the database header as of that commit
  uint64_t lsn = 0;         // SyncTo position that makes the state durable
};

class Pager final : public PageWriter {
 public:
  // Opens `path` (creating an empty database if it is missing or empty and not read-only),
  // takes the OFD lock, rolls back a hot `<db>-journal` left by sqlite3 (read-only opens
  // refuse one with FailedPrecondition), recovers the WAL. Read-write opens sync the directory
  // after creating the database file and the WAL, so that neither can vanish after a crash.
  // Unavailable if another process holds the lock, InvalidArgument/DataLoss for files that are not
  // valid databases. A missing key for an encrypted file or a key for a plain one is
  // FailedPrecondition, a wrong key or key id PermissionDenied; all are detected before
  // anything is written. Pages of an encrypted database that fail authentication are DataLoss
  // naming the page.
  static absl::StatusOr<std::unique_ptr<Pager>> Open(std::shared_ptr<IoBackend> backend,
                                                     const std::string& path,
                                                     const PagerOptions& options);
  ~Pager();
  Pager(const Pager&) = delete;
  Pager& operator=(const Pager&) = delete;

  // Checkpoints (if configured and writable) and releases the files. Idempotent.
  absl::Status Close();

  const DbHeader& header() const { return header_; }
  // The header of the open transaction; changes are written to page 1 at commit.
  // REQUIRES: in a write transaction.
  DbHeader* mutable_header() { return &header_; }
  uint32_t page_size() const { return header_.page_size; }
  uint32_t usable_size() const override { return header_.usable_size(); }
  uint32_t page_count() const override { return header_.page_count; }
  bool read_only() const { return options_.read_only; }
  IoBackend* backend() const { return backend_.get(); }

  // Returns page `pgno`. DataLoss if pgno is 0, beyond the database or the lock-byte page.
  // The returned page must not be modified unless MarkDirty was called on it.
  absl::StatusOr<PageRef> Get(uint32_t pgno) override;
  // Marks `page` as modified by the open transaction. REQUIRES: InTransaction().
  void MarkDirty(const PageRef& page) override;
  // Allocates a page (freelist first, then file growth skipping the lock-byte page).
  // The returned page is zero-filled and dirty.
  absl::StatusOr<PageRef> Allocate() override;
  // Puts `pgno` on the freelist. Its cached copy is dropped.
  absl::Status Free(uint32_t pgno) override;

  void Begin();
  bool InTransaction() const { return in_txn_; }
  // Appends the transaction's dirty pages to the WAL. Returns the sequence number to pass to
  // SyncTo; the commit is durable only after SyncTo returns OK. On error the transaction is
  // rolled back.
  absl::StatusOr<uint64_t> Commit();
  // Discards the transaction's changes.
  void Rollback();
  // Group commit: waits until the WAL is durable up to `lsn`. Thread-safe.
  absl::Status SyncTo(uint64_t lsn);
  // The WAL position of every commit so far, for SyncTo (0 without a WAL). Thread-safe.
  uint64_t committed_lsn() const;
  // Checkpoints if the WAL has reached the configured threshold (see pager.cc for how pinned
  // snapshots are handled). REQUIRES: no transaction.
  absl::Status MaybeCheckpoint();
  // Copies committed WAL frames into the database file (up to the oldest pinned snapshot, and
  // nothing while a snapshot from before the last WAL restart is pinned), syncs it, and
  // restarts the WAL once it is fully copied and no pinned snapshot reads from it. OK also
  // when pinned snapshots held part of it back: the next call continues. On error the WAL
  // stays authoritative (nothing committed is lost) and a later call rewrites every page it
  // had not finished before the database file is synced again.
  absl::Status Checkpoint();
  // True when the WAL holds no committed frame (e.g. after a complete checkpoint).
  bool wal_empty() const { return wal_ == nullptr || wal_->frame_count() == 0; }

  // Pins the newest durable commit until ReleaseSnapshot: every commit whose SyncTo returned
  // before the call is included. Thread-safe.
  Snapshot AcquireSnapshot();
  void ReleaseSnapshot(const Snapshot& snapshot);
  // The WAL position (`lsn`) of the newest durable commit: AcquireSnapshot pins it or a later
  // one. Thread-safe.
  uint64_t durable_lsn();
  // Page `pgno` as of pinned `snapshot` (authenticated and decrypted), read from the WAL or
  // the database file, never from the writer's cache. Thread-safe.
  absl::StatusOr<PageRef> ReadSnapshotPage(const Snapshot& snapshot, uint32_t pgno);

  // Incremented by every page modification and rollback; cursors re-seek when it changes.
  uint64_t epoch() const override { return epoch_; }

  // Statistics for tests and benchmarks.
  size_t cached_pages() const { return cache_.size(); }
  int64_t wal_sync_calls() const { return wal_ ? wal_->sync_calls() : 0; }
  uint32_t wal_frames() const { return wal_ ? wal_->frame_count() : 0; }

 private:
  struct Entry {
    PageRef page;
    std::list<uint32_t>::iterator lru;
    bool in_lru = false;
  };

  Pager(std::shared_ptr<IoBackend> backend, std::string path, const PagerOptions& options);
  absl::Status OpenFiles();
  // Checks the key against the header in `raw` (the first 100 bytes of the file) and, for an
  // encrypted database, creates cipher_.
  absl::Status SetUpEncryption(const uint8_t* raw);
  // How many of its newest frames the WAL keeps in memory for checkpoints.
  uint32_t WalFramesToKeep() const;
  absl::Status InitNewDatabase();
  absl::Status LoadHeader(uint64_t file_size);
  absl::StatusOr<PageRef> Load(uint32_t pgno);
  // Reads page `pgno` (`page_size` bytes) of the database file into `data`; DATA_LOSS when
  // the file ends before it.
  absl::Status ReadFromDbFile(uint32_t pgno, uint32_t page_size, uint8_t* data);
  // Decrypts page `pgno` in place when the database is encrypted; an error names the file.
  absl::Status Decrypt(uint32_t pgno, uint8_t* data);
  PageRef NewPage(uint32_t pgno);
  void Insert(const PageRef& page);
  void Touch(Entry* e);
  void EvictIfNeeded();
  // Evicts clean pages, then spills dirty ones if the cache is still over its bound.
  absl::Status KeepCacheBounded();
  // Writes unreferenced dirty pages of the open transaction to the WAL as uncommitted frames
  // and drops them from the cache, when clean pages alone cannot keep it within bounds.
  absl::Status SpillDirtyPages();
  void Drop(uint32_t pgno);
  // Makes the committed state the one new snapshots pin once its WAL fsync is done.
  void Publish();
  // Moves published_ to the newest queued commit the WAL's fsyncs cover.
  // REQUIRES: snap_mu_ held.
  void AdvanceDurableLocked();
  // The frame count up to which a checkpoint may copy frames now, or nullopt when a snapshot
  // from before the last WAL restart still reads the database file.
  std::optional<uint32_t> BackfillBound();
  // Copies the newest frame <= `to` of every page changed after frame `from` into the database
  // file and syncs it; a complete backfill (`to` = every committed frame) also sets the file
  // size to the page count.
  absl::Status Backfill(uint32_t from, uint32_t to);
  // Restarts the WAL if every pinned snapshot is the newest commit. REQUIRES: fully
  // backfilled, WAL synced.
  void RestartWalIfUnused();
  // Waits at most `timeout` for every pinned snapshot to be the newest commit.
  // REQUIRES: WAL synced (so that new snapshots pin the newest commit).
  void WaitForPinsAtNewest(absl::Duration timeout);
  absl::Status PushFreePage(uint32_t pgno);
  absl::StatusOr<uint32_t> PopFreePage();

  std::shared_ptr<IoBackend> backend_;
  std::string path_;
  PagerOptions options_;
  std::unique_ptr<File> db_;
  std::unique_ptr<PageCipher> cipher_;  // null for plain databases; used by wal_
  std::unique_ptr<Wal> wal_;
  DbHeader header_;
  DbHeader committed_header_;
  bool in_txn_ = false;
  bool closed_ = false;
  std::unordered_map<uint32_t, Entry> cache_;
  std::list<uint32_t> lru_;  // front = most recent; clean pages only
  std::vector<PageRef> dirty_;
  uint64_t epoch_ = 0;
  uint32_t backfilled_ = 0;  // WAL frames of this generation copied into the database file
  // MaybeCheckpoint waits for readers to restart the WAL once it holds this many frames.
  uint32_t restart_wait_frames_;

  absl::Mutex snap_mu_;                           // before Wal's index lock
  Snapshot published_ ABSL_GUARDED_BY(snap_mu_);  // the newest durable commit
  // Commits after published_ whose fsync had not completed when last looked at, oldest first.
  std::deque<Snapshot> not_durable_ ABSL_GUARDED_BY(snap_mu_);
  // (generation, max_frame) of every pinned snapshot.
  std::multiset<std::pair<uint64_t, uint32_t>> pins_ ABSL_GUARDED_BY(snap_mu_);
};

}  // namespace pgqrs::engine
