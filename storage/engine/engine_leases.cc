// EngineStore: the calls that act on a lease (ack, delete, nack, extend) and the ways a
// lease ends without one (expiry, worker release).
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"

namespace pgqrs::storage::enginestore {
namespace {

// The outcome of `lease` on message row `m`, looked up in queue `queue_id`.
LeaseOutcome CheckLease(const Row& m, int64_t queue_id, const Lease& lease, int64_t now) {
  if (Int(m, msg::kQueueId) != queue_id) return LeaseOutcome::kNotFound;
  bool valid = Int(m, msg::kState) == kLive && Int(m, msg::kVt) > now &&
               OptInt(m, msg::kLeaseToken) == lease.token;
  return valid ? LeaseOutcome::kOk : LeaseOutcome::kLeaseLost;
}

// Queue rows by id, looked up once per call.
class QueueCache {
 public:
  explicit QueueCache(Transaction& txn) : txn_(txn) {}
  absl::StatusOr<QueueRow> Get(int64_t queue_id) {
    auto it = cache_.find(queue_id);
    if (it != cache_.end()) return it->second;
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, QueueById(txn_, queue_id));
    cache_[queue_id] = q;
    return q;
  }

 private:
  Transaction& txn_;
  std::map<int64_t, QueueRow> cache_;
};

}  // namespace

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::ApplyToLeases(TriggerQueue trigger,
                                                                     const std::string& queue,
                                                                     std::span<const Lease> leases,
                                                                     const LeaseEdit& edit) {
  std::vector<LeaseOutcome> outcomes;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    outcomes.clear();
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, trigger == TriggerQueue::kAllow ? FindQueue(txn, queue)
                                                                       : PlainQueue(txn, queue));
    int64_t now = NowMicros();
    for (const Lease& lease : leases) {
      LeaseOutcome outcome = LeaseOutcome::kNotFound;
      PGQRS_RETURN_IF_ERROR(txn.Modify(kMessages, lease.message_id,
                                       [&](Row& m) {
                                         outcome = CheckLease(m, q.id, lease, now);
                                         if (outcome == LeaseOutcome::kOk && edit) edit(q, m, now);
                                         return absl::OkStatus();
                                       })
                                .status());
      if (outcome == LeaseOutcome::kOk && !edit) {
        PGQRS_RETURN_IF_ERROR(txn.Delete(kMessages, lease.message_id).status());
      }
      outcomes.push_back(outcome);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return outcomes;
}

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::Ack(const std::string& queue,
                                                           std::span<const Lease> leases) {
  return ApplyToLeases(TriggerQueue::kRefuse, queue, leases,
                       [](const QueueRow&, Row& m, int64_t now) {
                         ClearLease(m);
                         m[msg::kState] = Value::Integer(kArchived);
                         m[msg::kArchivedAt] = Value::Integer(now);
                         m[msg::kDedupKey] = Value::Null();
                       });
}

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::Delete(const std::string& queue,
                                                              std::span<const Lease> leases) {
  return ApplyToLeases(TriggerQueue::kRefuse, queue, leases, /*edit=*/nullptr);
}

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::Nack(const std::string& queue,
                                                            std::span<const Lease> leases,
                                                            absl::Duration delay) {
  return ApplyToLeases(TriggerQueue::kRefuse, queue, leases,
                       [delay](const QueueRow& q, Row& m, int64_t now) {
                         ClearLease(m);
                         if (Int(m, msg::kReadCt) >= q.max_read_count) {
                           m[msg::kState] = Value::Integer(kDead);
                           m[msg::kVt] = Value::Integer(now);
                         } else {
                           m[msg::kVt] = Value::Integer(now + ToMicros(delay));
                         }
                       });
}

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::ExtendVisibility(
    const std::string& queue, std::span<const Lease> leases, absl::Duration timeout) {
  return ApplyToLeases(TriggerQueue::kRefuse, queue, leases,
                       [timeout](const QueueRow&, Row& m, int64_t now) {
                         m[msg::kVt] = Value::Integer(now + ToMicros(timeout));
                       });
}

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::ReturnLeases(const std::string& queue,
                                                                    std::span<const Lease> leases) {
  return ApplyToLeases(
      TriggerQueue::kAllow, queue, leases, [](const QueueRow&, Row& m, int64_t now) {
        ClearLease(m);
        m[msg::kVt] = Value::Integer(now);
        m[msg::kReadCt] = Value::Integer(std::max<int64_t>(Int(m, msg::kReadCt) - 1, 0));
      });
}

