// WriteStamps: what first-committer-wins validation of concurrent transactions needs
// (engine/MVCC.md section 7), kept in memory only:
// - the commit (WAL position, `lsn`) that last wrote each row, for rows written since the
//   oldest open concurrent transaction's snapshot;
// - the snapshots of the open concurrent transactions;
// - per table, the highest rowid handed out, so that concurrent inserts never pick the same one.
//
// Rows are named by (table root page, rowid): a table's root page never moves.
// Thread safety: thread-safe. Stamp and LastCommit are called by the holder of the writer slot,
// which orders them with the validation (FindConflict) of the commit that holds it next.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "engine/pager/pager.h"
#include "engine/pager/snapshot_pages.h"

namespace pgqrs::engine {

using RowKey = std::pair<uint32_t, int64_t>;  // (table root page, rowid)

// A row written after a snapshot, and the commit that wrote it last.
struct RowConflict {
  RowKey row;
  uint64_t lsn;
};

class WriteStamps {
 public:
  // Pins the newest durable commit for a concurrent transaction and registers it (atomically
  // with respect to Stamp's pruning, so no stamp newer than the snapshot is dropped).
  std::unique_ptr<SnapshotPages> PinSnapshot(Pager* pager);
  // Unregisters a snapshot returned by PinSnapshot (before it is released).
  void Unpin(uint64_t snapshot_lsn);

  // Keeps the stamps newer than a snapshot from being pruned while it lives, for a committing
  // transaction that releases its snapshot's pages before it validates.
  class Hold {
   public:
    Hold(WriteStamps* stamps, uint64_t snapshot_lsn);
    ~Hold() { stamps_->Unpin(snapshot_lsn_); }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    WriteStamps* const stamps_;
    const uint64_t snapshot_lsn_;
  };

  // A row of `rows` that a commit after `snapshot_lsn` wrote, if any.
  std::optional<RowConflict> FindConflict(const std::vector<RowKey>& rows, uint64_t snapshot_lsn);
  // Records that the commit at `lsn` wrote `rows`, and drops stamps that every open and future
  // snapshot includes. `pager` gives the durable horizon. REQUIRES: lsn > every earlier one.
  void Stamp(const std::vector<RowKey>& rows, uint64_t lsn, Pager* pager);
  // The WAL position of the newest commit recorded by Stamp (0 before the first).
  uint64_t LastCommit();

  // The rowid for a new row of the table rooted at `root`: `at_least`, or more if a
  // transaction got that one already; nullopt when rowids are exhausted.
  std::optional<int64_t> NextRowid(uint32_t root, int64_t at_least);
  // Records that row `rowid` of the table rooted at `root` was written with an explicit rowid.
  void NoteRowid(uint32_t root, int64_t rowid);

 private:
  void PruneLocked(Pager* pager) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::multiset<uint64_t> open_snapshots_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<RowKey, uint64_t> stamps_ ABSL_GUARDED_BY(mu_);
  size_t prune_at_ ABSL_GUARDED_BY(mu_) = 1024;
  uint64_t last_commit_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_map<uint32_t, int64_t> last_rowid_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgqrs::engine
