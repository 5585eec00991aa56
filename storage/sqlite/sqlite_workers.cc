// SqliteStore: worker registration, heartbeats and the worker state machine.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/rules.h"
#include "storage/rules_workers.h"
#include "storage/sqlite/sqlite_store_impl.h"

namespace pgqrs::storage::sqlite {
namespace {

constexpr char kSelectWorker[] =
    "SELECT w.id, w.name, COALESCE(q.queue_name, ''), w.role, w.status, w.hostname, "
    "w.labels_json, w.started_at, w.heartbeat_at, w.shutdown_at, "
    "(SELECT COUNT(*) FROM pgqrs_messages m WHERE m.consumer_worker_id = w.id "
    "AND m.vt > ?1) FROM pgqrs_workers w LEFT JOIN pgqrs_queues q ON q.id = w.queue_id ";

WorkerInfo ReadWorker(const Statement& st) {
  WorkerInfo w;
  w.id = st.Int(0);
  w.name = st.Text(1);
  w.queue = st.Text(2);
  w.role = static_cast<WorkerRole>(st.Int(3));
  w.status = static_cast<WorkerStatus>(st.Int(4));
  w.hostname = st.Text(5);
  w.labels = nlohmann::json::parse(st.Text(6)).get<std::map<std::string, std::string>>();
  w.started_at = FromMicros(st.Int(7));
  w.heartbeat_at = FromMicros(st.Int(8));
  if (!st.IsNull(9)) w.shutdown_at = FromMicros(st.Int(9));
  w.leased_messages = st.Int(10);
  return w;
}

// `now` decides which of its leases are live.
absl::StatusOr<WorkerInfo> LoadWorker(Connection& db, int64_t worker_id, int64_t now) {
  static const std::string sql = absl::StrCat(kSelectWorker, "WHERE w.id = ?2");
  PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
  st->BindAll(now, worker_id);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
  WorkerInfo w = ReadWorker(*st);
  st->Reset();
  return w;
}

absl::Status SetStatus(Connection& db, int64_t worker_id, WorkerStatus status,
                       std::optional<int64_t> shutdown_at) {
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("UPDATE pgqrs_workers SET status = ?, shutdown_at = ? WHERE id = ?"));
  st->BindAll(static_cast<int64_t>(status), shutdown_at, worker_id);
  return st->Run();
}

// Writes a registration over a stopped worker's row (a new lifetime) or a new row.
absl::Status StoreRegistration(Connection& db, const WorkerRegistration& reg, int64_t id,
                               std::optional<int64_t> queue_id, bool revive, int64_t now) {
  constexpr char kInsert[] =
      "INSERT INTO pgqrs_workers (queue_id, role, hostname, labels_json, started_at, "
      "heartbeat_at, id, name, status) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, 0)";
  constexpr char kRevive[] =
      "UPDATE pgqrs_workers SET queue_id = ?1, role = ?2, hostname = ?3, labels_json = ?4, "
      "started_at = ?5, heartbeat_at = ?5, shutdown_at = NULL, status = 0 "
      "WHERE id = ?6 AND name = ?7";
  PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(revive ? kRevive : kInsert));
  st->BindAll(queue_id, static_cast<int64_t>(reg.role), reg.hostname,
              nlohmann::json(reg.labels).dump(), now, id, reg.name);
  return st->Run();
}

}  // namespace

