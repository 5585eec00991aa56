#include "storage/sqlite/group_commit.h"

namespace pgqrs::storage::sqlite {

absl::Status GroupCommit::Run(const Work& work) {
  Pending pending(&work);
  std::vector<Pending*> batch;
  {
    absl::MutexLock lock(&mu_);
    waiting_.push_back(&pending);
    while (!pending.done && waiting_.front() != &pending) pending.cv.Wait(&mu_);
    if (pending.done) return pending.result;
    // At the front: lead. The batch stays queued while it runs, so newcomers wait.
    for (Pending* p : waiting_) {
      if (batch.size() == kMaxBatch) break;
      batch.push_back(p);
    }
  }
  RunBatch(batch);
  absl::MutexLock lock(&mu_);
  for (Pending* p : batch) {
    waiting_.pop_front();
    if (p == &pending) continue;
    p->done = true;
    p->cv.Signal();
  }
  if (!waiting_.empty()) waiting_.front()->cv.Signal();  // the next leader
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

void GroupCommit::RunBatch(std::vector<Pending*>& batch) {
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
