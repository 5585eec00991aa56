// PostgresStore: workers and the maintenance calls (reclaim, reap, visibility checks).
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/postgres/store_impl.h"

namespace pgqrs::storage::pg {
namespace {

constexpr int kStopped = static_cast<int>(WorkerStatus::kStopped);

#define PGQRS_WORKER_COLUMNS \
  "w.id, w.name, coalesce(q.queue_name, ''), w.role, w.status, w.hostname, " \
  "w.labels::text, " \
  PGQRS_US("w.started_at") ", " PGQRS_US("w.heartbeat_at") ", " PGQRS_US("w.shutdown_at")   \
  ", (SELECT count(*) FROM pgqrs_messages m WHERE m.consumer_worker_id = w.id "             \
  "AND m.state = 0 AND m.lease_token IS NOT NULL AND m.vt > now())"

constexpr Statement kRegister{
    "register_worker",
    "INSERT INTO pgqrs_workers AS w (name, queue_id, role, status, hostname, labels, "
    "started_at, heartbeat_at) VALUES ($1, $2, $3, 0, $4, $5::jsonb, now(), now()) "
    "ON CONFLICT (name) DO UPDATE SET queue_id = EXCLUDED.queue_id, role = EXCLUDED.role, "
    "status = 0, hostname = EXCLUDED.hostname, labels = EXCLUDED.labels, started_at = now(), "
    "heartbeat_at = now(), shutdown_at = NULL WHERE w.status = 4 RETURNING w.id"};
constexpr Statement kReadWorker{"read_worker",
                                "SELECT " PGQRS_WORKER_COLUMNS
                                " FROM pgqrs_workers w "
                                "LEFT JOIN pgqrs_queues q ON q.id = w.queue_id WHERE w.id = $1"};
constexpr Statement kListWorkers{
    "list_workers", "SELECT " PGQRS_WORKER_COLUMNS
                    " FROM pgqrs_workers w "
                    "LEFT JOIN pgqrs_queues q ON q.id = w.queue_id "
                    "WHERE ($1 = '' OR q.queue_name = $1) AND ($2::int2 IS NULL OR w.status = $2) "
                    "AND w.id > $3 ORDER BY w.id LIMIT $4"};
constexpr Statement kHeartbeat{
    "heartbeat", "UPDATE pgqrs_workers SET heartbeat_at = now() WHERE id = $1 AND status <> 4"};
constexpr Statement kLockWorker{"lock_worker",
                                "SELECT status FROM pgqrs_workers WHERE id = $1 FOR UPDATE"};
constexpr Statement kSetStatus{"set_status", "UPDATE pgqrs_workers SET status = $2 WHERE id = $1"};
constexpr Statement kStopWorker{
    "stop_worker", "UPDATE pgqrs_workers SET status = 4, shutdown_at = now() WHERE id = $1"};
constexpr Statement kHoldsLeases{
    "holds_leases",
    "SELECT count(*) FROM pgqrs_messages WHERE consumer_worker_id = $1 AND state = 0 "
    "AND lease_token IS NOT NULL AND vt > now()"};
// Ends the leases the workers hold, expired or not; messages at max_read_count die.
constexpr Statement kReleaseLeases{
    "release_leases",
    "UPDATE pgqrs_messages m SET lease_token = NULL, consumer_worker_id = NULL, "
    "state = CASE WHEN m.read_ct >= q.max_read_count THEN 1 ELSE 0 END, "
    "vt = LEAST(m.vt, now()) "
    "FROM pgqrs_queues q WHERE q.id = m.queue_id AND m.consumer_worker_id = ANY($1::int8[]) "
    "AND m.state = 0 AND m.lease_token IS NOT NULL RETURNING q.queue_name, m.state"};
// Stale live workers, each locked by exactly one reclaimer (SKIP LOCKED).
constexpr Statement kReclaim{
    "reclaim",
    "WITH s AS (SELECT id FROM pgqrs_workers WHERE status <> 4 "
    "  AND heartbeat_at < now() - " PGQRS_MICROS("$1")
    "  AND ($2 = '' OR queue_id = (SELECT id FROM pgqrs_queues WHERE queue_name = $2)) "
    "  FOR UPDATE SKIP LOCKED) "
    "UPDATE pgqrs_workers w SET status = 4, shutdown_at = now() FROM s WHERE w.id = s.id "
    "RETURNING w.id"};
constexpr Statement kExpireLeases{
    "expire_leases",
    "WITH e AS (SELECT id FROM pgqrs_messages WHERE state = 0 AND lease_token IS NOT NULL "
    "  AND vt <= now() ORDER BY vt LIMIT $1 FOR UPDATE SKIP LOCKED) "
    "UPDATE pgqrs_messages m SET lease_token = NULL, consumer_worker_id = NULL, "
    "state = CASE WHEN m.read_ct >= q.max_read_count THEN 1 ELSE 0 END "
    "FROM e, pgqrs_queues q WHERE m.id = e.id AND q.id = m.queue_id "
    "RETURNING q.queue_name, m.state"};
constexpr Statement kDeleteArchived{
    "delete_archived",
    "DELETE FROM pgqrs_messages WHERE id IN (SELECT id FROM pgqrs_messages WHERE state = 2 "
    "AND archived_at < now() - " PGQRS_MICROS("$1") " LIMIT $2 FOR UPDATE SKIP LOCKED)"};
constexpr Statement kVisibleQueues{
    "visible_queues",
    "SELECT q.queue_name FROM pgqrs_queues q WHERE q.queue_name = ANY($1::text[]) AND EXISTS "
    "(SELECT 1 FROM pgqrs_messages m WHERE m.queue_id = q.id AND m.state = 0 "
    "AND m.vt <= now())"};

WorkerInfo ReadWorkerInfo(const Rows& rows, int row) {
  WorkerInfo info;
  info.id = rows.Int(row, 0);
  info.name = rows.Text(row, 1);
  info.queue = rows.Text(row, 2);
  info.role = static_cast<WorkerRole>(rows.Int(row, 3));
  info.status = static_cast<WorkerStatus>(rows.Int(row, 4));
  info.hostname = rows.Text(row, 5);
  nlohmann::json labels = nlohmann::json::parse(rows.Text(row, 6), nullptr, false);
  if (labels.is_object()) {
    for (const auto& [key, value] : labels.items()) {
      if (value.is_string()) info.labels[key] = value.get<std::string>();
    }
  }
  info.started_at = rows.Time(row, 7);
  info.heartbeat_at = rows.Time(row, 8);
  info.shutdown_at = rows.OptionalTime(row, 9);
  info.leased_messages = rows.Int(row, 10);
  return info;
}

// The worker state machine of WorkerMove; nullopt for a refused move.
std::optional<WorkerStatus> Move(WorkerStatus from, WorkerMove move) {
  switch (move) {
    case WorkerMove::kSuspend:
      if (from == WorkerStatus::kReady || from == WorkerStatus::kPolling ||
          from == WorkerStatus::kInterrupted) {
        return WorkerStatus::kSuspended;
      }
      return std::nullopt;
    case WorkerMove::kResume:
      if (from == WorkerStatus::kSuspended) return WorkerStatus::kReady;
      return std::nullopt;
    case WorkerMove::kInterrupt:
      if (from == WorkerStatus::kReady || from == WorkerStatus::kPolling) {
        return WorkerStatus::kInterrupted;
      }
      return std::nullopt;
  }
  return std::nullopt;
}

const char* MoveName(WorkerMove move) {
  switch (move) {
    case WorkerMove::kSuspend:
      return "suspend";
    case WorkerMove::kResume:
      return "resume";
    case WorkerMove::kInterrupt:
      return "interrupt";
  }
  return "move";
}

}  // namespace

absl::StatusOr<WorkerInfo> PostgresStore::ReadWorker(Tx& tx, int64_t worker_id) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kReadWorker, Params().Add(worker_id)));
  if (rows.size() == 0) {
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
  }
  return ReadWorkerInfo(rows, 0);
}