namespace {

// Ids of leased messages whose lease expired by `now`, oldest expiry first; at most
// `limit` of them (all when limit is 0).
absl::StatusOr<std::vector<int64_t>> ExpiredLeaseIds(Transaction& txn, int64_t now, int64_t limit) {
  engine::IndexRange range;
  range.upper = engine::IndexBound{{Value::Integer(now)}, /*inclusive=*/true};
  PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanIndex(kMessagesLeases, range));
  std::vector<int64_t> ids;
  while (it->Valid() && (limit == 0 || static_cast<int64_t>(ids.size()) < limit)) {
    ids.push_back(it->rowid());
    PGQRS_RETURN_IF_ERROR(it->Next());
  }
  return ids;
}

// Ends the lease of each message in `ids` (of queue `queue_id` only, unless 0). Returns
// {expired, dead}.
absl::StatusOr<std::pair<int64_t, int64_t>> ExpireByIds(Transaction& txn,
                                                        std::span<const int64_t> ids,
                                                        int64_t queue_id) {
  QueueCache queues(txn);
  int64_t expired = 0, dead = 0;
  for (int64_t id : ids) {
    PGQRS_RETURN_IF_ERROR(EditRow(txn, kMessages, id, "message", [&](Row& m) -> absl::Status {
      if (queue_id != 0 && Int(m, msg::kQueueId) != queue_id) return absl::OkStatus();
      PGQRS_ASSIGN_OR_RETURN(QueueRow q, queues.Get(Int(m, msg::kQueueId)));
      bool to_dead = Int(m, msg::kReadCt) >= q.max_read_count;
      ClearLease(m);
      if (to_dead) m[msg::kState] = Value::Integer(kDead);
      ++expired;
      dead += to_dead;
      return absl::OkStatus();
    }));
  }
  return std::make_pair(expired, dead);
}

}  // namespace

absl::Status ExpireQueueLeases(Transaction& txn, int64_t queue_id, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> ids, ExpiredLeaseIds(txn, now, /*limit=*/0));
  return ExpireByIds(txn, ids, queue_id).status();
}

absl::StatusOr<ExpiredBatch> ExpireLeaseBatch(Transaction& txn, int64_t now, int64_t limit) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> ids, ExpiredLeaseIds(txn, now, limit));
  PGQRS_ASSIGN_OR_RETURN(auto counts, ExpireByIds(txn, ids, /*queue_id=*/0));
  return ExpiredBatch{counts.first, counts.second, static_cast<int64_t>(ids.size()) == limit};
}

absl::StatusOr<Released> ReleaseWorkerLeases(Transaction& txn, int64_t worker_id, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(auto ids,
                         RowidsWithPrefix(txn, kMessagesConsumer, {Value::Integer(worker_id)}));
  QueueCache queues(txn);
  std::set<std::string> names;
  for (int64_t id : ids) {
    PGQRS_RETURN_IF_ERROR(EditRow(txn, kMessages, id, "message", [&](Row& m) -> absl::Status {
      PGQRS_ASSIGN_OR_RETURN(QueueRow q, queues.Get(Int(m, msg::kQueueId)));
      names.insert(q.name);
      ClearLease(m);
      m[msg::kVt] = Value::Integer(now);
      m[msg::kState] = Value::Integer(Int(m, msg::kReadCt) >= q.max_read_count ? kDead : kLive);
      return absl::OkStatus();
    }));
  }
  return Released{static_cast<int64_t>(ids.size()), {names.begin(), names.end()}};
}

}  // namespace pgqrs::storage::enginestore
