// Ids of the pgqrs_sequences rows handed out from blocks kept in memory, so that the
// transactions inserting messages, runs and steps never write a sequence row: with
// concurrent writers (engine://...?mvcc=on) every one of them would conflict on it.
//
// A block is reserved by a short exclusive transaction that commits before any of its ids is
// used. Ids are therefore unique, and increasing in the order Take is called, within one
// process; after a restart the unused rest of the last block is skipped (a gap, like
// PostgreSQL's sequence cache). The sqlite:// adapter reads the same rows, so a file keeps
// its ids unique when it moves between the two adapters.
//
// Thread safety: thread-safe.
#pragma once

#include <cstdint>
#include <map>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/db/database.h"

namespace pgqrs::storage::enginestore {

class IdBlocks {
 public:
  // `block_size` ids are reserved at a time (more when one Take asks for more).
  IdBlocks(engine::Database& db, int64_t block_size);

  // Takes `count` consecutive ids of sequence row `sequence`; returns the first.
  // REQUIRES: the calling thread holds no transaction (a reservation starts one).
  absl::StatusOr<int64_t> Take(int64_t sequence, int64_t count);

 private:
  struct Block {
    int64_t next = 0;
    int64_t end = 0;  // one past the last reserved id
  };

  // Reserves a new block of at least `count` ids for `sequence` and commits it.
  absl::StatusOr<Block> Reserve(int64_t sequence, int64_t count);

  engine::Database& db_;
  const int64_t block_size_;
  absl::Mutex mu_;  // held across a reservation, so one thread reserves at a time
  std::map<int64_t, Block> blocks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgqrs::storage::enginestore
