// Transaction::CommitDurable: Commit, then wait for the fsync of what the transaction saw.
#include "engine/base/status_macros.h"
#include "engine/db/database.h"
#include "engine/pager/pager.h"
#include "engine/pager/snapshot_pages.h"

namespace pgqrs::engine {

absl::Status Transaction::CommitDurable() {
  if (done_) return absl::FailedPreconditionError("transaction has ended");
  // A read transaction sees its snapshot; a writing one, while it holds the slot, every
  // commit so far.
  const uint64_t seen =
      snapshot_ != nullptr ? snapshot_->snapshot().lsn : db_->pager_->committed_lsn();
  PGQRS_RETURN_IF_ERROR(Commit());
  return db_->pager_->SyncTo(seen);
}

}  // namespace pgqrs::engine
