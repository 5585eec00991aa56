#include "storage/sqlite/group_commit.h"

#include <algorithm>

namespace pgqrs::storage::sqlite {

absl::Status GroupCommit::Run(const Work& work) {
  Pending pending{&work, absl::OkStatus(), false};
  std::deque<Pending*> batch;
  {
    absl::MutexLock lock(&mu_);
    waiting_.push_back(&pending);
    while (!pending.done && leading_) changed_.Wait(&mu_);
    if (pending.done) return pending.result;
    leading_ = true;
    // Lead with our own work, then take whoever waits, oldest first.
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &pending));
    batch.push_back(&pending);
    while (!waiting_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(waiting_.front());
      waiting_.pop_front();
    }
  }
  RunBatch(batch);
  absl::MutexLock lock(&mu_);
  for (Pending* p : batch) p->done = true;
  leading_ = false;
  changed_.SignalAll();
  return pending.result;
}

absl::Status GroupCommit::RunOne(Pending& pending) {
  absl::Status status = connection_.Exec("SAVEPOINT work");
  if (!status.ok()) return status;
  status = (*pending.work)(connection_);
  if (!status.ok()) {
    connection_.Exec("ROLLBACK TO work").IgnoreError();  // the savepoint error is reported
  }
  absl::Status release = connection_.Exec("RELEASE work");
  return status.ok() ? release : status;
}

void GroupCommit::RunBatch(std::deque<Pending*>& batch) {
  absl::Status begin = connection_.Exec("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (Pending* p : batch) p->result = begin;
    return;
  }
  for (Pending* p : batch) p->result = RunOne(*p);
  absl::Status commit = connection_.Exec("COMMIT");
  if (commit.ok()) return;
  // The transaction is gone: nothing of this batch is stored.
  connection_.Exec("ROLLBACK").IgnoreError();  // may already be rolled back
  for (Pending* p : batch) p->result = commit;
}

}  // namespace pgqrs::storage::sqlite
