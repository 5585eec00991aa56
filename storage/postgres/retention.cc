// PostgresStore: retention of finished runs and stopped workers (store.h DeleteOldHistory).
// The schema's foreign keys do the dependent work: a run's steps go with it (ON DELETE
// CASCADE) and the messages and runs that name a deleted worker keep going with NULL
// there (ON DELETE SET NULL). Rows are taken with SKIP LOCKED, so daemons sharing the
// database split the work and never wait on each other.
#include "engine/base/status_macros.h"
#include "storage/postgres/store_impl.h"

namespace pgqrs::storage::pg {
namespace {

constexpr Statement kDeleteOldRuns{
    "delete_old_runs",
    "DELETE FROM pgqrs_workflow_runs WHERE id IN (SELECT id FROM pgqrs_workflow_runs "
    "WHERE completed_at < now() - " PGQRS_MICROS("$1") " ORDER BY completed_at LIMIT $2 "
    "FOR UPDATE SKIP LOCKED)"};
constexpr Statement kDeleteOldWorkers{
    "delete_old_workers",
    "DELETE FROM pgqrs_workers WHERE id IN (SELECT id FROM pgqrs_workers "
    "WHERE status = 4 AND shutdown_at < now() - " PGQRS_MICROS("$1") " ORDER BY shutdown_at "
    "LIMIT $2 FOR UPDATE SKIP LOCKED)"};

}  // namespace

absl::StatusOr<RetentionReport> PostgresStore::DeleteOldHistory(const RetentionPolicy& policy,
                                                                int32_t batch) {
  RetentionReport report;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(Rows runs,
                           tx.Query(kDeleteOldRuns, Params().Add(policy.runs).Add(int64_t{batch})));
    PGQRS_ASSIGN_OR_RETURN(
        Rows workers,
        tx.Query(kDeleteOldWorkers, Params().Add(policy.workers).Add(int64_t{batch})));
    report.runs_deleted = runs.Affected();
    report.workers_deleted = workers.Affected();
    report.more = report.runs_deleted == batch || report.workers_deleted == batch;
    return absl::OkStatus();
  }));
  return report;
}

}  // namespace pgqrs::storage::pg
