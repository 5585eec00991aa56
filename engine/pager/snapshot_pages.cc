#include "engine/pager/snapshot_pages.h"

#include "engine/base/status_macros.h"

namespace pgqrs::engine {
namespace {

// Enough for the b-tree levels and leaves a point read or a short scan touches. A scan over
// more pages drops arbitrary cached ones; cursors keep the pages they stand on alive.
constexpr size_t kMaxCachedPages = 256;

}  // namespace

SnapshotPages::SnapshotPages(Pager* pager) : pager_(pager), snapshot_(pager->AcquireSnapshot()) {}

SnapshotPages::~SnapshotPages() { pager_->ReleaseSnapshot(snapshot_); }

absl::StatusOr<PageRef> SnapshotPages::Get(uint32_t pgno) {
  auto it = cache_.find(pgno);
  if (it != cache_.end()) return it->second;
  PGQRS_ASSIGN_OR_RETURN(PageRef page, pager_->ReadSnapshotPage(snapshot_, pgno));
  if (cache_.size() >= kMaxCachedPages) cache_.erase(cache_.begin());
  cache_.emplace(pgno, page);
  return page;
}

}  // namespace pgqrs::engine
