// GroupCommit runs write transactions on one connection so that transactions arriving
// together share one COMMIT, and with it one fsync.
//
// Each caller's work runs inside its own SAVEPOINT within a shared BEGIN IMMEDIATE ...
// COMMIT. Work that fails is rolled back to its savepoint alone; the others still commit.
// Some errors (a full disk, I/O errors, OR ROLLBACK conflicts) end the whole transaction
// instead: then that call fails and the others of its batch run again in a new one, so
// a call that failed never stored anything and one that succeeded is committed.
// A caller returns only after the COMMIT that contains its work succeeded (or with the
// error that stopped it), so an OK result is durable.
//
// Callers queue in arrival order; the one at the front leads: it takes the waiting work
// items from the front (up to kMaxBatch, its own first), runs and commits them, wakes
// exactly those callers, and then the caller now at the front, which leads the next
// batch. No extra thread, and no caller is woken only to wait again (LevelDB's writer
// queue, DBImpl::Write).
//
// Each successful COMMIT records the transactions it held and how long the COMMIT took (the
// WAL write and its fsync) in histograms the store reports (Store::GetCommitStats).
//
// Thread safety: Run, batch_sizes and commit_seconds may be called from any number of
// threads.
#pragma once

#include <deque>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/base/histogram.h"
#include "storage/sqlite/connection.h"

namespace pgqrs::storage::sqlite {

class GroupCommit {
 public:
  using Work = std::function<absl::Status(Connection&)>;

  // Transactions per COMMIT at most, so one batch cannot hold the writer for long.
  static constexpr int kMaxBatch = 128;

  // REQUIRES: `connection` outlives this object and is used by nothing else.
  explicit GroupCommit(Connection& connection);

  // Runs `work` in a transaction and returns its status once that transaction committed,
  // or the commit's error. Work must not call Run. Work may run more than once (when
  // another call's error ended its transaction), so it sets its outputs afresh each time.
  absl::Status Run(const Work& work);

  // Transactions per successful COMMIT, and the seconds each COMMIT took.
  const engine::Histogram& batch_sizes() const { return batch_sizes_; }
  const engine::Histogram& commit_seconds() const { return commit_seconds_; }

 private:
  struct Pending {
    explicit Pending(const Work* w) : work(w) {}
    const Work* work;
    absl::Status result;
    bool done = false;  // guarded by mu_
    absl::CondVar cv;   // signalled when done, or when this caller is to lead
  };

  // Runs `batch` until each call has its result. Called without mu_ held.
  void RunBatch(const std::vector<Pending*>& batch);
  // Runs `batch` in one transaction and sets each result. Returns the calls to run again:
  // those undone because another call's error ended the transaction.
  std::vector<Pending*> RunTransaction(const std::vector<Pending*>& batch);
  absl::Status RunOne(Pending& pending);

  Connection& connection_;
  engine::Histogram batch_sizes_;
  engine::Histogram commit_seconds_;
  absl::Mutex mu_;
  // Callers not yet done, oldest first; the front one leads the batch being run.
  std::deque<Pending*> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgqrs::storage::sqlite
