// Transaction::CommitDurable: Commit, then wait for the fsync of what the transaction saw.
#include "engine/base/status_macros.h"
#include "engine/db/database.h"
#include "engine/pager/pager.h"
#include "engine/pager/private_pages.h"
#include "engine/pager/snapshot_pages.h"

namespace pgqrs::engine {

absl::Status Transaction::CommitDurable() {
  if (done_) return absl::FailedPreconditionError("transaction has ended");
  // A read or concurrent transaction sees its snapshot (durable already); an exclusive one,
  // while it holds the slot, every commit so far.
  uint64_t seen = 0;
  switch (kind_) {
    case Kind::kExclusive:
      seen = db_->pager_->committed_lsn();
      break;
    case Kind::kRead:
      seen = snapshot_->snapshot().lsn;
      break;
    case Kind::kConcurrent:
      seen = private_pages_->snapshot().lsn;
      break;
  }
  PGQRS_RETURN_IF_ERROR(Commit());
  return db_->pager_->SyncTo(seen);
}

}  // namespace pgqrs::engine
