// GroupCommit runs write transactions on one connection so that transactions arriving
// together share one COMMIT, and with it one fsync.
//
// Each caller's work runs inside its own SAVEPOINT within a shared BEGIN IMMEDIATE ...
// COMMIT. Work that fails is rolled back to its savepoint alone; the others still commit.
// A caller returns only after the COMMIT that contains its work succeeded (or with the
// error that stopped it), so an OK result is durable.
//
// The first caller to find no batch in progress leads: it takes every waiting work item
// (up to kMaxBatch), runs and commits them, then hands leadership on. No extra thread.
//
// Thread safety: Run may be called from any number of threads.
#pragma once

#include <deque>
#include <functional>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "storage/sqlite/connection.h"

namespace pgqrs::storage::sqlite {

class GroupCommit {
 public:
  using Work = std::function<absl::Status(Connection&)>;

  // Transactions per COMMIT at most, so one batch cannot hold the writer for long.
  static constexpr int kMaxBatch = 128;

  // REQUIRES: `connection` outlives this object and is used by nothing else.
  explicit GroupCommit(Connection& connection) : connection_(connection) {}

  // Runs `work` in a transaction and returns its status once that transaction committed,
  // or the commit's error. Work must not call Run.
  absl::Status Run(const Work& work);

 private:
  struct Pending {
    const Work* work;
    absl::Status result;
    bool done = false;
  };

  // Runs `batch` in one transaction and sets each result. Called without mu_ held.
  void RunBatch(std::deque<Pending*>& batch);
  absl::Status RunOne(Pending& pending);

  Connection& connection_;
  absl::Mutex mu_;
  absl::CondVar changed_;
  std::deque<Pending*> waiting_ ABSL_GUARDED_BY(mu_);
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace pgqrs::storage::sqlite
