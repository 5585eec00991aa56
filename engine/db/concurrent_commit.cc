// Commit of a concurrent transaction (engine/MVCC.md section 7): validate first-committer-wins
// on the rows it wrote, then replay its row operations on the newest state in an exclusive
// transaction, which maintains indexes, checks UNIQUE and foreign keys against the newest
// state, stamps the rows and commits as usual.
#include "absl/strings/str_cat.h"
#include "engine/base/errno_status.h"
#include "engine/base/status_macros.h"
#include "engine/db/database.h"
#include "engine/pager/pager.h"
#include "engine/pager/private_pages.h"

namespace pgqrs::engine {

absl::Status Transaction::CommitConcurrent() {
  if (!broken_.ok()) {
    absl::Status s = broken_;
    Rollback();
    return s;
  }
  const uint64_t snapshot_lsn = private_pages_->snapshot().lsn;
  std::vector<RowOp> ops = std::move(ops_);
  std::vector<RowKey> written = std::move(written_);
  // The snapshot's pages are no longer needed: releasing them first lets the checkpoint that
  // Begin may run restart the WAL. Its stamps are: without the hold, commits made while this
  // one waits for the writer slot could prune the stamp that shows its conflict.
  std::optional<WriteStamps::Hold> stamps_hold(std::in_place, &db_->write_stamps_, snapshot_lsn);
  End();
  if (ops.empty()) return absl::OkStatus();
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Transaction> head, db_->Begin());
  std::optional<RowConflict> conflict = db_->write_stamps_.FindConflict(written, snapshot_lsn);
  stamps_hold.reset();  // the writer slot now keeps every later commit out until this one ends
  if (conflict) {
    head->Rollback();
    return db_->ConflictOnceDurable(
        conflict->lsn, absl::StrCat("row ", conflict->row.second,
                                    " was changed by a transaction that committed first"));
  }
  absl::Status replayed = head->Replay(ops);
  if (!replayed.ok()) {
    // Without a commit since the snapshot, the newest state is the snapshot, on which the
    // operations succeeded: the error is genuine. So is an I/O error, which says nothing
    // about conflicts.
    const uint64_t last_commit = db_->write_stamps_.LastCommit();
    head->Rollback();
    if (last_commit > snapshot_lsn && !IsIoError(replayed)) {
      return db_->ConflictOnceDurable(
          last_commit, absl::StrCat("a transaction that committed first made this one fail: ",
                                    replayed.message()));
    }
    return replayed;
  }
  return head->Commit();
}

absl::Status Transaction::Replay(const std::vector<RowOp>& ops) {
  for (const RowOp& op : ops) {
    switch (op.type) {
      case RowOp::Type::kInsert: {
        PGQRS_ASSIGN_OR_RETURN(Database::TableInfo * t, WritableTable(op.table));
        PGQRS_RETURN_IF_ERROR(InsertRow(t, op.rowid, op.row).status());
        break;
      }
      case RowOp::Type::kUpdate:
        PGQRS_RETURN_IF_ERROR(Update(op.table, op.rowid, op.row));
        break;
      case RowOp::Type::kDelete: {
        PGQRS_ASSIGN_OR_RETURN(bool found, Delete(op.table, op.rowid));
        if (!found) {
          return absl::NotFoundError(absl::StrCat("row ", op.rowid, " of ", op.table, " is gone"));
        }
        break;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace pgqrs::engine