absl::StatusOr<WorkerInfo> SqliteStore::RegisterWorker(const WorkerRegistration& reg) {
  PGQRS_RETURN_IF_ERROR(CheckRegistrationText(reg));
  absl::StatusOr<WorkerInfo> result;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    std::optional<int64_t> queue_id;
    if (!reg.queue.empty()) {
      PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(db, reg.queue));
      queue_id = q.id;
    }
    PGQRS_ASSIGN_OR_RETURN(Statement * existing,
                           db.Prepare("SELECT id, status FROM pgqrs_workers WHERE name = ?"));
    existing->BindAll(reg.name);
    PGQRS_ASSIGN_OR_RETURN(bool found, existing->Step());
    int64_t id = found ? existing->Int(0) : 0;
    auto status = found ? static_cast<WorkerStatus>(existing->Int(1)) : WorkerStatus::kStopped;
    existing->Reset();
    if (found && status != WorkerStatus::kStopped) {
      return absl::AlreadyExistsError(absl::StrCat("worker \"", reg.name, "\" is already ",
                                                   WorkerStatusName(status), " (id ", id, ")"));
    }
    if (!found) {
      PGQRS_ASSIGN_OR_RETURN(id, TakeIds(db, kWorkerSequence, 1));
    }
    PGQRS_RETURN_IF_ERROR(StoreRegistration(db, reg, id, queue_id, found, NowMicros()));
    result = LoadWorker(db, id, NowMicros());
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<WorkerInfo> SqliteStore::Heartbeat(int64_t worker_id) {
  absl::StatusOr<WorkerInfo> result;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(
        Statement * st,
        db.Prepare("UPDATE pgqrs_workers SET heartbeat_at = ? WHERE id = ? AND status != 4"));
    st->BindAll(NowMicros(), worker_id);
    PGQRS_RETURN_IF_ERROR(st->Run());
    result = LoadWorker(db, worker_id, NowMicros());
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<WorkerInfo> SqliteStore::MoveWorker(int64_t worker_id, WorkerMove move) {
  absl::StatusOr<WorkerInfo> result;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(WorkerInfo w, LoadWorker(db, worker_id, NowMicros()));
    PGQRS_RETURN_IF_ERROR(embedded::CheckWorkerMove(w, move));
    PGQRS_RETURN_IF_ERROR(SetStatus(db, worker_id, WorkerMoveTarget(move), std::nullopt));
    result = LoadWorker(db, worker_id, NowMicros());
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<WorkerInfo> SqliteStore::ShutdownWorker(int64_t worker_id, bool release_messages) {
  absl::StatusOr<WorkerInfo> result;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(WorkerInfo w, LoadWorker(db, worker_id, NowMicros()));
    PGQRS_RETURN_IF_ERROR(embedded::CheckWorkerShutdown(w, release_messages));
    int64_t now = NowMicros();
    PGQRS_RETURN_IF_ERROR(ReleaseWorkerLeases(db, worker_id, now).status());
    PGQRS_RETURN_IF_ERROR(SetStatus(db, worker_id, WorkerStatus::kStopped, now));
    result = LoadWorker(db, worker_id, NowMicros());
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<WorkerInfo> SqliteStore::GetWorker(int64_t worker_id) {
  absl::StatusOr<WorkerInfo> result;
  absl::Status status = Read([&](Connection& db) {
    result = LoadWorker(db, worker_id, NowMicros());
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<WorkerInfo>> SqliteStore::ListWorkers(const WorkerFilter& filter) {
  std::vector<WorkerInfo> workers;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    static const std::string sql =
        absl::StrCat(kSelectWorker,
                     "WHERE (?2 = '' OR q.queue_name = ?2) AND (?3 < 0 OR w.status = ?3) "
                     "AND w.id > ?4 ORDER BY w.id LIMIT ?5");
    PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
    st->BindAll(NowMicros(), filter.queue,
                filter.status ? static_cast<int64_t>(*filter.status) : int64_t{-1}, filter.after_id,
                int64_t{filter.limit});
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) return absl::OkStatus();
      workers.push_back(ReadWorker(*st));
    }
  });
  if (!status.ok()) return status;
  return workers;
}

absl::StatusOr<ReclaimReport> SqliteStore::ReclaimWorkers(const std::string& queue,
                                                          absl::Duration older_than) {
  ReclaimReport report;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    report = ReclaimReport();
    int64_t now = NowMicros();
    PGQRS_ASSIGN_OR_RETURN(
        Statement * stale,
        db.Prepare("SELECT w.id FROM pgqrs_workers w LEFT JOIN pgqrs_queues q "
                   "ON q.id = w.queue_id WHERE w.status IN (0, 1, 2, 3) "
                   "AND w.heartbeat_at < ?1 AND (?2 = '' OR q.queue_name = ?2)"));
    stale->BindAll(now - ToMicros(older_than), queue);
    std::vector<int64_t> ids;
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(bool row, stale->Step());
      if (!row) break;
      ids.push_back(stale->Int(0));
    }
    for (int64_t id : ids) {
      PGQRS_ASSIGN_OR_RETURN(std::vector<std::string> queues, ReleaseWorkerLeases(db, id, now));
      report.messages_released += db.Changes();
      for (std::string& q : queues) report.queues_with_released.push_back(std::move(q));
      PGQRS_RETURN_IF_ERROR(SetStatus(db, id, WorkerStatus::kStopped, now));
      ++report.workers_stopped;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return report;
}

}  // namespace pgqrs::storage::sqlite
