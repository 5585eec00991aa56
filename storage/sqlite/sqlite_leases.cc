// SqliteStore: the calls that act on a lease (ack, delete, nack, extend) and the ways a
// lease ends without one (expiry, worker release).
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/sqlite/sqlite_store_impl.h"

namespace pgqrs::storage::sqlite {
namespace {

// Checks one lease. On kOk also returns the message's read count.
absl::StatusOr<std::pair<LeaseOutcome, int64_t>> CheckLease(Connection& db, int64_t queue_id,
                                                            const Lease& lease, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(Statement * st,
                         db.Prepare("SELECT queue_id, state, vt, lease_token, read_ct "
                                    "FROM pgqrs_messages WHERE id = ?"));
  st->BindAll(lease.message_id);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found || st->Int(0) != queue_id) {
    st->Reset();
    return std::make_pair(LeaseOutcome::kNotFound, int64_t{0});
  }
  bool valid =
      st->Int(1) == kLive && st->Int(2) > now && !st->IsNull(3) && st->Int(3) == lease.token;
  int64_t read_ct = st->Int(4);
  st->Reset();
  return std::make_pair(valid ? LeaseOutcome::kOk : LeaseOutcome::kLeaseLost, read_ct);
}

}  // namespace

absl::StatusOr<std::vector<LeaseOutcome>> SqliteStore::ApplyToLeases(TriggerQueue trigger,
                                                                     const std::string& queue,
                                                                     std::span<const Lease> leases,
                                                                     const LeaseChange& change) {
  std::vector<LeaseOutcome> outcomes;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    outcomes.clear();
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, trigger == TriggerQueue::kAllow ? FindQueue(db, queue)
                                                                       : FindPlainQueue(db, queue));
    int64_t now = NowMicros();
    for (const Lease& lease : leases) {
      PGQRS_ASSIGN_OR_RETURN(auto checked, CheckLease(db, q.id, lease, now));
      if (checked.first == LeaseOutcome::kOk) {
        PGQRS_RETURN_IF_ERROR(change(db, q, lease, checked.second, now));
      }
      outcomes.push_back(checked.first);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return outcomes;
}

absl::StatusOr<std::vector<LeaseOutcome>> SqliteStore::Ack(const std::string& queue,
                                                           std::span<const Lease> leases) {
  return ApplyToLeases(
      TriggerQueue::kRefuse, queue, leases,
      [](Connection& db, const QueueRow&, const Lease& lease, int64_t, int64_t now) {
        return db.Run(
            "UPDATE pgqrs_messages SET state = 2, archived_at = ?1, "
            "lease_token = NULL, consumer_worker_id = NULL, "
            "dedup_key = NULL WHERE id = ?2",
            now, lease.message_id);
      });
}

absl::StatusOr<std::vector<LeaseOutcome>> SqliteStore::Delete(const std::string& queue,
                                                              std::span<const Lease> leases) {
  return ApplyToLeases(TriggerQueue::kRefuse, queue, leases,
                       [](Connection& db, const QueueRow&, const Lease& lease, int64_t, int64_t) {
                         PGQRS_ASSIGN_OR_RETURN(
                             Statement * st, db.Prepare("DELETE FROM pgqrs_messages WHERE id = ?"));
                         st->BindAll(lease.message_id);
                         return st->Run();
                       });
}

absl::StatusOr<std::vector<LeaseOutcome>> SqliteStore::Nack(const std::string& queue,
                                                            std::span<const Lease> leases,
                                                            absl::Duration delay) {
  return ApplyToLeases(
      TriggerQueue::kRefuse, queue, leases,
      [delay](Connection& db, const QueueRow& q, const Lease& lease, int64_t read_ct, int64_t now) {
        if (read_ct >= q.max_read_count) {
          return db.Run(
              "UPDATE pgqrs_messages SET state = 1, vt = ?1, lease_token = NULL, "
              "consumer_worker_id = NULL WHERE id = ?2",
              now, lease.message_id);
        }
        return db.Run(
            "UPDATE pgqrs_messages SET vt = ?1, lease_token = NULL, "
            "consumer_worker_id = NULL WHERE id = ?2",
            now + ToMicros(delay), lease.message_id);
      });
}

