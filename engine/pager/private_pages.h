// PrivatePages: the pages a concurrent transaction reads and writes (engine/MVCC.md section 7):
// its pinned snapshot, with every page it modified replaced by its own copy and new pages
// numbered after the snapshot's last page. Nothing written here reaches the database: at
// commit the transaction's row operations are replayed on the pager, and these pages are
// dropped. So the b-tree code runs unchanged, and the transaction's reads (indexes included)
// see its own writes.
//
// Modified pages stay in memory until the transaction ends; freed pages are not reused.
// Thread safety: one thread at a time (the pager calls it makes are thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "engine/pager/page_source.h"
#include "engine/pager/snapshot_pages.h"

namespace pgqrs::engine {

class PrivatePages final : public PageWriter {
 public:
  explicit PrivatePages(std::unique_ptr<SnapshotPages> snapshot);
  PrivatePages(const PrivatePages&) = delete;
  PrivatePages& operator=(const PrivatePages&) = delete;

  absl::StatusOr<PageRef> Get(uint32_t pgno) override;
  uint32_t usable_size() const override { return snapshot_->usable_size(); }
  uint32_t page_count() const override { return page_count_; }
  uint64_t epoch() const override { return epoch_; }
  void MarkDirty(const PageRef& page) override;
  absl::StatusOr<PageRef> Allocate() override;
  absl::Status Free(uint32_t pgno) override;

  const Snapshot& snapshot() const { return snapshot_->snapshot(); }

 private:
  // The snapshot's page cache belongs to this transaction alone, so a page from it can be
  // modified in place once it is held in `modified_` (which keeps it from being re-read).
  std::unique_ptr<SnapshotPages> snapshot_;
  std::unordered_map<uint32_t, PageRef> modified_;
  uint32_t page_count_;
  uint64_t epoch_ = 0;
};

}  // namespace pgqrs::engine