absl::StatusOr<WorkerInfo> PostgresStore::RegisterWorker(const WorkerRegistration& reg) {
  if (reg.name.empty()) return absl::InvalidArgumentError("worker needs a name");
  PGQRS_RETURN_IF_ERROR(CheckRegistrationText(reg));
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [key, value] : reg.labels) labels[key] = value;
  WorkerInfo info;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    Params params;
    params.Add(reg.name);
    if (reg.queue.empty()) {
      params.AddNull();
    } else {
      PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(tx, reg.queue));
      params.Add(q.id);
    }
    params.Add(int64_t{static_cast<int>(reg.role)}).Add(reg.hostname).Add(labels.dump());
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kRegister, params));
    if (rows.size() == 0) {
      return absl::AlreadyExistsError(absl::StrCat("worker ", reg.name, " is already live"));
    }
    PGQRS_ASSIGN_OR_RETURN(info, ReadWorker(tx, rows.Int(0, 0)));
    return absl::OkStatus();
  }));
  return info;
}

absl::StatusOr<WorkerInfo> PostgresStore::Heartbeat(int64_t worker_id) {
  WorkerInfo info;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_RETURN_IF_ERROR(tx.Query(kHeartbeat, Params().Add(worker_id)).status());
    PGQRS_ASSIGN_OR_RETURN(info, ReadWorker(tx, worker_id));
    return absl::OkStatus();
  }));
  return info;
}

