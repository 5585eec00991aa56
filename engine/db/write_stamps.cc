#include "engine/db/write_stamps.h"

#include <algorithm>

#include "engine/base/status_macros.h"

namespace pgqrs::engine {

std::unique_ptr<SnapshotPages> WriteStamps::PinSnapshot(Pager* pager) {
  absl::MutexLock l(&mu_);
  auto snapshot = std::make_unique<SnapshotPages>(pager);
  open_snapshots_.insert(snapshot->snapshot().lsn);
  return snapshot;
}

void WriteStamps::Unpin(uint64_t snapshot_lsn) {
  absl::MutexLock l(&mu_);
  auto it = open_snapshots_.find(snapshot_lsn);
  PGQRS_CHECK(it != open_snapshots_.end());
  open_snapshots_.erase(it);
}

WriteStamps::Hold::Hold(WriteStamps* stamps, uint64_t snapshot_lsn)
    : stamps_(stamps), snapshot_lsn_(snapshot_lsn) {
  absl::MutexLock l(&stamps_->mu_);
  stamps_->open_snapshots_.insert(snapshot_lsn_);
}

std::optional<RowConflict> WriteStamps::FindConflict(const std::vector<RowKey>& rows,
                                                     uint64_t snapshot_lsn) {
  absl::MutexLock l(&mu_);
  for (const RowKey& row : rows) {
    auto it = stamps_.find(row);
    if (it != stamps_.end() && it->second > snapshot_lsn) return RowConflict{row, it->second};
  }
  return std::nullopt;
}

void WriteStamps::Stamp(const std::vector<RowKey>& rows, uint64_t lsn, Pager* pager) {
  absl::MutexLock l(&mu_);
  PGQRS_CHECK(lsn > last_commit_);
  last_commit_ = lsn;
  for (const RowKey& row : rows) stamps_[row] = lsn;
  if (stamps_.size() >= prune_at_) PruneLocked(pager);
}

void WriteStamps::PruneLocked(Pager* pager) {
  // A stamp at or below every open snapshot, and below every future one (they pin the durable
  // horizon or later), can never be newer than a snapshot that checks it.
  uint64_t horizon = pager->durable_lsn();
  if (!open_snapshots_.empty()) horizon = std::min(horizon, *open_snapshots_.begin());
  absl::erase_if(stamps_, [horizon](const auto& stamp) { return stamp.second <= horizon; });
  // Prune again once the map has doubled: amortized O(1) per stamp.
  prune_at_ = std::max<size_t>(1024, 2 * stamps_.size());
}

uint64_t WriteStamps::LastCommit() {
  absl::MutexLock l(&mu_);
  return last_commit_;
}

std::optional<int64_t> WriteStamps::NextRowid(uint32_t root, int64_t at_least) {
  absl::MutexLock l(&mu_);
  int64_t& last = last_rowid_[root];
  if (last == INT64_MAX) return std::nullopt;
  last = std::max(at_least, last + 1);
  return last;
}

void WriteStamps::NoteRowid(uint32_t root, int64_t rowid) {
  absl::MutexLock l(&mu_);
  int64_t& last = last_rowid_[root];
  last = std::max(last, rowid);
}

}  // namespace pgqrs::engine