absl::StatusOr<std::vector<LeaseOutcome>> SqliteStore::ExtendVisibility(
    const std::string& queue, std::span<const Lease> leases, absl::Duration timeout) {
  return ApplyToLeases(
      TriggerQueue::kRefuse, queue, leases,
      [timeout](Connection& db, const QueueRow&, const Lease& lease, int64_t, int64_t now) {
        return db.Run("UPDATE pgqrs_messages SET vt = ?1 WHERE id = ?2", now + ToMicros(timeout),
                      lease.message_id);
      });
}

absl::StatusOr<std::vector<LeaseOutcome>> SqliteStore::ReturnLeases(const std::string& queue,
                                                                    std::span<const Lease> leases) {
  return ApplyToLeases(
      TriggerQueue::kAllow, queue, leases,
      [](Connection& db, const QueueRow&, const Lease& lease, int64_t, int64_t now) {
        return db.Run(
            "UPDATE pgqrs_messages SET vt = ?1, lease_token = NULL, "
            "consumer_worker_id = NULL, "
            "read_ct = MAX(read_ct - 1, 0) WHERE id = ?2",
            now, lease.message_id);
      });
}

absl::Status ExpireQueueLeases(Connection& db, int64_t queue_id, int64_t now) {
  // Dead first: the second statement clears the lease that marks them.
  PGQRS_RETURN_IF_ERROR(
      db.Run("UPDATE pgqrs_messages SET state = 1, lease_token = NULL, consumer_worker_id = NULL "
             "WHERE lease_token IS NOT NULL AND vt <= ?1 AND queue_id = ?2 AND read_ct >= "
             "(SELECT max_read_count FROM pgqrs_queues q WHERE q.id = queue_id)",
             now, queue_id));
  return db.Run(
      "UPDATE pgqrs_messages SET lease_token = NULL, consumer_worker_id = NULL "
      "WHERE lease_token IS NOT NULL AND vt <= ?1 AND queue_id = ?2",
      now, queue_id);
}

absl::StatusOr<ExpiredBatch> ExpireLeaseBatch(Connection& db, int64_t now, int64_t limit) {
  // The subquery walks pgqrs_messages_leases (leased rows by expiry) and stops at `limit`.
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("UPDATE pgqrs_messages SET lease_token = NULL, consumer_worker_id = NULL, "
                 "state = CASE WHEN read_ct >= (SELECT max_read_count FROM pgqrs_queues q "
                 "WHERE q.id = queue_id) THEN 1 ELSE state END "
                 "WHERE id IN (SELECT id FROM pgqrs_messages WHERE lease_token IS NOT NULL "
                 "AND vt <= ?1 ORDER BY vt LIMIT ?2) RETURNING state"));
  st->BindAll(now, limit);
  ExpiredBatch batch;
  while (true) {
    PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    ++batch.expired;
    batch.dead += st->Int(0) == kDead;
  }
  batch.more = batch.expired == limit;
  return batch;
}

absl::StatusOr<std::vector<std::string>> ReleaseWorkerLeases(Connection& db, int64_t worker_id,
                                                             int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(
      Statement * queues,
      db.Prepare("SELECT DISTINCT q.queue_name FROM pgqrs_messages m JOIN pgqrs_queues q "
                 "ON q.id = m.queue_id WHERE m.consumer_worker_id = ?"));
  queues->BindAll(worker_id);
  std::vector<std::string> names;
  while (true) {
    PGQRS_ASSIGN_OR_RETURN(bool row, queues->Step());
    if (!row) break;
    names.push_back(queues->Text(0));
  }
  PGQRS_RETURN_IF_ERROR(
      db.Run("UPDATE pgqrs_messages SET vt = ?1, lease_token = NULL, consumer_worker_id = NULL, "
             "state = CASE WHEN read_ct >= (SELECT max_read_count FROM pgqrs_queues q "
             "WHERE q.id = queue_id) THEN 1 ELSE 0 END WHERE consumer_worker_id = ?2",
             now, worker_id));
  return names;
}

}  // namespace pgqrs::storage::sqlite