absl::StatusOr<WorkerInfo> PostgresStore::MoveWorker(int64_t worker_id, WorkerMove move) {
  WorkerInfo info;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kLockWorker, Params().Add(worker_id)));
    if (rows.size() == 0) {
      return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
    }
    std::optional<WorkerStatus> to = Move(static_cast<WorkerStatus>(rows.Int(0, 0)), move);
    if (!to.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot ", MoveName(move), " worker ", worker_id, " in its status"));
    }
    PGQRS_RETURN_IF_ERROR(
        tx.Query(kSetStatus, Params().Add(worker_id).Add(int64_t{static_cast<int>(*to)})).status());
    PGQRS_ASSIGN_OR_RETURN(info, ReadWorker(tx, worker_id));
    return absl::OkStatus();
  }));
  return info;
}

absl::StatusOr<std::pair<int64_t, std::vector<std::string>>> PostgresStore::ReleaseLeases(
    Tx& tx, const std::vector<int64_t>& worker_ids) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kReleaseLeases, Params().AddArray(worker_ids)));
  std::set<std::string> queues;
  for (int i = 0; i < rows.size(); ++i) {
    if (rows.Int(i, 1) == 0) queues.insert(rows.Text(i, 0));
  }
  for (const std::string& queue : queues) PGQRS_RETURN_IF_ERROR(Notify(tx, queue));
  return std::make_pair(static_cast<int64_t>(rows.size()),
                        std::vector<std::string>(queues.begin(), queues.end()));
}

absl::StatusOr<WorkerInfo> PostgresStore::ShutdownWorker(int64_t worker_id, bool release_messages) {
  WorkerInfo info;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kLockWorker, Params().Add(worker_id)));
    if (rows.size() == 0) {
      return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
    }
    if (rows.Int(0, 0) == kStopped) {
      return absl::FailedPreconditionError(absl::StrCat("worker ", worker_id, " is stopped"));
    }
    if (!release_messages) {
      PGQRS_ASSIGN_OR_RETURN(Rows held, tx.Query(kHoldsLeases, Params().Add(worker_id)));
      if (held.Int(0, 0) > 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("worker ", worker_id, " holds ", held.Int(0, 0), " leases; release them"));
      }
    }
    PGQRS_RETURN_IF_ERROR(ReleaseLeases(tx, {worker_id}).status());
    PGQRS_RETURN_IF_ERROR(tx.Query(kStopWorker, Params().Add(worker_id)).status());
    PGQRS_ASSIGN_OR_RETURN(info, ReadWorker(tx, worker_id));
    return absl::OkStatus();
  }));
  return info;
}

