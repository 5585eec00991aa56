#include "engine/pager/private_pages.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace pgqrs::engine {

PrivatePages::PrivatePages(std::unique_ptr<SnapshotPages> snapshot)
    : snapshot_(std::move(snapshot)), page_count_(snapshot_->page_count()) {}

absl::StatusOr<PageRef> PrivatePages::Get(uint32_t pgno) {
  auto it = modified_.find(pgno);
  if (it != modified_.end()) return it->second;
  if (pgno > page_count_) return absl::DataLossError(absl::StrCat("invalid page number ", pgno));
  return snapshot_->Get(pgno);
}

void PrivatePages::MarkDirty(const PageRef& page) {
  ++epoch_;
  if (page->dirty) return;
  page->dirty = true;
  modified_[page->pgno] = page;
}

absl::StatusOr<PageRef> PrivatePages::Allocate() {
  uint32_t pgno = page_count_ + 1;
  if (pgno == snapshot_->snapshot().header.lock_byte_page()) ++pgno;
  if (pgno >= 0xfffffffd) return absl::ResourceExhaustedError("database full");
  page_count_ = pgno;
  auto page = std::make_shared<Page>();
  page->pgno = pgno;
  page->data.reset(new uint8_t[snapshot_->snapshot().header.page_size]);
  std::memset(page->data.get(), 0, snapshot_->snapshot().header.page_size);
  MarkDirty(page);
  return page;
}

absl::Status PrivatePages::Free(uint32_t pgno) {
  if (pgno < 2 || pgno > page_count_) {
    return absl::DataLossError(absl::StrCat("freeing invalid page ", pgno));
  }
  modified_.erase(pgno);
  ++epoch_;
  return absl::OkStatus();
}

}  // namespace pgqrs::engine
