// EngineStore: worker registration, heartbeats, the worker state machine and the heartbeat
// reaper.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"
#include "storage/rules.h"
#include "storage/rules_workers.h"

namespace pgqrs::storage::enginestore {
namespace {

constexpr WorkerStatus kLiveStatuses[] = {WorkerStatus::kReady, WorkerStatus::kPolling,
                                          WorkerStatus::kSuspended, WorkerStatus::kInterrupted};

// Leases the worker holds that have not expired.
absl::StatusOr<int64_t> LeasedMessages(Transaction& txn, int64_t worker_id, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(auto ids,
                         RowidsWithPrefix(txn, kMessagesConsumer, {Value::Integer(worker_id)}));
  int64_t leased = 0;
  for (int64_t id : ids) {
    PGQRS_ASSIGN_OR_RETURN(Row m, GetRow(txn, kMessages, id, "message"));
    leased += Int(m, msg::kVt) > now;
  }
  return leased;
}

// `now` decides which of its leases are live.
absl::StatusOr<WorkerInfo> ToWorkerInfo(Transaction& txn, const Row& row, int64_t now) {
  WorkerInfo w;
  w.id = Int(row, worker::kId);
  w.name = Text(row, worker::kName);
  if (std::optional<int64_t> queue_id = OptInt(row, worker::kQueueId)) {
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, QueueById(txn, *queue_id));
    w.queue = q.name;
  }
  w.role = static_cast<WorkerRole>(Int(row, worker::kRole));
  w.status = static_cast<WorkerStatus>(Int(row, worker::kStatus));
  w.hostname = Text(row, worker::kHostname);
  w.labels = nlohmann::json::parse(Text(row, worker::kLabelsJson))
                 .get<std::map<std::string, std::string>>();
  w.started_at = FromMicros(Int(row, worker::kStartedAt));
  w.heartbeat_at = FromMicros(Int(row, worker::kHeartbeatAt));
  if (std::optional<int64_t> at = OptInt(row, worker::kShutdownAt)) w.shutdown_at = FromMicros(*at);
  PGQRS_ASSIGN_OR_RETURN(w.leased_messages, LeasedMessages(txn, w.id, now));
  return w;
}

absl::StatusOr<WorkerInfo> LoadWorker(Transaction& txn, int64_t worker_id, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kWorkers, worker_id, "worker"));
  return ToWorkerInfo(txn, row, now);
}

absl::Status SetStatus(Transaction& txn, int64_t worker_id, WorkerStatus status,
                       std::optional<int64_t> shutdown_at) {
  return EditRow(txn, kWorkers, worker_id, "worker", [&](Row& row) {
    row[worker::kStatus] = Value::Integer(static_cast<int64_t>(status));
    row[worker::kShutdownAt] = IntOrNull(shutdown_at);
    return absl::OkStatus();
  });
}

// Writes a registration over a stopped worker's row (a new lifetime) or as a new row.
absl::Status StoreRegistration(Transaction& txn, const WorkerRegistration& reg, int64_t id,
                               std::optional<int64_t> queue_id, bool revive, int64_t now) {
  Row row(worker::kCount);
  row[worker::kId] = Value::Integer(id);
  row[worker::kName] = Value::Text(reg.name);
  row[worker::kQueueId] = IntOrNull(queue_id);
  row[worker::kRole] = Value::Integer(static_cast<int64_t>(reg.role));
  row[worker::kStatus] = Value::Integer(static_cast<int64_t>(WorkerStatus::kReady));
  row[worker::kHostname] = Value::Text(reg.hostname);
  row[worker::kLabelsJson] = Value::Text(nlohmann::json(reg.labels).dump());
  row[worker::kStartedAt] = Value::Integer(now);
  row[worker::kHeartbeatAt] = Value::Integer(now);
  if (revive) return txn.Update(kWorkers, id, std::move(row));
  return txn.Insert(kWorkers, std::move(row)).status();
}

}  // namespace

