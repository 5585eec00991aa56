#include "storage/engine/id_blocks.h"

#include <algorithm>

#include "engine/base/status_macros.h"
#include "storage/engine/engine_store_impl.h"

namespace pgqrs::storage::enginestore {

IdBlocks::IdBlocks(engine::Database& db, int64_t block_size) : db_(db), block_size_(block_size) {}

absl::StatusOr<int64_t> IdBlocks::Take(int64_t sequence, int64_t count) {
  absl::MutexLock lock(&mu_);
  Block& block = blocks_[sequence];
  if (block.end - block.next < count) {
    PGQRS_ASSIGN_OR_RETURN(block, Reserve(sequence, count));
  }
  int64_t first = block.next;
  block.next += count;
  return first;
}

absl::StatusOr<IdBlocks::Block> IdBlocks::Reserve(int64_t sequence, int64_t count) {
  const int64_t size = std::max(block_size_, count);
  // Exclusive (Begin, not BeginConcurrent): it never conflicts, and it is short.
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, db_.Begin());
  PGQRS_ASSIGN_OR_RETURN(int64_t first, TakeIds(*txn, sequence, size));
  PGQRS_RETURN_IF_ERROR(txn->Commit());
  return Block{first, first + size};
}

}  // namespace pgqrs::storage::enginestore
