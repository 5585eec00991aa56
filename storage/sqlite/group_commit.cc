#include "storage/sqlite/group_commit.h"

#include <chrono>

namespace pgqrs::storage::sqlite {

GroupCommit::GroupCommit(Connection& connection)
    : connection_(connection),
      batch_sizes_({1, 2, 4, 8, 16, 32, 64, 128}),
      commit_seconds_(
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}) {}

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

void GroupCommit::RunBatch(const std::vector<Pending*>& batch) {
  std::vector<Pending*> left = batch;
  while (!left.empty()) left = RunTransaction(left);
}

std::vector<GroupCommit::Pending*> GroupCommit::RunTransaction(const std::vector<Pending*>& batch) {
  absl::Status begin = connection_.Exec("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (Pending* p : batch) p->result = begin;
    return {};
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Pending* p = batch[i];
    p->result = RunOne(*p);
    if (sqlite3_get_autocommit(connection_.raw()) == 0) continue;
    // p's error ended the transaction and undid the calls before it; run the rest again.
    if (p->result.ok()) p->result = absl::InternalError("transaction ended unexpectedly");
    std::vector<Pending*> again(batch.begin(), batch.begin() + i);
    again.insert(again.end(), batch.begin() + i + 1, batch.end());
    return again;
  }
  auto start = std::chrono::steady_clock::now();
  absl::Status commit = connection_.Exec("COMMIT");
  if (commit.ok()) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    batch_sizes_.Record(static_cast<double>(batch.size()));
    commit_seconds_.Record(took.count());
    return {};
  }
  // The transaction is gone: nothing of this batch is stored.
  connection_.Exec("ROLLBACK").IgnoreError();  // may already be rolled back
  for (Pending* p : batch) p->result = commit;
  return {};
}

}  // namespace pgqrs::storage::sqlite