absl::StatusOr<WorkerInfo> EngineStore::RegisterWorker(const WorkerRegistration& reg) {
  PGQRS_RETURN_IF_ERROR(CheckRegistrationText(reg));
  absl::StatusOr<WorkerInfo> result;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    std::optional<int64_t> queue_id;
    if (!reg.queue.empty()) {
      PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(txn, reg.queue));
      queue_id = q.id;
    }
    PGQRS_ASSIGN_OR_RETURN(auto existing,
                           RowidsWithPrefix(txn, kWorkersByName, {Value::Text(reg.name)}));
    bool found = !existing.empty();
    int64_t id = found ? existing[0] : 0;
    if (found) {
      PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kWorkers, id, "worker"));
      auto current = static_cast<WorkerStatus>(Int(row, worker::kStatus));
      if (current != WorkerStatus::kStopped) {
        return absl::AlreadyExistsError(absl::StrCat("worker \"", reg.name, "\" is already ",
                                                     WorkerStatusName(current), " (id ", id, ")"));
      }
    } else {
      PGQRS_ASSIGN_OR_RETURN(id, TakeIds(txn, kWorkerSequence, 1));
    }
    PGQRS_RETURN_IF_ERROR(StoreRegistration(txn, reg, id, queue_id, found, NowMicros()));
    result = LoadWorker(txn, id, NowMicros());
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<WorkerInfo> EngineStore::Heartbeat(int64_t worker_id) {
  absl::StatusOr<WorkerInfo> result;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    int64_t now = NowMicros();
    PGQRS_RETURN_IF_ERROR(EditRow(txn, kWorkers, worker_id, "worker", [now](Row& row) {
      if (Int(row, worker::kStatus) != static_cast<int64_t>(WorkerStatus::kStopped)) {
        row[worker::kHeartbeatAt] = Value::Integer(now);
      }
      return absl::OkStatus();
    }));
    result = LoadWorker(txn, worker_id, NowMicros());
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<WorkerInfo> EngineStore::MoveWorker(int64_t worker_id, WorkerMove move) {
  absl::StatusOr<WorkerInfo> result;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(WorkerInfo w, LoadWorker(txn, worker_id, NowMicros()));
    PGQRS_RETURN_IF_ERROR(embedded::CheckWorkerMove(w, move));
    PGQRS_RETURN_IF_ERROR(SetStatus(txn, worker_id, WorkerMoveTarget(move), std::nullopt));
    result = LoadWorker(txn, worker_id, NowMicros());
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<WorkerInfo> EngineStore::ShutdownWorker(int64_t worker_id, bool release_messages) {
  absl::StatusOr<WorkerInfo> result;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(WorkerInfo w, LoadWorker(txn, worker_id, NowMicros()));
    PGQRS_RETURN_IF_ERROR(embedded::CheckWorkerShutdown(w, release_messages));
    int64_t now = NowMicros();
    PGQRS_RETURN_IF_ERROR(ReleaseWorkerLeases(txn, worker_id, now).status());
    PGQRS_RETURN_IF_ERROR(SetStatus(txn, worker_id, WorkerStatus::kStopped, now));
    result = LoadWorker(txn, worker_id, NowMicros());
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<WorkerInfo> EngineStore::GetWorker(int64_t worker_id) {
  absl::StatusOr<WorkerInfo> result;
  absl::Status status = Read([&](Transaction& txn) {
    result = LoadWorker(txn, worker_id, NowMicros());
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<WorkerInfo>> EngineStore::ListWorkers(const WorkerFilter& filter) {
  std::vector<WorkerInfo> workers;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(auto it, txn.SeekTable(kWorkers, filter.after_id + 1));
    while (it->Valid() && static_cast<int32_t>(workers.size()) < filter.limit) {
      PGQRS_ASSIGN_OR_RETURN(Row row, it->row());
      PGQRS_ASSIGN_OR_RETURN(WorkerInfo w, ToWorkerInfo(txn, row, NowMicros()));
      if ((filter.queue.empty() || w.queue == filter.queue) &&
          (!filter.status || w.status == *filter.status)) {
        workers.push_back(std::move(w));
      }
      PGQRS_RETURN_IF_ERROR(it->Next());
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return workers;
}

absl::StatusOr<ReclaimReport> EngineStore::ReclaimWorkers(const std::string& queue,
                                                          absl::Duration older_than) {
  ReclaimReport report;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    report = ReclaimReport();
    int64_t now = NowMicros();
    std::optional<int64_t> queue_id;
    if (!queue.empty()) {
      absl::StatusOr<QueueRow> q = FindQueue(txn, queue);
      if (absl::IsNotFound(q.status())) return absl::OkStatus();  // no workers to stop
      PGQRS_RETURN_IF_ERROR(q.status());
      queue_id = q->id;
    }
    // Live workers by last heartbeat: (status, heartbeat_at) below the cutoff.
    std::vector<int64_t> stale;
    for (WorkerStatus s : kLiveStatuses) {
      engine::IndexRange range;
      range.lower = engine::IndexBound{{Value::Integer(static_cast<int64_t>(s))}, true};
      range.upper = engine::IndexBound{
          {Value::Integer(static_cast<int64_t>(s)), Value::Integer(now - ToMicros(older_than))},
          /*inclusive=*/false};
      PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanIndex(kWorkersByHeartbeat, range));
      while (it->Valid()) {
        stale.push_back(it->rowid());
        PGQRS_RETURN_IF_ERROR(it->Next());
      }
    }
    for (int64_t id : stale) {
      PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kWorkers, id, "worker"));
      if (queue_id && OptInt(row, worker::kQueueId) != queue_id) continue;
      PGQRS_ASSIGN_OR_RETURN(Released released, ReleaseWorkerLeases(txn, id, now));
      report.messages_released += released.messages;
      for (std::string& q : released.queues) report.queues_with_released.push_back(std::move(q));
      PGQRS_RETURN_IF_ERROR(SetStatus(txn, id, WorkerStatus::kStopped, now));
      ++report.workers_stopped;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return report;
}

}  // namespace pgqrs::storage::enginestore
