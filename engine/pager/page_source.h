// PageSource: read access to the pages of one database state, the only thing the b-tree code
// needs for searches and cursors. The pager is the writer's source (the newest state plus the
// open transaction's changes); SnapshotPages is a read transaction's (one committed state).
// PageWriter adds what b-tree modifications need: the pager writes the database, PrivatePages
// a concurrent transaction's private copy of its snapshot (engine/MVCC.md section 7).
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"

namespace pgqrs::engine {

// One page image. `data` has page_size bytes.
struct Page {
  uint32_t pgno = 0;
  bool dirty = false;
  std::unique_ptr<uint8_t[]> data;
};
using PageRef = std::shared_ptr<Page>;

class PageSource {
 public:
  // Page `pgno`. DataLoss if pgno is 0, beyond the database or the lock-byte page. The
  // returned page must not be modified (only the pager's writer may, after MarkDirty).
  virtual absl::StatusOr<PageRef> Get(uint32_t pgno) = 0;
  virtual uint32_t usable_size() const = 0;
  virtual uint32_t page_count() const = 0;
  // Changes whenever a page of this source may have changed; cursors re-seek when it does.
  virtual uint64_t epoch() const = 0;

 protected:
  ~PageSource() = default;
};

class PageWriter : public PageSource {
 public:
  // Makes `page` (returned by Get) modifiable: the caller changes its data afterwards.
  virtual void MarkDirty(const PageRef& page) = 0;
  // A new zero-filled page, already dirty.
  virtual absl::StatusOr<PageRef> Allocate() = 0;
  // Gives page `pgno` up; it must not be used again.
  virtual absl::Status Free(uint32_t pgno) = 0;

 protected:
  ~PageWriter() = default;
};

}  // namespace pgqrs::engine
