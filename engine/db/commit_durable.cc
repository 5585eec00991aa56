// Transaction::CommitDurable: Commit, then wait for the fsync of what the transaction saw.
#include "engine/base/status_macros.h"
#include "engine/db/database.h"
#include "engine/pager/pager.h"

namespace pgqrs::engine {

absl::Status Transaction::CommitDurable() {
  if (done_) return absl::FailedPreconditionError("transaction has ended");
  // Taken while this transaction holds the slot: it covers every commit it could see.
  const uint64_t seen = db_->pager_->committed_lsn();
  PGQRS_RETURN_IF_ERROR(Commit());
  return db_->pager_->SyncTo(seen);
}

}  // namespace pgqrs::engine