absl::StatusOr<WorkerInfo> PostgresStore::GetWorker(int64_t worker_id) {
  WorkerInfo info;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(info, ReadWorker(tx, worker_id));
    return absl::OkStatus();
  }));
  return info;
}

absl::StatusOr<std::vector<WorkerInfo>> PostgresStore::ListWorkers(const WorkerFilter& filter) {
  std::vector<WorkerInfo> workers;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    workers.clear();
    Params params;
    params.Add(filter.queue);
    if (filter.status.has_value()) {
      params.Add(int64_t{static_cast<int>(*filter.status)});
    } else {
      params.AddNull();
    }
    params.Add(filter.after_id).Add(int64_t{filter.limit});
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kListWorkers, params));
    for (int i = 0; i < rows.size(); ++i) workers.push_back(ReadWorkerInfo(rows, i));
    return absl::OkStatus();
  }));
  return workers;
}

absl::StatusOr<ReclaimReport> PostgresStore::ReclaimWorkers(const std::string& queue,
                                                            absl::Duration older_than) {
  ReclaimReport report;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    report = ReclaimReport();
    Params params;
    params.Add(older_than).Add(queue);
    PGQRS_ASSIGN_OR_RETURN(Rows stopped, tx.Query(kReclaim, params));
    std::vector<int64_t> ids;
    for (int i = 0; i < stopped.size(); ++i) ids.push_back(stopped.Int(i, 0));
    report.workers_stopped = static_cast<int64_t>(ids.size());
    if (ids.empty()) return absl::OkStatus();
    PGQRS_ASSIGN_OR_RETURN(auto released, ReleaseLeases(tx, ids));
    report.messages_released = released.first;
    report.queues_with_released = std::move(released.second);
    return absl::OkStatus();
  }));
  return report;
}

absl::StatusOr<ReapReport> PostgresStore::ReapMessages(absl::Duration archive_retention,
                                                       int32_t batch) {
  ReapReport report;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    report = ReapReport();
    PGQRS_ASSIGN_OR_RETURN(Rows expired, tx.Query(kExpireLeases, Params().Add(int64_t{batch})));
    std::set<std::string> visible;
    for (int i = 0; i < expired.size(); ++i) {
      if (expired.Int(i, 1) == 1) {
        ++report.dead_lettered;
      } else {
        visible.insert(expired.Text(i, 0));
      }
    }
    report.leases_expired = expired.size();
    for (const std::string& q : visible) PGQRS_RETURN_IF_ERROR(Notify(tx, q));
    PGQRS_ASSIGN_OR_RETURN(
        Rows deleted,
        tx.Query(kDeleteArchived, Params().Add(archive_retention).Add(int64_t{batch})));
    report.archived_deleted = deleted.Affected();
    report.more = report.leases_expired == batch || report.archived_deleted == batch;
    return absl::OkStatus();
  }));
  return report;
}

absl::StatusOr<std::vector<std::string>> PostgresStore::QueuesWithVisibleMessages(
    std::span<const std::string> queues) {
  if (queues.size() > kMaxBatch) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxBatch, " queues"));
  }
  std::vector<std::optional<std::string>> names(queues.begin(), queues.end());
  std::vector<std::string> visible;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    visible.clear();
    if (names.empty()) return absl::OkStatus();
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kVisibleQueues, Params().AddArray(names)));
    std::set<std::string> found;
    for (int i = 0; i < rows.size(); ++i) found.insert(rows.Text(i, 0));
    for (const auto& name : names) {  // request order
      if (found.contains(*name)) visible.push_back(*name);
    }
    return absl::OkStatus();
  }));
  return visible;
}

}  // namespace pgqrs::storage::pg
