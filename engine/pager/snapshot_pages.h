// SnapshotPages: the pages of one committed state, for a read transaction (MVCC.md section 2).
//
// Construction pins the pager's last published commit; destruction releases it. Pages are read
// through Pager::ReadSnapshotPage into a small private cache, so nothing the writer or a
// checkpoint does afterwards changes what this source returns.
//
// Thread safety: one thread at a time (the pager calls it makes are thread-safe).
#pragma once

#include <cstdint>
#include <unordered_map>

#include "engine/pager/page_source.h"
#include "engine/pager/pager.h"

namespace pgqrs::engine {

class SnapshotPages final : public PageSource {
 public:
  explicit SnapshotPages(Pager* pager);
  ~SnapshotPages();
  SnapshotPages(const SnapshotPages&) = delete;
  SnapshotPages& operator=(const SnapshotPages&) = delete;

  absl::StatusOr<PageRef> Get(uint32_t pgno) override;
  uint32_t usable_size() const override { return snapshot_.header.usable_size(); }
  uint32_t page_count() const override { return snapshot_.header.page_count; }
  uint64_t epoch() const override { return 0; }  // a snapshot never changes

  const Snapshot& snapshot() const { return snapshot_; }

 private:
  Pager* pager_;
  const Snapshot snapshot_;
  std::unordered_map<uint32_t, PageRef> cache_;
};

}  // namespace pgqrs::engine
